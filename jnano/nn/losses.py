"""Losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def cross_entropy(
    logits: Float[Array, "... vocab"], targets: Int[Array, "..."], ignore_index: int = -1,
    reduction: str = "mean",
) -> Float[Array, ""]:
    """`F.cross_entropy(..., ignore_index=-1)` in fp32, the mean (or, `reduction="sum"`, the sum:
    #21c on train on the sum over a rank's tokens) over the targets that are not ignored."""
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    valid = targets != ignore_index
    safe = jnp.where(valid, targets, 0)
    nll = -jnp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    total = jnp.sum(jnp.where(valid, nll, 0.0))
    if reduction == "sum":
        return total
    if reduction != "mean":
        raise ValueError(f"unknown reduction {reduction!r}")
    return total / jnp.sum(valid)
