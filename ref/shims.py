"""CPU stand-ins and precision controls for running upstream code on a CPU-only machine.

Records #1-#4 need no stand-in to build and run their model and optimizer (their CUDA-only
pieces are all in the dropped top level: `init_process_group`, `.cuda()`, DDP, torch.compile).
What they need is control over precision: `fp32_newton_schulz` runs upstream's bf16
Newton-Schulz in fp32 for fp32 parity.
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
def quiet() -> Iterator[None]:
    """Swallow upstream's progress prints (llm.c's configure_optimizers prints group sizes)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
