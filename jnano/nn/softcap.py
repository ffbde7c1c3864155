"""Logit soft-capping, each record's formula."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float


def tanh_softcap(z: Float[Array, "..."], cap: float) -> Float[Array, "..."]:
    """`cap * tanh(z / cap)` in z's dtype (records #9-#18: cap 30, then 15)."""
    return cap * jnp.tanh(z / cap)
