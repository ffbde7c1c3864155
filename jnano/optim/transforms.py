"""Gradient transforms applied to all gradients before the optimizer rules."""

from __future__ import annotations

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
