"""Turn a record's `OptimizerRecipe` (plain data, jnano.hparams) into one optax transformation."""

from __future__ import annotations

from typing import Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jnano import hparams as hp
from jnano.optim.muon import Orthogonalizer, nesterov_orthogonalized, orthogonal_nesterov
from jnano.optim.schedules import multiplier
from jnano.optim.transforms import clip_grad_norm_like_torch, normalize_each
from jnano.state_dict import path_name


class DistAdamState(NamedTuple):
    count: jax.Array
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates


def dist_adam(learning_rate: Callable, b1: float = 0.8, b2: float = 0.95, eps: float = 1e-10,
              weight_decay: float = 0.0) -> optax.GradientTransformation:
    """Records #24/#25's `DistAdam` (see `hp.DistAdam`), returning the whole update `-lr * ...`.

    The moments live in each gradient's dtype (bf16 for the embeddings) and every torch op of
    upstream rounds to it: `m.mul_(b1).add_(g, alpha=1-b1)`, `v.mul_(b2).addcmul_(g, g, 1-b2)`,
    `denom = v.sqrt().add_(eps)`, `m.div(denom).mul_(step_size)`, each computed in float32.
    `step_size = lr * sqrt(1 - b2^t) / (1 - b1^t)` is a float32 scalar (t counts from 1).
    Weight decay, when nonzero, is upstream's `p *= 1 - lr*wd` folded into the update as
    `-lr*wd*p` (equal up to rounding; both records run with 0).
    """
    f32 = jnp.float32

    def init(params):
        zeros = lambda p: jnp.zeros_like(p)  # noqa: E731
        return DistAdamState(jnp.zeros((), jnp.int32), jax.tree.map(zeros, params), jax.tree.map(zeros, params))

    def update(grads, state, params=None):
        if weight_decay and params is None:
            raise ValueError("dist_adam with weight_decay needs params")
        t = (state.count + 1).astype(f32)
        lr = jnp.asarray(learning_rate(state.count), f32)
        # `beta ** t` of a Python float and an int64 tensor: float32 pow in torch
        bias1 = 1.0 - jnp.asarray(b1, f32) ** t
        bias2 = 1.0 - jnp.asarray(b2, f32) ** t
        step_size = lr * (jnp.sqrt(bias2) / bias1)

        def one(g, m, v):
            dt = g.dtype

            def rnd(x):  # one torch op: float32 opmath, result stored in the tensor's dtype
                # (in float32 this is a no-op, and XLA may contract `b1*m + (1-b1)*g` into one fma
                # where torch rounds `m.mul_(b1)` first: float32 moments can differ by an ulp)
                return x.astype(dt).astype(f32)

            g = g.astype(f32)
            m = rnd(rnd(m.astype(f32) * b1) + (1 - b1) * g)
            v = rnd(rnd(v.astype(f32) * b2) + (1 - b2) * g * g)
            denom = rnd(rnd(jnp.sqrt(v)) + eps)
            step = rnd(rnd(m / denom) * step_size)
            return step.astype(dt), m.astype(dt), v.astype(dt)

        leaves, treedef = jax.tree.flatten(grads)
        outs = [one(g, m, v) for g, m, v in zip(leaves, treedef.flatten_up_to(state.exp_avg),
                                                  treedef.flatten_up_to(state.exp_avg_sq))]
        step, m, v = (jax.tree.unflatten(treedef, [o[k] for o in outs]) for k in range(3))
        if weight_decay:
            step = jax.tree.map(lambda s, p: s + (lr * weight_decay * p.astype(f32)).astype(s.dtype), step, params)
        updates = jax.tree.map(lambda s: -s, step)
        return updates, DistAdamState(state.count + 1, m, v)

    return optax.GradientTransformation(init, update)


def _lr(base: float, schedule: hp.Schedule):
    return lambda count: base * multiplier(schedule, count)


def _rule(rule: hp.Rule, schedule: hp.Schedule, stack_sharding=None) -> optax.GradientTransformation:
    lr = optax.scale_by_learning_rate(_lr(rule.lr, schedule))
    if isinstance(rule, hp.AdamW):
        b1, b2 = rule.betas
        parts = [optax.scale_by_adam(b1, b2, rule.eps)]
        if rule.weight_decay:
            parts.append(optax.add_decayed_weights(rule.weight_decay))
        return optax.chain(*parts, lr)
    if isinstance(rule, hp.OrthogonalNesterov):
        direction = orthogonal_nesterov(rule.momentum, rule.ns_steps, jnp.dtype(rule.ns_dtype), stack_sharding)
        return optax.chain(direction, lr)
    if isinstance(rule, hp.Muon):
        orth = Orthogonalizer(rule.ns_steps, jnp.dtype(rule.ns_dtype), rule.ns_normalize, rule.ns_form,
                              rule.qkv_split, rule.scale,
                              jnp.dtype(rule.update_dtype) if rule.update_dtype else None)
        direction = nesterov_orthogonalized(orth, rule.momentum, rule.nesterov, rule.momentum_warmup, stack_sharding,
                                            rule.momentum_form)
        return optax.chain(direction, lr)
    if isinstance(rule, hp.DistAdam):
        # the lr enters inside the rule: upstream multiplies it into the bias-correction factor
        # (`step_size`) before touching the moments, one float32 rounding we keep
        b1, b2 = rule.betas
        return dist_adam(_lr(rule.lr, schedule), b1, b2, rule.eps, rule.weight_decay)
    raise TypeError(f"unknown optimizer rule {rule!r}")


def _grad_transform(t: hp.GradTransform) -> optax.GradientTransformation:
    if isinstance(t, hp.ClipGlobalNorm):
        return clip_grad_norm_like_torch(t.max_norm)
    if isinstance(t, hp.NormalizeEach):
        return normalize_each(t.eps)
    raise TypeError(f"unknown gradient transform {t!r}")


def param_labels(recipe: hp.OptimizerRecipe, params) -> object:
    """The group name of every parameter leaf, chosen by its state_dict name and ndim."""
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: recipe.label(path_name(path), leaf.ndim), params
    )


def build_optimizer(recipe: hp.OptimizerRecipe, model: eqx.Module, stack_sharding=None) -> optax.GradientTransformation:
    """`recipe` as an optax transformation over `eqx.filter(model, eqx.is_array)`.

    The step count inside the state is the record's step index: the schedule at count 0 is the
    lr of upstream's step 0. `stack_sharding(shape)` (optional) places the stacks of same-shape
    matrices that Newton-Schulz orthogonalises (`jnano.optim.muon.orthogonalize`).
    """
    params = eqx.filter(model, eqx.is_array)
    labels = param_labels(recipe, params)
    rules = {g.name: _rule(g.rule, recipe.schedule, stack_sharding) for g in recipe.groups}
    used = set(jax.tree.leaves(labels))
    rules = {name: tx for name, tx in rules.items() if name in used}
    return optax.chain(
        *(_grad_transform(t) for t in recipe.grad_transforms),
        # labels as a function: the labels pytree is itself a (callable) Module
        optax.multi_transform(rules, lambda p: param_labels(recipe, p)),
    )
