"""Rotary position embeddings, one function per upstream variant."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def inverse_frequencies(head_dim: int, base: float = 10000.0) -> np.ndarray:
    """`1 / base ** (arange(0, D, 2).float() / D)` in float32: the `Rotary.inv_freq` buffer (#2)."""
    exponent = np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)
    # torch's float32 pow is correctly rounded: take the power in float64, round once
    power = np.power(np.float64(base), exponent.astype(np.float64)).astype(np.float32)
    return np.float32(1.0) / power


def rotary_cos_sin(
    seq_len: int, inv_freq: Float[Array, " half"]
) -> tuple[Float[Array, "seq half"], Float[Array, "seq half"]]:
    """fp32 `cos`, `sin` of `outer(positions, inv_freq)` for positions 0..seq_len-1."""
    freqs = jnp.outer(jnp.arange(seq_len, dtype=jnp.float32), jnp.asarray(inv_freq))
    return jnp.cos(freqs), jnp.sin(freqs)


def apply_rotary_half_split(
    x: Float[Array, "batch seq heads dim"],
    cos: Float[Array, "seq half"],
    sin: Float[Array, "seq half"],
) -> Float[Array, "batch seq heads dim"]:
    """Rotate pairs (j, j + D/2) by -theta: upstream's `y1 = x1 cos + x2 sin, y2 = -x1 sin + x2 cos`.

    This is the transpose of the usual RoPE rotation (records #2 on, history.md §2.2 S1).
    """
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    y1 = x1 * cos + x2 * sin
    y2 = x1 * (-sin) + x2 * cos
    return jnp.concatenate([y1, y2], axis=-1).astype(x.dtype)
