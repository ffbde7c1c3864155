"""DistAdam, records #24 "Replace gradient all_reduce with reduce_scatter" (2025-05-30) and #25:
Adam with eps outside the bias correction and its state in the parameter's dtype (see
`jnano.hparams.DistAdam`). On one device the reduce-scatter / all-gather are identities; the
sharded trainer shards its state like the parameters."""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnano.nn.precision import rounded


class DistAdamState(NamedTuple):
    count: jax.Array
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates


def cautious_decay(update: jax.Array, p: jax.Array, value, strict: bool = False) -> jax.Array:
    """#50 (2025-12-18 CautiousWDAdam): `update.addcmul_(p, update * p >= 0, value=lr * wd * lr)`,
    in fp32 and rounded once to the update's dtype; `strict` (#53 on): the mask `update * p > 0`. The Python scalar `value` stays fp32 (on
    CUDA and eager CPU alike), unlike #43's NorMuon form, whose `eff_wd * mask` is a tensor in
    p's dtype (`jnano.optim.muon.cautious_weight_decay`)."""
    f32 = jnp.float32
    x, w = update.astype(f32), p.astype(f32)
    agree = x * w > 0 if strict else x * w >= 0
    return (x + jnp.where(agree, jnp.asarray(value, f32) * w, 0.0)).astype(update.dtype)


def dist_adam(learning_rate: Callable, b1: float = 0.8, b2: float = 0.95, eps: float = 1e-10,
              weight_decay: float = 0.0, state_dtype: str | None = None,
              scalar_semantics: str = "cuda", step_sizes=None, decay_sizes=None,
              cautious_strict: bool = False) -> optax.GradientTransformation:
    """Records #24/#25's `DistAdam` (see `hp.DistAdam`), returning the whole update `-lr * ...`.

    The moments live in each gradient's dtype (bf16 for the embeddings) and every torch op of
    upstream rounds to it: `m.mul_(b1).add_(g, alpha=1-b1)`, `v.mul_(b2).addcmul_(g, g, 1-b2)`,
    `denom = v.sqrt().add_(eps)`, `m.div(denom).mul_(step_size)`, each computed in float32.
    `step_size = lr * sqrt(1 - b2^t) / (1 - b1^t)` is a float32 scalar (t counts from 1).
    Weight decay, when nonzero, is upstream's `p *= 1 - lr*wd` folded into the update as
    `-lr*wd*p` (equal up to rounding; both records run with 0). `state_dtype` (#32 on: bf16):
    the moments, and so every op above and the update, live in that dtype instead.
    `scalar_semantics`: "cuda" as the record ran, "cpu" as eager CPU torch computes
    `denom.add_(eps)` on bf16 moments, the scalar rounded to bf16 first (parity's reference).
    `step_sizes` (#42 on): the float32 step size of each of Adam's steps, computed on the host in
    float64 as upstream's Python does (`jnano.optim.build`); `learning_rate` is then unused.
    `decay_sizes` (#50's cautious weight decay): the float32 `lr * wd * lr` of each of Adam's
    steps; where the step and the parameter agree in sign (or either is 0) the step grows by
    that times the parameter, one `addcmul_` rounded to the step's dtype (`cautious_strict`, #53
    on: only where they agree strictly).
    """
    if scalar_semantics not in ("cuda", "cpu"):
        raise ValueError(f"scalar_semantics must be 'cuda' or 'cpu', not {scalar_semantics!r}")
    f32 = jnp.float32

    def init(params):
        zeros = lambda p: jnp.zeros_like(p, dtype=state_dtype)  # noqa: E731
        return DistAdamState(jnp.zeros((), jnp.int32), jax.tree.map(zeros, params), jax.tree.map(zeros, params))

    def update(grads, state, params=None):
        if (weight_decay or decay_sizes is not None) and params is None:
            raise ValueError("dist_adam with weight decay needs params")
        t = (state.count + 1).astype(f32)
        lr = jnp.asarray(learning_rate(state.count), f32)
        # `beta ** t` of a Python float and an int64 tensor: float32 pow in torch
        bias1 = 1.0 - jnp.asarray(b1, f32) ** t
        bias2 = 1.0 - jnp.asarray(b2, f32) ** t
        step_size = lr * (jnp.sqrt(bias2) / bias1)
        if step_sizes is not None:
            step_size = jnp.asarray(step_sizes, f32)[jnp.minimum(state.count, len(step_sizes) - 1)]

        def one(g, m, v, p):
            dt = m.dtype  # the parameter's, or `state_dtype`

            def rnd(x):  # one torch op: float32 opmath, result stored in the tensor's dtype
                # (in float32 this is a no-op, and XLA may contract `b1*m + (1-b1)*g` into one fma
                # where torch rounds `m.mul_(b1)` first: float32 moments can differ by an ulp)
                return rounded(x, dt)

            # eager CPU torch's `tensor.add_(python_scalar)` rounds the scalar to the tensor's dtype
            # first (CUDA's kernels take it as float32; `mul_` by a scalar does not round on either):
            # with bf16 moments (#32), bf16(1e-8) moves one denominator in 4000 by an ulp
            eps_ = rnd(jnp.asarray(eps, f32)) if scalar_semantics == "cpu" else eps
            g = g.astype(f32)
            m = rnd(rnd(m.astype(f32) * b1) + (1 - b1) * g)
            v = rnd(rnd(v.astype(f32) * b2) + (1 - b2) * g * g)
            denom = rnd(rnd(jnp.sqrt(v)) + eps_)
            step = rnd(rnd(m / denom) * step_size)
            if decay_sizes is not None:
                step = cautious_decay(step.astype(dt), p, decay, cautious_strict).astype(f32)
            return step.astype(dt), m.astype(dt), v.astype(dt)

        if decay_sizes is not None:
            decay = jnp.asarray(decay_sizes, f32)[jnp.minimum(state.count, len(decay_sizes) - 1)]
        leaves, treedef = jax.tree.flatten(grads)
        ps = treedef.flatten_up_to(params) if params is not None else [None] * len(leaves)
        outs = [one(g, m, v, p) for g, m, v, p in zip(leaves, treedef.flatten_up_to(state.exp_avg),
                                                        treedef.flatten_up_to(state.exp_avg_sq), ps)]
        step, m, v = (jax.tree.unflatten(treedef, [o[k] for o in outs]) for k in range(3))
        if weight_decay:
            step = jax.tree.map(lambda s, p: s + (lr * weight_decay * p.astype(f32)).astype(s.dtype), step, params)
        updates = jax.tree.map(lambda s: -s, step)
        return updates, DistAdamState(state.count + 1, m, v)

    return optax.GradientTransformation(init, update)
