"""CPU stand-in for #57's `cautious_wd_and_update_inplace(p, mantissa, grad, wd, lr)`.

Upstream runs it compiled: it joins a bf16 weight (viewed as uint16) and its uint16 mantissa
into a float32 master with uint32 shifts, which eager CPU torch does not implement. The stand-in
does the same in int64: master = (weight bits << 16) | mantissa, the cautious step on it in
float32 as upstream writes it, and the halves written back (the weight truncated, not rounded).
tests/test_ref_kernels.py checks it against a float32 restatement.
"""

from __future__ import annotations

import inspect
from types import ModuleType

import torch

NAME = "cautious_wd_and_update_inplace"


def cautious_wd_and_update_inplace(p: torch.Tensor, mantissa: torch.Tensor, grad: torch.Tensor,
                                   wd_tensor: torch.Tensor, lr_tensor: torch.Tensor) -> None:
    if not p.dtype == mantissa.dtype == torch.uint16:
        raise TypeError(f"weight and mantissa must be uint16 views, got {p.dtype} and {mantissa.dtype}")
    grad = grad.float()
    wd_factor, lr_factor = wd_tensor.to(torch.float32), lr_tensor.to(torch.float32)
    bits = (p.to(torch.int64) << 16) | mantissa.to(torch.int64)
    master = bits.to(torch.int32).view(torch.float32)  # (int64 -> int32 keeps the low 32 bits)
    mask = grad * master >= 0
    master = master - master * mask * wd_factor * lr_factor - grad * lr_factor
    bits = master.view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    p.copy_((bits >> 16).to(torch.uint16))
    mantissa.copy_((bits & 0xFFFF).to(torch.uint16))


def _takes_mantissa(fn) -> bool:
    fn = getattr(fn, "_torchdynamo_orig_callable", fn)
    return callable(fn) and "mantissa" in inspect.signature(fn).parameters


def install(module: ModuleType) -> bool:
    """Bind the stand-in where the record's update takes a mantissa (#57 on; #48-#56's
    `cautious_wd_and_update_inplace(p, v, wd, lr)` is plain eager torch and stays): the
    module's function, or (#61 on) the static method `_cautious_wd_and_update_inplace` of the
    optimizer class."""
    found = False
    if _takes_mantissa(vars(module).get(NAME)):
        setattr(module, NAME, cautious_wd_and_update_inplace)
        found = True
    for cls in [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__]:
        attr = vars(cls).get("_" + NAME)
        if isinstance(attr, staticmethod) and _takes_mantissa(attr.__func__):
            setattr(cls, "_" + NAME, staticmethod(cautious_wd_and_update_inplace))
            found = True
    return found


__all__ = ["NAME", "cautious_wd_and_update_inplace", "install"]
