"""ref.kernels: the Triton stubs let a record's kernel definitions execute, and each kernel
stand-in computes what its kernel computes, checked against a float64 reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ref import kernels
from ref.extract import execute

KERNEL_SOURCE = '''
import triton
import triton.language as tl

def _configs():
    return [triton.Config({"BLOCK_SIZE_M": bm}, num_stages=3, num_warps=4) for bm in (64, 128)]

@triton.autotune(configs=_configs(), key=["M"])
@triton.jit
def ns_line_1_kernel(A_ptr, M, BLOCK_SIZE_M: tl.constexpr):
    pass

def ns_line_1(A, out):
    grid = lambda meta: (triton.cdiv(A.size(-2), meta["BLOCK_SIZE_M"]),)
    ns_line_1_kernel[grid](A, A.size(-2))
    return out

def other_wrapper(A):
    ns_line_1_kernel[(1,)](A, A.size(-2))
'''


def _module():
    return execute(KERNEL_SOURCE, "<kernels>", namespace=dict(kernels.NAMESPACE))


def test_kernel_definitions_execute_and_wrappers_get_stand_ins():
    m = _module()
    assert kernels.install(m) == ["ns_line_1"]
    A = torch.randn(2, 8, 5)
    out = torch.empty(2, 8, 8)
    assert m.ns_line_1(A, out) is out
    torch.testing.assert_close(out, A @ A.mT)


def test_launching_a_kernel_without_stand_in_names_it():
    m = _module()
    with pytest.raises(RuntimeError, match="ns_line_1_kernel"):
        m.other_wrapper(torch.randn(4, 4))


def _bf16_ulp_bound(exact: np.ndarray) -> np.ndarray:
    """Half a bf16 ulp of each value (one rounding), plus fp32 accumulation slack."""
    return np.abs(exact) * 2.0**-8 + 1e-6 * np.abs(exact).max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("batched", [False, True])
def test_ns_lines_round_once_from_fp32(dtype, batched):
    """`ns_line_1` = A A^T and `ns_line_2` = alpha A A^T + beta A, accumulated and combined in
    fp32 and rounded once into `out`'s dtype: within half an ulp of the float64 result (fp32:
    1e-6 relative, the accumulation's rounding)."""
    g = torch.Generator().manual_seed(0)
    shape = (3, 24, 40) if batched else (24, 40)
    A = (torch.randn(*shape, generator=g) / 8).to(dtype)
    a64 = A.double()
    AAt = torch.empty(*shape[:-1], shape[-2], dtype=dtype)
    kernels.ns_line_1(A, out=AAt)
    exact = (a64 @ a64.mT).numpy()
    err = np.abs(AAt.double().numpy() - exact)
    bound = _bf16_ulp_bound(exact) if dtype == torch.bfloat16 else 1e-6 * np.abs(exact).max()
    assert (err <= bound).all()

    S = AAt  # square, as Newton-Schulz's second line takes it
    B = torch.empty_like(S)
    alpha, beta = 2.0315, -4.7750
    kernels.ns_line_2(S, alpha=alpha, beta=beta, out=B)
    s64 = S.double()
    exact = (alpha * (s64 @ s64.mT) + beta * s64).numpy()
    err = np.abs(B.double().numpy() - exact)
    bound = _bf16_ulp_bound(exact) if dtype == torch.bfloat16 else 1e-6 * np.abs(exact).max()
    assert (err <= bound).all()
    if dtype == torch.bfloat16:  # one rounding, not three: rounding each term first is worse
        three = (alpha * (S.float() @ S.float().mT)).bfloat16().float() + (beta * S.float()).bfloat16().float()
        assert not torch.equal(three.bfloat16(), B)
