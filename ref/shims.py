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


class DistStub:
    """`torch.distributed` for one process playing every rank: rank 0 of `world_size`, and
    collectives that leave tensors as they are (a sum over one process)."""

    class ReduceOp:
        SUM, AVG, MAX = "sum", "avg", "max"

    def __init__(self, world_size: int = 1, rank: int = 0):
        self.world_size, self.rank = world_size, rank

    def get_rank(self) -> int:
        return self.rank

    def get_world_size(self) -> int:
        return self.world_size

    def is_initialized(self) -> bool:
        return True

    def all_reduce(self, tensor, op=None, async_op=False):
        if self.world_size != 1:
            raise RuntimeError("DistStub only stands in for a single process (world size 1)")
        return None


class TorchProxy:
    """The `torch` module as upstream optimizers see it on a CPU: `torch.zeros(..., device='cuda')`
    (the flat update buffer of #6+ Muon) is made on the CPU, in `buffer_dtype` when set (fp32
    parity: the bf16 buffer becomes fp32). Everything else is torch itself."""

    def __init__(self, real):
        self._real = real
        self.buffer_dtype = None

    def __getattr__(self, name):
        return getattr(self._real, name)

    def zeros(self, *size, device=None, dtype=None, **kwargs):
        if device is not None and "cuda" in str(device):
            device = None
            if self.buffer_dtype is not None and dtype is not None and dtype.is_floating_point:
                dtype = self.buffer_dtype
        return self._real.zeros(*size, device=device, dtype=dtype, **kwargs)


class FunctionalProxy:
    """`torch.nn.functional` with `cross_entropy` replaced (to read the logits it is given)."""

    def __init__(self, cross_entropy):
        self.cross_entropy = cross_entropy

    def __getattr__(self, name):
        import torch.nn.functional as F

        return getattr(F, name)


@contextlib.contextmanager
def single_process() -> Iterator[None]:
    """RANK=0, WORLD_SIZE=1 in the environment (#8+ Muon reads them in `step`)."""
    import os

    saved = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE")}
    os.environ["RANK"], os.environ["WORLD_SIZE"] = "0", "1"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
