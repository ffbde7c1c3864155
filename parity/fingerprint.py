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
"""

from __future__ import annotations

import hashlib

import numpy as np

from parity.rng import stream

FORMAT = 2
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


def fingerprint(name: str, x: np.ndarray) -> dict:
    """Shape, norm and projections; a tensor with inf/NaN (the FP8 backward of #19/#20 at small
    batches) also records where they are, and is summarised over its finite entries."""
    flat = np.asarray(x, np.float64).ravel()
    out = {"shape": list(np.shape(x))}
    bad = ~np.isfinite(flat)
    if bad.any():
        out["nonfinite"] = {"count": int(bad.sum()), "sha256": hashlib.sha256(np.packbits(bad).tobytes()).hexdigest()}
        flat = np.where(bad, 0.0, flat)
    out.update({"norm": float(np.linalg.norm(flat)), "proj": [float(v) for v in _project(name, flat)]})
    return out


def relative_error(name: str, golden: dict, y: np.ndarray | dict, allowance: float = 0.0) -> float:
    """Estimated `(||y - x|| - allowance) / ||x||` of `y` (a tensor, or its fingerprint) against
    the tensor `x` that `golden` summarises (`allowance` as in `parity.checks.relative`)."""
    mine = y if isinstance(y, dict) else fingerprint(name, y)
    if mine["shape"] != golden["shape"]:
        return float("inf")
    if mine.get("nonfinite") != golden.get("nonfinite"):
        return float("inf")  # inf/NaN elsewhere than upstream's
    p_gold, p_mine = np.array(golden["proj"]), np.array(mine["proj"])
    # ||P d|| estimates ||d|| * ||P x|| / ||x||: rescale by the stored true norm of x
    scale = golden["norm"] / np.linalg.norm(p_gold) if np.linalg.norm(p_gold) else 1.0
    # The allowance (a norm in the tensor's units) goes through the same estimate as the
    # difference it discounts: P takes a vector of norm a to one of norm ~ a sqrt(K / n), exactly
    # for a single entry (a mask entry decided by rounding, #43 on); rescaled by `scale` like d.
    # (Discounting it unscaled compared a tensor-dependent multiple of d with a itself: #53's
    # one flipped decay entry read 6.7e-4 against its own 4.6e-4.)
    n = max(1, int(np.prod(golden["shape"])))
    diff = max(0.0, float(np.linalg.norm(p_mine - p_gold)) * scale - allowance * np.sqrt(len(p_gold) / n) * scale)
    return diff / golden["norm"] if golden["norm"] else diff
