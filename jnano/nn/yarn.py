"""YaRN window extension (record #31 "Dynamically incorporate YaRN", 2025-09-10, on).

Each time the scheduled window grows from `old` to `new` blocks, upstream rescales its RoPE
frequencies in place (`GPT.apply_yarn`) and the attention scale steps up (`setup_yarn`):

    rotations = 128 * old * w / (2 pi)
    ramp      = clamp((rotations - 1) / (32 - 1), 0, 1)
    w        *= old / new + ramp * (1 - old / new)
    scale     = 0.1 * prod(0.2 * ln(new / old) + 1)   over the changes so far

The windows only ever grow, in the order of `args.ws_schedule` then the final validation's
`ws_validate`, so the frequencies and the scale are functions of the current window: computed
here on the host, in upstream's fp32 order of operations (numpy float32 ops round like torch's
CPU tensor-scalar ops: the Python scalar is cast to fp32 first), and looked up by the traced
window inside the model.
"""

from __future__ import annotations

import math
from itertools import accumulate

import numpy as np

BLOCK = 128
ALPHA, BETA = 1, 32


def window_order(schedule: tuple[int, ...], validate: int) -> tuple[int, ...]:
    """`dict.fromkeys(ws_schedule + [ws_validate])`: the windows in the order the run meets them."""
    return tuple(dict.fromkeys((*schedule, validate)))


def apply_yarn(freqs: np.ndarray, old: int, new: int) -> np.ndarray:
    """One `apply_yarn(old, new)` on fp32 angular frequencies."""
    f32 = np.float32
    rotations = (f32(BLOCK * old) * freqs) / f32(2 * math.pi)
    ramp = np.clip((rotations - f32(ALPHA)) / f32(BETA - ALPHA), f32(0), f32(1))
    s = old / new  # a Python double, as upstream's `scaling_factor`
    return (freqs * ((ramp * f32(1 - s)) + f32(s))).astype(f32)


def frequencies_by_window(base: np.ndarray, windows: tuple[int, ...]) -> np.ndarray:
    """(len(windows), half) fp32: the frequencies in force while each window is current."""
    out, freqs = [base.astype(np.float32)], base.astype(np.float32)
    for old, new in zip(windows[:-1], windows[1:]):
        freqs = apply_yarn(freqs, old, new)
        out.append(freqs)
    return np.stack(out)


def attention_scales(windows: tuple[int, ...], start: float = 0.1) -> tuple[float, ...]:
    """`accumulate([0.1] + [0.2 * log(new / old) + 1, ...], mul)`, Python doubles."""
    factors = [0.2 * math.log(curr / prev) + 1 for prev, curr in zip(windows[:-1], windows[1:])]
    return tuple(accumulate([start] + factors, lambda acc, factor: acc * factor))


__all__ = ["apply_yarn", "attention_scales", "frequencies_by_window", "window_order"]
