"""Random numbers that stay the same across numpy, JAX and torch versions.

Goldens store no weights or inputs, only the seed: regenerating them must draw the same values
years later. PCG64's `random()` (53-bit uniforms) is stable; normals come from our own
Box-Muller rather than numpy's ziggurat tables, and integers from scaled uniforms.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator per (seed, name), so adding a tensor never shifts the others."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))


def uniform(seed: int, name: str, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0) -> np.ndarray:
    u = stream(seed, name).random(int(np.prod(shape, dtype=np.int64)))
    return (low + (high - low) * u).reshape(shape)


# Consecutive records draw mostly the same (name, shape) tensors: `python -m parity --all` and the
# golden tests keep the latest draws, up to this many float64 bytes, instead of repeating the
# transcendental-heavy Box-Muller (about a tenth of a packed record's check).
NORMAL_CACHE_BYTES = 1 << 30
_normal_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()


def normal(seed: int, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normals, read-only (they may be shared with later calls)."""
    key = (seed, name, tuple(shape))
    if key in _normal_cache:
        _normal_cache.move_to_end(key)
        return _normal_cache[key]
    n = int(np.prod(shape, dtype=np.int64))
    u = stream(seed, name).random(2 * ((n + 1) // 2)).reshape(2, -1)
    r = np.sqrt(-2.0 * np.log1p(-u[0]))  # 1 - u in (0, 1]: log is finite
    z = np.concatenate([r * np.cos(2 * np.pi * u[1]), r * np.sin(2 * np.pi * u[1])])
    z = z[:n].reshape(shape)
    z.flags.writeable = False
    if z.nbytes <= NORMAL_CACHE_BYTES:
        _normal_cache[key] = z
        while sum(v.nbytes for v in _normal_cache.values()) > NORMAL_CACHE_BYTES:
            _normal_cache.popitem(last=False)
    return z


def integers(seed: int, name: str, shape: tuple[int, ...], high: int) -> np.ndarray:
    return np.minimum((uniform(seed, name, shape) * high).astype(np.int64), high - 1)
