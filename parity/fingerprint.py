"""Compact, comparable summaries of tensors for the committed goldens.

A fingerprint holds a tensor's shape, norm and its projections on K fixed random-sign
directions (entries +-1, scaled by 1/sqrt(n)). For a tensor x and a candidate y,
`||P y - P x|| / ||P x||` estimates the relative error `||y - x|| / ||x||`: each projection of
the difference d has mean 0 and variance ||d||^2 / n (Rademacher directions estimate a norm as
Gaussian ones do, with a variance no larger), scaled like those of x. So a golden checks every
element of a gradient without storing it.

Format 2 (2026-11-25): signs are bits of the PCG64 stream (`rng.stream`), 64 per draw, which
costs a fraction of format 1's Box-Muller normals (the packed records spent a third of a golden
check drawing them).

Format 3 (2026-12-03): the tensor's mean is stored and the projections are of the tensor less
its mean. A large tensor's K directions are shifts of one sign vector, and a constant is
projected the same onto every shift: by `sum(signs) / sqrt(n)`, a single draw that can be
small (0.018-0.05 for the final logits' vector). For the softcapped logits (#18 on: all
positive, their mean dominating the norm) format 2 read the 10-step logits' error 20-55x too
high (#61: 2.4e-2 against 4.8e-4 live). The mean is now compared exactly and the centred rest
by projection.
"""

from __future__ import annotations

import hashlib

import numpy as np

from parity.rng import stream

FORMAT = 3  # what new goldens are written in
READABLE = (2, 3)  # what they may hold: format 2 goldens are checked as they were written
K = 16
# Above this many elements (the packed records' tables and logits, up to 512 x 50304) K sign
# vectors would cost K * n bits and K passes; each direction is then a shifted copy of one sign
# vector instead (`_shifted_projections`): still a projection that sees every element. (Every
# tensor of records #1-#11 at the CI shape is below it.)
LARGE = 1 << 16


# Row b: the 8 signs that byte b stands for, bit 0 first (one gather per byte is several times
# faster than widening every unpacked bit to float64 arithmetically)
_BYTE_SIGNS = 1.0 - 2.0 * np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little")


def _signs(name: str, count: int, n: int) -> np.ndarray:
    """(count, n) entries +-1.0 from the bits of `name`'s stream, little-endian within a word."""
    words = stream(0, f"fingerprint-signs/{name}").bit_generator.random_raw(-(-count * n // 64))
    signs = _BYTE_SIGNS[np.asarray(words, dtype="<u8").view(np.uint8)].reshape(-1)
    return signs[: count * n].reshape(count, n)


def _shifted_projections(name: str, flat: np.ndarray) -> np.ndarray:
    n = flat.size
    signs = _signs(name, 1, n)[0]
    out = []
    for k in range(K):  # np.roll(signs, s) @ flat, without the copy
        s = (7919 * k) % n
        out.append(np.dot(signs[: n - s], flat[s:]) + np.dot(signs[n - s:], flat[:s]))
    return np.array(out) / np.sqrt(n)


def _project(name: str, flat: np.ndarray) -> np.ndarray:
    if flat.size > LARGE:
        return _shifted_projections(name, flat)
    return _signs(name, K, flat.size) @ flat / np.sqrt(flat.size)


def fingerprint(name: str, x: np.ndarray, centred: bool = True) -> dict:
    """Shape, norm, mean and the projections of the tensor less its mean (`centred=False`:
    format 2, no mean, the tensor itself projected); a tensor with inf/NaN (the FP8 backward of
    #19/#20 at small batches) also records where they are, and is summarised over its finite
    entries."""
    flat = np.asarray(x, np.float64).ravel()
    out = {"shape": list(np.shape(x))}
    bad = ~np.isfinite(flat)
    if bad.any():
        out["nonfinite"] = {"count": int(bad.sum()), "sha256": hashlib.sha256(np.packbits(bad).tobytes()).hexdigest()}
        flat = np.where(bad, 0.0, flat)
    out["norm"] = float(np.linalg.norm(flat))
    if centred:
        out["mean"] = float(flat.mean()) if flat.size else 0.0
        flat = flat - out["mean"]
    out["proj"] = [float(v) for v in _project(name, flat)]
    return out


def relative_error(name: str, golden: dict, y: np.ndarray | dict, allowance: float = 0.0) -> float:
    """Estimated `(||y - x|| - allowance) / ||x||` of `y` (a tensor, or its fingerprint) against
    the tensor `x` that `golden` summarises (`allowance` as in `parity.checks.relative`)."""
    centred = "mean" in golden
    mine = y if isinstance(y, dict) else fingerprint(name, y, centred)
    if mine["shape"] != golden["shape"]:
        return float("inf")
    if mine.get("nonfinite") != golden.get("nonfinite"):
        return float("inf")  # inf/NaN elsewhere than upstream's
    p_gold, p_mine = np.array(golden["proj"]), np.array(mine["proj"])
    n = max(1, int(np.prod(golden["shape"])))
    # ||P d|| estimates ||d|| * ||P x|| / ||x||: rescale by the true norm of (the projected) x
    projected_norm = golden["norm"]
    if centred:
        projected_norm = np.sqrt(max(golden["norm"] ** 2 - n * golden["mean"] ** 2, 0.0))
    if np.linalg.norm(p_gold) and projected_norm:
        scale = projected_norm / np.linalg.norm(p_gold)
    else:
        scale = np.sqrt(n / len(p_gold))
    # The allowance (a norm in the tensor's units) goes through the same estimate as the
    # difference it discounts: P takes a vector of norm a to one of norm ~ a sqrt(K / n), exactly
    # for a single entry (a mask entry decided by rounding, #43 on); rescaled by `scale` like d.
    # (Discounting it unscaled compared a tensor-dependent multiple of d with a itself: #53's
    # one flipped decay entry read 6.7e-4 against its own 4.6e-4.)
    estimate = float(np.linalg.norm(p_mine - p_gold)) * scale
    if centred:  # the means' difference, exactly: n entries of it
        estimate = float(np.hypot(estimate, np.sqrt(n) * (mine["mean"] - golden["mean"])))
    diff = max(0.0, estimate - allowance * np.sqrt(len(p_gold) / n) * scale)
    return diff / golden["norm"] if golden["norm"] else diff
