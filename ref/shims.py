"""CPU stand-ins and precision controls for running upstream code on a CPU-only machine.

Records #1-#4 need no stand-in to build and run their model and optimizer (their CUDA-only
pieces are all in the dropped top level: `init_process_group`, `.cuda()`, DDP, torch.compile).
What they need is control over precision: `fp32_newton_schulz` runs upstream's bf16
Newton-Schulz in fp32 for fp32 parity, and `accurate_norms` stands in for CUDA's accurate norm
reductions, which torch's CPU kernels do not match at large sizes.
"""

from __future__ import annotations

import contextlib
import io
from typing import Iterator

import torch


@contextlib.contextmanager
def fp32_newton_schulz() -> Iterator[None]:
    """Within the block, `tensor.bfloat16()` returns the tensor unchanged.

    Records #3-#37 orthogonalise with `X = G.bfloat16() / ...`, the only `.bfloat16()` call in
    their optimizer step. fp32 parity compares the algorithm with both sides in fp32; the bf16
    path is compared separately at record precision.
    """
    original = torch.Tensor.bfloat16
    torch.Tensor.bfloat16 = lambda self, *a, **k: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.bfloat16 = original  # type: ignore[method-assign]


@contextlib.contextmanager
def accurate_norms() -> Iterator[None]:
    """Within the block, 2-norms of float32 tensors are summed in float64, then rounded.

    torch's CPU fp32 norm accumulates in too few partial sums: measured relative error 4e-5 at
    768x3072 elements and 2.7e-3 at 50257x768 (torch 2.13, 2 cores), where a CUDA tree reduction
    errs ~1e-7. Upstream calls norms in `clip_grad_norm_` (llm.c), the record #2 gradient
    normalisation and Newton-Schulz's `G.norm()`; at full size the CPU error alone would move
    the reference's updates by 1e-4..1e-3. The value computed is the same function, rounded once.
    """
    tensor_norm, vector_norm, foreach_norm = torch.Tensor.norm, torch.linalg.vector_norm, torch._foreach_norm

    def is_plain_fp32(t, p=2, kwargs=None) -> bool:
        return t.dtype == torch.float32 and p in (2, 2.0, "fro", None) and not kwargs

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        if dim is None and dtype is None and is_plain_fp32(self, p):
            return tensor_norm(self.double()).float()
        return tensor_norm(self, p, dim, keepdim, dtype=dtype)

    def linalg_vector_norm(x, ord=2, *args, **kwargs):
        if not args and is_plain_fp32(x, ord, kwargs):
            return vector_norm(x.double(), ord).float()
        return vector_norm(x, ord, *args, **kwargs)

    def foreach(tensors, ord=2, *args, **kwargs):
        if not args and not kwargs and all(is_plain_fp32(t, ord) for t in tensors):
            return [vector_norm(t.double(), ord).float() for t in tensors]
        return foreach_norm(tensors, ord, *args, **kwargs)

    torch.Tensor.norm, torch.linalg.vector_norm, torch._foreach_norm = norm, linalg_vector_norm, foreach
    try:
        yield
    finally:
        torch.Tensor.norm, torch.linalg.vector_norm, torch._foreach_norm = tensor_norm, vector_norm, foreach_norm


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Swallow upstream's progress prints (llm.c's configure_optimizers prints group sizes)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
