"""Losses."""

from __future__ import annotations

from functools import partial

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


def multi_token_cross_entropy_sum_in(logits: Float[Array, "... vocab"], targets: Int[Array, "..."],
                                     weights: Float[Array, " horizon"]) -> Float[Array, ""]:
    """Record #53's (2025-12-22 MultiTokenPrediction) training loss: over the flattened tokens t,
    `sum_t sum_k weights[k] * (logsumexp(z_t) - z_t[y_{t+k}])`, the k-th term absent for the last
    k tokens (no document boundary stops it). In the logits' dtype as the record computes it:
    logsumexp and each difference rounded to it, the weighted sum in float32.

    While every weight but the first is zero (the last third of the run) upstream takes the
    plain `F.cross_entropy(..., reduction="sum")` instead (`cross_entropy_sum_in`), and so does
    this: the same number in float32, a different rounding in bf16."""
    vocab = logits.shape[-1]
    flat, y = logits.reshape(-1, vocab), targets.reshape(-1)
    n = y.shape[0]

    def multi(_):
        lse = rounded(jax.nn.logsumexp(flat.astype(jnp.float32), axis=-1), logits.dtype)
        total = jnp.zeros((), jnp.float32)
        for k in range(weights.shape[0]):
            shifted = jnp.concatenate([y[k:], jnp.zeros((k,), y.dtype)])
            picked = jnp.take_along_axis(flat, shifted[:, None], axis=-1)[:, 0].astype(jnp.float32)
            ce = rounded(lse - picked, logits.dtype)
            total = total + jnp.sum(jnp.where(jnp.arange(n) < n - k, ce, 0.0) * weights[k])
        return total

    def single(_):
        return cross_entropy_sum_in(flat, y)

    return jax.lax.cond(jnp.all(weights[1:] == 0), single, multi, None)


def softcapped_multi_token_cross_entropy(
    head_out: Float[Array, "... vocab"], targets: Int[Array, "..."], weights: Float[Array, " horizon"],
    scale: float, shift: float, temperature: float,
) -> Float[Array, ""]:
    """Record #60's (2026-01-16 FusedSoftcappedEntropy) Triton training loss, from the head's raw
    output (bf16 in the record) in float32 throughout: `z = scale * sigmoid((x + shift) /
    temperature)`, then over the flattened tokens t `sum_t sum_k weights[k] * (logsumexp(z_t) -
    z_t[y_{t+k}])`, the k-th term absent for the last k tokens; the sum in float32. Its gradient
    is the exact one, computed in float32 and rounded once to the head output's dtype (the
    backward kernel writes bf16)."""
    vocab = head_out.shape[-1]
    x, y = head_out.reshape(-1, vocab).astype(jnp.float32), targets.reshape(-1)
    n = y.shape[0]
    z = scale * jax.nn.sigmoid((x + shift) / temperature)
    lse = jax.nn.logsumexp(z, axis=-1)
    total = jnp.zeros((), jnp.float32)
    for k in range(weights.shape[0]):
        shifted = jnp.concatenate([y[k:], jnp.zeros((k,), y.dtype)])
        picked = jnp.take_along_axis(z, shifted[:, None], axis=-1)[:, 0]
        total = total + jnp.sum(jnp.where(jnp.arange(n) < n - k, weights[k] * (lse - picked), 0.0))
    return total


def _picked_terms(z, lse, y, weights):
    """`sum_k w_k (lse - z[y_{t+k}])` over the tokens with a k-th target in range."""
    n, vocab = z.shape
    rows = jnp.arange(n)
    total = jnp.zeros((), jnp.float32)
    for k in range(weights.shape[0]):
        shifted = jnp.concatenate([y[k:], jnp.full((k,), -1, y.dtype)])
        valid = (rows < n - k) & (shifted >= 0) & (shifted < vocab)
        picked = jnp.take_along_axis(z, jnp.clip(shifted, 0, vocab - 1)[:, None], axis=-1)[:, 0]
        total = total + jnp.sum(jnp.where(valid, weights[k] * (lse - picked), 0.0))
    return total


def _fused_sigmoid(x, scale, shift, temperature):
    """The kernel's softcap: the sigmoid of `x / C + B / C`, stored in the logits' dtype."""
    inv = 1.0 / temperature
    return rounded(jax.nn.sigmoid(x.astype(jnp.float32) * inv + shift * inv), x.dtype)


def fused_softcapped_multi_token_cross_entropy(
    head_out: Float[Array, "tokens vocab"], targets: Int[Array, " tokens"], weights: Float[Array, " horizon"],
    scale: float, shift: float, temperature: float,
) -> Float[Array, ""]:
    """Record #79's (2026-04-04 FuseCEFwdAndBwd) CUDA kernel, forward and backward in one pass
    over a rank's tokens: `s = sigmoid(x / C + B / C)` stored in the logits' dtype (bf16 in the
    record), `z = A s`, and #60's loss of z. The gradient is written in the forward, and with one
    quirk: `sum_k w_k` multiplies the softmax on every row, where the loss of the last k rows has
    no k-th term, so their gradient is not the loss's (#60-#78 sum only the terms present)."""
    return _fused_ce(head_out, targets, weights, scale, shift, temperature)


def _fused_ce_forward(head_out, targets, weights, scale, shift, temperature):
    s = _fused_sigmoid(head_out, scale, shift, temperature)
    z = scale * s
    lse = jax.nn.logsumexp(z, axis=-1)
    return _picked_terms(z, lse, targets, weights), (s, z, lse)


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _fused_ce(head_out, targets, weights, scale, shift, temperature):
    return _fused_ce_forward(head_out, targets, weights, scale, shift, temperature)[0]


def _fused_ce_fwd(head_out, targets, weights, scale, shift, temperature):
    total, (s, z, lse) = _fused_ce_forward(head_out, targets, weights, scale, shift, temperature)
    return total, (head_out, targets, weights, s, z, lse)


def _fused_ce_bwd(scale, shift, temperature, res, g):
    head_out, y, weights, s, z, lse = res
    n, vocab = z.shape
    rows = jnp.arange(n)
    picked = jnp.zeros_like(z)
    for k in range(weights.shape[0]):
        shifted = jnp.concatenate([y[k:], jnp.full((k,), vocab, y.dtype)])  # (out of range: dropped)
        picked = picked.at[rows, shifted].add(jnp.where(rows < n - k, weights[k], 0.0), mode="drop")
    grad_z = jnp.sum(weights) * jnp.exp(z - lse[:, None]) - picked  # (every weight on every row: the quirk)
    grad = g * (scale / temperature) * grad_z * s * (1.0 - s)
    return grad.astype(head_out.dtype), None, jnp.zeros_like(weights)


_fused_ce.defvjp(_fused_ce_fwd, _fused_ce_bwd)
