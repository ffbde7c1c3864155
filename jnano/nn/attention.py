"""Attention: softmax attention in the (batch, seq, heads, head_dim) layout under a dense mask."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float


def masked_attention(
    q: Float[Array, "batch seq heads dim"],
    k: Float[Array, "batch seq heads dim"],
    v: Float[Array, "batch seq heads dim"],
    mask: Bool[Array, "... seq seq"],
    scale: float,
) -> Float[Array, "batch seq heads dim"]:
    """`softmax(q k^T * scale, masked) v`: scores and softmax in fp32, output in v's dtype.

    `mask[q, k]` is True where query q sees key k (broadcast over batch and heads, or given per
    batch row as (batch, seq, seq)). Every row must see at least one key (its own position).
    """
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k, preferred_element_type=jnp.float32) * scale
    mask = mask if mask.ndim == 2 else mask[:, None]
    scores = jnp.where(mask, scores, -jnp.inf)
    weights = jax.nn.softmax(scores, axis=-1)
    out = jnp.einsum("bhqk,bkhd->bqhd", weights, v.astype(jnp.float32))
    return out.astype(v.dtype)


def dense_causal_attention(
    q: Float[Array, "batch seq heads dim"],
    k: Float[Array, "batch seq heads dim"],
    v: Float[Array, "batch seq heads dim"],
    scale: float,
) -> Float[Array, "batch seq heads dim"]:
    """Causal attention: llm.c's manual path (`att.masked_fill(bias == 0, -inf)`) and
    `F.scaled_dot_product_attention(is_causal=True)` (records #2-#11) with `scale = 1/sqrt(head_dim)`."""
    seq = q.shape[1]
    return masked_attention(q, k, v, jnp.tril(jnp.ones((seq, seq), dtype=bool)), scale)
