"""Momentum + Newton-Schulz optimizers of records #3 and #4, written as optax transformations.

Each returns the *direction* (before the learning rate); `jnano.optim.build` chains it with the
record's schedule. Not optax.contrib.muon: that one bias-corrects momentum, runs Newton-Schulz
in fp32 and uses a different layout and scale (history.md, design.md "Environment facts").
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnano.optim.newton_schulz import newton_schulz5


class MomentumState(NamedTuple):
    momentum_buffer: optax.Updates


def _nesterov_ns(momentum: float, nesterov: bool, orthogonalize) -> optax.GradientTransformation:
    """`buf = mu*buf + g; g = g + mu*buf` (Nesterov) then `orthogonalize(g)` per matrix."""

    def init(params):
        return MomentumState(jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        del params
        buf = jax.tree.map(lambda b, g: b * momentum + g, state.momentum_buffer, grads)
        if nesterov:
            eff = jax.tree.map(lambda g, b: g + momentum * b, grads, buf)
        else:
            eff = buf
        return jax.tree.map(orthogonalize, eff), MomentumState(buf)

    return optax.GradientTransformation(init, update)


def orthogonal_nesterov(
    momentum: float = 0.95, ns_steps: int = 5, ns_dtype=jnp.bfloat16
) -> optax.GradientTransformation:
    """Record #3 `OrthogonalNesterov`: the whole matrix (QKV included) through NS5, no scaling."""
    return _nesterov_ns(momentum, True, lambda g: newton_schulz5(g, ns_steps, dtype=ns_dtype))


def muon_record4_direction(g: jax.Array, ns_steps: int, ns_dtype) -> jax.Array:
    """Record #4: a fused QKV gradient (rows == 3*cols) is orthogonalised as three square blocks
    and scaled by sqrt(cols); any other matrix by sqrt(max(rows, cols))."""
    rows, cols = g.shape
    if rows == 3 * cols:
        blocks = [newton_schulz5(b, ns_steps, dtype=ns_dtype) for b in jnp.split(g, 3, axis=0)]
        return jnp.concatenate(blocks, axis=0) * math.sqrt(cols)
    return newton_schulz5(g, ns_steps, dtype=ns_dtype) * math.sqrt(max(rows, cols))


def muon(
    momentum: float = 0.95, nesterov: bool = True, ns_steps: int = 5, ns_dtype=jnp.bfloat16
) -> optax.GradientTransformation:
    """Record #4 `Muon` (MomentUm Orthogonalized by Newton-schulz)."""
    return _nesterov_ns(momentum, nesterov, lambda g: muon_record4_direction(g, ns_steps, ns_dtype))
