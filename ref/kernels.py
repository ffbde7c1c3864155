"""CPU stand-ins for upstream's Triton kernels (record #27 on).

A record file defines its kernels at module level (`@triton.autotune(...) @triton.jit def ...`)
and launches them from small Python wrappers. On the CPU there is no Triton, so:

- `NAMESPACE` binds `triton` and `triton.language` (as `tl`) to stubs that let those
  definitions execute (decorators, `triton.Config`, `tl.constexpr` annotations); launching a
  kernel raises and names it.
- `install(module)` replaces each wrapper the record defines by a torch function computing what
  the kernel computes, in the kernel's precision: products of the inputs, accumulated in fp32
  (`tl.dot`'s accumulator), combined in fp32, rounded once to the output's dtype.
  tests/test_ref_kernels.py checks each against a dense reference.
"""

from __future__ import annotations

from types import ModuleType
from typing import Callable

import torch


class _Kernel:
    def __init__(self, fn: Callable):
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "kernel")

    def __getitem__(self, grid):
        raise RuntimeError(f"Triton kernel {self.__name__} cannot run on the CPU and the reference has no "
                           "stand-in for the wrapper that launched it (ref/kernels.py)")


def _decorator_or_factory(*args, **kwargs):
    """`@triton.jit` and `@triton.jit(...)` alike."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return _Kernel(args[0])
    return lambda fn: _Kernel(fn)


class _Config:
    def __init__(self, *positional, **options):
        self.positional, self.options = positional, options


def _stub_language() -> ModuleType:
    tl = ModuleType("triton.language")

    class constexpr:  # noqa: N801 - upstream's annotation `tl.constexpr`
        pass

    tl.constexpr = constexpr
    tl.float32, tl.bfloat16, tl.float16, tl.int32, tl.int64 = (object() for _ in range(5))
    return tl


def _stub_triton(language: ModuleType) -> ModuleType:
    triton = ModuleType("triton")
    triton.__version__ = "cpu-stand-in"
    triton.jit = _decorator_or_factory
    triton.heuristics = lambda *a, **k: (lambda fn: fn)
    triton.autotune = lambda *a, **k: (lambda fn: fn)
    triton.Config = _Config
    triton.cdiv = lambda a, b: -(-a // b)
    triton.next_power_of_2 = lambda n: 1 << max(int(n) - 1, 0).bit_length()
    triton.language = language
    return triton


_TL = _stub_language()
NAMESPACE = {"triton": _stub_triton(_TL), "tl": _TL}


def _f32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32)


def ns_line_1(A: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """#27 `ns_line_1_kernel`: `out = A @ A^T` (batched over a leading axis)."""
    a = _f32(A)
    out.copy_(a @ a.mT)
    return out


def ns_line_2(A: torch.Tensor, alpha: float, beta: float, out: torch.Tensor) -> torch.Tensor:
    """#27 `ns_line_2_kernel`: `out = alpha * (A @ A^T) + beta * A` for square A, in fp32."""
    a = _f32(A)
    out.copy_(alpha * (a @ a.mT) + beta * a)
    return out


# #38 renames the two wrappers (`XXT`, `ba_plus_cAA`): the same kernels
STAND_INS: dict[str, Callable] = {"ns_line_1": ns_line_1, "ns_line_2": ns_line_2, "XXT": ns_line_1,
                                  "ba_plus_cAA": ns_line_2}


def install(module: ModuleType) -> list[str]:
    """Bind the stand-in of every kernel wrapper `module` defines; returns their names."""
    names = [n for n in STAND_INS if n in vars(module)]
    for n in names:
        setattr(module, n, STAND_INS[n])
    return names


__all__ = ["NAMESPACE", "STAND_INS", "install", "ns_line_1", "ns_line_2"]
