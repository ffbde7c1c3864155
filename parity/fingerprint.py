"""Compact, comparable summaries of tensors for the committed goldens.

A fingerprint holds a tensor's shape, norm and its projections on K fixed Gaussian directions. For a tensor x and a candidate y, `||P y - P x|| / ||P x||` estimates the
relative error `||y - x|| / ||x||` (each projection of the difference is N(0, ||y - x||^2)
scaled like those of x), so a golden checks every element of a gradient without storing it.
"""

from __future__ import annotations

import numpy as np

from parity.rng import normal

K = 16


def _directions(name: str, n: int) -> np.ndarray:
    return normal(0, f"fingerprint/{name}", (K, n)) / np.sqrt(n)


def fingerprint(name: str, x: np.ndarray) -> dict:
    flat = np.asarray(x, np.float64).ravel()
    return {
        "shape": list(np.shape(x)),
        "norm": float(np.linalg.norm(flat)),
        "proj": [float(v) for v in _directions(name, flat.size) @ flat],
    }


def relative_error(name: str, golden: dict, y: np.ndarray, allowance: float = 0.0) -> float:
    """Estimated `(||y - x|| - allowance) / ||x||` of `y` against the tensor `x` that `golden`
    summarises (`allowance` as in `parity.checks.relative`)."""
    if list(np.shape(y)) != golden["shape"]:
        return float("inf")
    mine = fingerprint(name, y)
    p_gold, p_mine = np.array(golden["proj"]), np.array(mine["proj"])
    # ||P d|| estimates ||d|| * ||P x|| / ||x||: rescale by the stored true norm of x
    scale = golden["norm"] / np.linalg.norm(p_gold) if np.linalg.norm(p_gold) else 1.0
    diff = max(0.0, float(np.linalg.norm(p_mine - p_gold)) * scale - allowance)
    return diff / golden["norm"] if golden["norm"] else diff
