"""Lightweight dynamically composable attention, "post-only, no DD" (record #85, 2026-05-27
MuddGatedAndDC, upstream's `dc_attention_postonly_nodd_correction_add_base_triton`).

The heads' attention maps are composed after their softmax, per query, and the composition's
output is added to the plain attention output:

    P_h[t, s] = softmax_s(scale q_h[t] . k_h[s])  over the keys s of t's document, 0 <= t - s < window
    a[t, s]   = sum_h w1[t, h] P_h[t, s]                     (one map shared by the heads)
    out_h[t]  = base_h[t] + sum_s (w2[t, h] a[t, s]) v_h[s]

"Post-only": only the probabilities are mixed (not the pre-softmax scores, which "DD", the
dynamic pre-composition of the original DCFormer, would also mix). The window is a fixed number
of keys (112 in the record), not the layer's own attention window.

Precision as the Triton kernel computes it: scores, probabilities and `a` in float32; each weight
`w2 a` rounded to v's dtype before its product with v, accumulated in float32; the sum with the
base rounded once to the base's dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from jnano.nn.masks import left_window

RECORD_WINDOW = 112  # keys per query, the kernel's `window` as #85 calls it


def composition_mask(document_causal: Bool[Array, "batch seq seq"], window: int = RECORD_WINDOW):
    """Which keys a query's composed map covers: its document's, at most `window - 1` back."""
    return document_causal & left_window(document_causal.shape[-1], window - 1)


def post_only_composition(
    base: Float[Array, "batch seq heads dim"],
    q: Float[Array, "batch seq heads dim"],
    k: Float[Array, "batch seq heads dim"],
    v: Float[Array, "batch seq heads dim"],
    w1: Float[Array, "batch seq heads"],
    w2: Float[Array, "batch seq heads"],
    mask: Bool[Array, "batch seq seq"],
    scale,
) -> Float[Array, "batch seq heads dim"]:
    """`base` plus the composed attention (module docstring); `mask` from `composition_mask`."""
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k, preferred_element_type=jnp.float32) * scale
    probs = jax.nn.softmax(jnp.where(mask[:, None], scores, -jnp.inf), axis=-1)
    shared = jnp.einsum("bqh,bhqk->bqk", w1.astype(jnp.float32), probs)
    weights = (w2.astype(jnp.float32).transpose(0, 2, 1)[..., None] * shared[:, None]).astype(v.dtype)
    composed = jnp.einsum("bhqk,bkhd->bqhd", weights, v, preferred_element_type=jnp.float32)
    return (composed + base.astype(jnp.float32)).astype(base.dtype)


__all__ = ["RECORD_WINDOW", "composition_mask", "post_only_composition"]
