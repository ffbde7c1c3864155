"""Rotary position embeddings, one function per upstream variant."""

from __future__ import annotations

from typing import NamedTuple

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
    seq_len: int, inv_freq: Float[Array, " half"], table_dtype=None
) -> tuple[Float[Array, "seq half"], Float[Array, "seq half"]]:
    """`cos`, `sin` of `outer(positions, inv_freq)` for positions 0..seq_len-1, computed in fp32.

    `table_dtype=bfloat16`: records #5-#13 cache the tables in bf16 (`freqs.cos().bfloat16()`);
    multiplying fp32 q/k by them promotes back to fp32 math on bf16-rounded values.
    """
    freqs = jnp.outer(jnp.arange(seq_len, dtype=jnp.float32), jnp.asarray(inv_freq))
    cos, sin = jnp.cos(freqs), jnp.sin(freqs)
    if table_dtype is not None:
        cos, sin = cos.astype(table_dtype), sin.astype(table_dtype)
    return cos, sin


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
    compute = jnp.promote_types(x.dtype, cos.dtype)  # torch: fp32 x bf16 table -> fp32
    x1, x2 = x1.astype(compute), x2.astype(compute)
    cos, sin = cos[None, :, None, :].astype(compute), sin[None, :, None, :].astype(compute)
    y1 = x1 * cos + x2 * sin
    y2 = x1 * (-sin) + x2 * cos
    return jnp.concatenate([y1, y2], axis=-1).astype(x.dtype)


def inverse_frequencies_pow(head_dim: int, base: float = 10000.0) -> np.ndarray:
    """`(1 / base) ** (arange(0, D, 2) / D)`: the registered `inv_freq` buffer of #14-#16.

    A different fp32 rounding from #2's `1 / base ** (...)`: the fp32 base raised in float64 and
    rounded once agrees with torch's CPU pow to within one ulp (all but 2 of 64 entries equal).
    """
    exponent = (np.arange(0, head_dim, 2) / head_dim).astype(np.float32)
    return np.power(np.float64(np.float32(1.0 / base)), exponent.astype(np.float64)).astype(np.float32)


def torch_linspace_f32(start: float, end: float, steps: int) -> np.ndarray:
    """`torch.linspace(start, end, steps, dtype=float32)` on the CPU: the first half counts up
    from `start`, the second half down from `end`, in fp32 (exact for 32 steps, head_dim 128)."""
    f32 = np.float32
    i = np.arange(steps)
    step = (f32(end) - f32(start)) / f32(steps - 1)
    up = f32(start) + i.astype(f32) * step
    down = f32(end) - (steps - 1 - i).astype(f32) * step
    return np.where(i < steps // 2, up, down).astype(f32)


def half_truncated_frequencies(head_dim: int) -> np.ndarray:
    """#17 on: `(1/1024) ** linspace(0, 1, D/4)` then D/4 zeros. Pairs with frequency 0 never
    rotate (cos 1, sin 0): half of every head is position-free."""
    quarter = head_dim // 4
    freqs = np.power(1.0 / 1024, torch_linspace_f32(0.0, 1.0, quarter).astype(np.float64)).astype(np.float32)
    return np.concatenate([freqs, np.zeros(quarter, np.float32)])


class HalfSplitRope(NamedTuple):
    """The (cos, sin) tables of the half-split rotation (#2 on): `rotate` applies them."""

    cos: Float[Array, "seq half"]
    sin: Float[Array, "seq half"]

    def rotate(self, x: Float[Array, "batch seq heads dim"]) -> Float[Array, "batch seq heads dim"]:
        return apply_rotary_half_split(x, self.cos, self.sin)


def interleaved_frequencies(half_split: Float[Array, " half"]) -> Float[Array, " dim"]:
    """#58 (2026-01-07 PairedHeadAttention): the half-truncated frequencies of a head of D dims
    (D/4 rotating, D/4 zero, one per pair) laid out per lane: each rotating frequency twice
    (`repeat_interleave(2)`), then D/2 zeros. Lanes (2m, 2m+1) rotate together, the upper half is
    position-free."""
    quarter = half_split.shape[-1] // 2
    rotating = jnp.repeat(half_split[..., :quarter], 2, axis=-1)
    return jnp.concatenate([rotating, jnp.zeros_like(half_split)], axis=-1).astype(jnp.float32)


def interleaved_tables(positions: Float[Array, " seq"], freqs: Float[Array, " dim"], table_dtype=None):
    """(factor1, factor2) = (cos, sin) of `outer(positions, freqs)` in fp32, factor2's odd lanes
    negated (after the cast to `table_dtype`, which negation keeps exact)."""
    theta = jnp.outer(positions.astype(jnp.float32), jnp.asarray(freqs, jnp.float32))
    factor1, factor2 = jnp.cos(theta), jnp.sin(theta)
    if table_dtype is not None:
        factor1, factor2 = factor1.astype(table_dtype), factor2.astype(table_dtype)
    sign = jnp.where(jnp.arange(theta.shape[-1]) % 2 == 1, -1, 1).astype(factor2.dtype)
    return factor1, factor2 * sign


def apply_rotary_interleaved(
    x: Float[Array, "batch seq heads dim"],
    factor1: Float[Array, "seq dim"],
    factor2: Float[Array, "seq dim"],
) -> Float[Array, "batch seq heads dim"]:
    """#58's rotation of lane pairs (2m, 2m+1): `factor1 x + factor2 swap_pairs(x)`, i.e.
    `(x0 cos + x1 sin, x1 cos - x0 sin)`: the same -theta convention as the half split."""
    compute = jnp.promote_types(x.dtype, factor1.dtype)  # torch: fp32 x bf16 table -> fp32
    xc = x.astype(compute)
    swapped = xc.reshape(*x.shape[:-1], x.shape[-1] // 2, 2)[..., ::-1].reshape(x.shape)
    f1, f2 = factor1[None, :, None, :].astype(compute), factor2[None, :, None, :].astype(compute)
    return (f1 * xc + f2 * swapped).astype(x.dtype)


class InterleavedRope(NamedTuple):
    """#58's tables (`Yarn.factor1`, `Yarn.factor2`): `rotate` applies them."""

    factor1: Float[Array, "seq dim"]
    factor2: Float[Array, "seq dim"]

    def rotate(self, x: Float[Array, "batch seq heads dim"]) -> Float[Array, "batch seq heads dim"]:
        return apply_rotary_interleaved(x, self.factor1, self.factor2)
