"""Losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jnano.nn.precision import rounded


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


@jax.custom_vjp
def _log_softmax_in(logits: Float[Array, "... vocab"]) -> Float[Array, "... vocab"]:
    """`F.log_softmax` of a (bf16-valued) tensor in its own dtype: float32 math, the result
    rounded once to the logits' precision (kept float32 here, see `rounded`)."""
    return rounded(jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1), logits.dtype)


def _log_softmax_in_fwd(logits):
    out = _log_softmax_in(logits)
    return out, (out, jnp.zeros((0,), logits.dtype))  # (the empty array carries the dtype)


def _log_softmax_in_bwd(res, g):
    # torch's log_softmax backward reads the stored (rounded) output: g - exp(out) * sum(g),
    # float32 math, rounded to the input's dtype
    out, like = res
    grad = g - jnp.exp(out) * jnp.sum(g, axis=-1, keepdims=True)
    return (rounded(grad, like.dtype).astype(like.dtype),)


_log_softmax_in.defvjp(_log_softmax_in_fwd, _log_softmax_in_bwd)


def cross_entropy_sum_in(logits: Float[Array, "... vocab"], targets: Int[Array, "..."],
                         ignore_index: int = -1) -> Float[Array, ""]:
    """`F.cross_entropy(logits, targets, reduction="sum")` computed in the logits' own dtype, as
    record #37 (2025-09-27 BF16CE) trains on bf16 logits on CUDA: the log-probabilities rounded
    to bf16, their sum accumulated in float32 and rounded to bf16 (the loss itself is a bf16
    number). CPU torch sums the bf16 terms in bf16 partial sums instead (nll_loss's cascade),
    which can land an ulp or more away; the gradient does not depend on the sum. For float32
    logits this is `cross_entropy(..., reduction="sum")`."""
    logp = _log_softmax_in(logits)
    valid = targets != ignore_index
    picked = jnp.take_along_axis(logp, jnp.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
    return rounded(-jnp.sum(jnp.where(valid, picked, 0.0)), logits.dtype)
