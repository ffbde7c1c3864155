"""Attention: dense causal softmax attention in the (batch, seq, heads, head_dim) layout."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def dense_causal_attention(
    q: Float[Array, "batch seq heads dim"],
    k: Float[Array, "batch seq heads dim"],
    v: Float[Array, "batch seq heads dim"],
    scale: float,
) -> Float[Array, "batch seq heads dim"]:
    """`softmax(q k^T * scale + causal mask) v`, the softmax in fp32.

    Equals llm.c's manual path (`att.masked_fill(bias == 0, -inf)`) and `F.scaled_dot_product_attention(
    is_causal=True)` (records #2-#11) with `scale = 1/sqrt(head_dim)`.
    """
    seq = q.shape[1]
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) * scale
    causal = jnp.tril(jnp.ones((seq, seq), dtype=bool))
    scores = jnp.where(causal, scores, -jnp.inf)
    weights = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
    return jnp.einsum("bhqk,bkhd->bqhd", weights, v)
