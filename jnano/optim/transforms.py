"""Gradient transforms applied to all gradients before the optimizer rules, and `step_every`."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def clip_grad_norm_like_torch(max_norm: float) -> optax.GradientTransformation:
    """`torch.nn.utils.clip_grad_norm_`: scale by `min(1, max_norm / (total_norm + 1e-6))`.

    optax.clip_by_global_norm omits the 1e-6 and skips the multiply below the threshold; llm.c
    (record #1) calls torch's every step.
    """

    def update(grads, state, params=None):
        del params
        norms = jnp.stack([jnp.linalg.norm(g.ravel()) for g in jax.tree.leaves(grads)])
        total = jnp.linalg.norm(norms)
        coef = jnp.minimum(max_norm / (total + 1e-6), 1.0)
        return jax.tree.map(lambda g: g * coef, grads), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def normalize_each(eps: float = 1e-6) -> optax.GradientTransformation:
    """Record #2: `p.grad = p.grad / (p.grad.norm() + 1e-6)` for every parameter."""

    def update(grads, state, params=None):
        del params
        return jax.tree.map(lambda g: g / (jnp.linalg.norm(g.ravel()) + eps), grads), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


class AccumulateState(NamedTuple):
    count: jax.Array
    summed: optax.Updates
    inner: optax.OptState


def step_every(n: int, inner: optax.GradientTransformation, frozen=None) -> optax.GradientTransformation:
    """`inner` steps on every n-th step (count % n == n - 1) with the sum of the n gradients
    since its last step; zero updates in between. #39 (2025-09-30 CustomBatching): Adam steps on
    odd steps, its parameters' `.grad` accumulated by two backward passes (`zero_grad` only
    after it). `inner`'s own count advances once per step it takes.

    `frozen` (#52): a host bool per step; on those steps `inner` does not step and the step's
    gradients, with any summed before it, are dropped."""

    def init(params):
        return AccumulateState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.zeros_like, params), inner.init(params))

    def update(grads, state, params=None):
        summed = jax.tree.map(lambda s, g: s + g.astype(s.dtype), state.summed, grads)

        def fire(_):
            updates, inner_state = inner.update(summed, state.inner, params)
            return updates, inner_state, jax.tree.map(jnp.zeros_like, summed)

        def wait(_):  # zero updates in the dtypes `inner` gives (#32's bf16 Adam steps)
            shapes = jax.eval_shape(lambda: inner.update(summed, state.inner, params)[0])
            return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes), state.inner, summed

        def drop(_):  # frozen (#52): no step, nothing summed kept
            updates, inner_state, _ = wait(None)
            return updates, inner_state, jax.tree.map(jnp.zeros_like, summed)

        branch = (state.count % n == n - 1).astype(jnp.int32)  # 0 wait, 1 fire
        if frozen is not None:
            branch = jnp.where(jnp.asarray(frozen)[jnp.minimum(state.count, len(frozen) - 1)], 2, branch)
        updates, inner_state, summed = jax.lax.switch(branch, (wait, fire, drop), None)
        return updates, AccumulateState(state.count + 1, summed, inner_state)

    return optax.GradientTransformation(init, update)
