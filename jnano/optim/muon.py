"""Momentum + Newton-Schulz optimizers of records #3 and #4, written as optax transformations.

Each returns the *direction* (before the learning rate); `jnano.optim.build` chains it with the
record's schedule. Not optax.contrib.muon: that one bias-corrects momentum, runs Newton-Schulz
in fp32 and uses a different layout and scale (history.md, design.md "Environment facts").

Newton-Schulz runs on stacks of same-shape blocks (one vmapped call per shape), the way
upstream's distributed Muon (#6 on) hands each rank its share of the matrices: given a
`stack_sharding` (e.g. the stack axis over the mesh's data axis) every device orthogonalises
its slice of each stack.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnano.optim.newton_schulz import newton_schulz5

# A split rule: matrix -> (blocks to orthogonalise, scale, how to reassemble the blocks).
Split = Callable[[jax.Array], tuple[list[jax.Array], float, Callable[[list[jax.Array]], jax.Array]]]


def whole_matrix(g: jax.Array):
    """Record #3: the whole matrix (QKV included), no scaling."""
    return [g], 1.0, lambda blocks: blocks[0]


def record4_split(g: jax.Array):
    """Record #4: a fused QKV gradient (rows == 3*cols) as three square blocks scaled by
    sqrt(cols); any other matrix whole, scaled by sqrt(max(rows, cols))."""
    rows, cols = g.shape
    if rows == 3 * cols:
        return list(jnp.split(g, 3, axis=0)), math.sqrt(cols), lambda blocks: jnp.concatenate(blocks, axis=0)
    return [g], math.sqrt(max(rows, cols)), lambda blocks: blocks[0]


def orthogonalize(grads: list[jax.Array], split: Split, ns_steps: int, ns_dtype,
                  stack_sharding: Callable[[tuple[int, ...]], object] | None = None) -> list[jax.Array]:
    """NS5 of every block of every matrix, same-shape blocks stacked into one batched call."""
    plans = [split(g) for g in grads]
    by_shape: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for i, (blocks, _, _) in enumerate(plans):
        for j, b in enumerate(blocks):
            by_shape.setdefault(b.shape, []).append((i, j))
    results: dict[tuple[int, int], jax.Array] = {}
    for shape, members in by_shape.items():
        stack = jnp.stack([plans[i][0][j] for i, j in members])
        if stack_sharding is not None:
            stack = jax.lax.with_sharding_constraint(stack, stack_sharding(stack.shape))
        out = jax.vmap(lambda m: newton_schulz5(m, ns_steps, dtype=ns_dtype))(stack)
        for k, key in enumerate(members):
            results[key] = out[k]
    return [assemble([results[(i, j)] for j in range(len(blocks))]) * scale
            for i, (blocks, scale, assemble) in enumerate(plans)]


class MomentumState(NamedTuple):
    momentum_buffer: optax.Updates


def _nesterov_ns(momentum: float, nesterov: bool, split: Split, ns_steps: int, ns_dtype,
                 stack_sharding=None) -> optax.GradientTransformation:
    """`buf = mu*buf + g; g = g + mu*buf` (Nesterov) then Newton-Schulz per block."""

    def init(params):
        return MomentumState(jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        del params
        buf = jax.tree.map(lambda b, g: b * momentum + g, state.momentum_buffer, grads)
        eff = jax.tree.map(lambda g, b: g + momentum * b, grads, buf) if nesterov else buf
        leaves, treedef = jax.tree.flatten(eff)
        out = orthogonalize(leaves, split, ns_steps, ns_dtype, stack_sharding)
        return jax.tree.unflatten(treedef, out), MomentumState(buf)

    return optax.GradientTransformation(init, update)


def orthogonal_nesterov(momentum: float = 0.95, ns_steps: int = 5, ns_dtype=jnp.bfloat16,
                        stack_sharding=None) -> optax.GradientTransformation:
    """Record #3 `OrthogonalNesterov`: the whole matrix (QKV included) through NS5, no scaling."""
    return _nesterov_ns(momentum, True, whole_matrix, ns_steps, ns_dtype, stack_sharding)


def muon(momentum: float = 0.95, nesterov: bool = True, ns_steps: int = 5, ns_dtype=jnp.bfloat16,
         stack_sharding=None) -> optax.GradientTransformation:
    """Record #4 `Muon` (MomentUm Orthogonalized by Newton-schulz)."""
    return _nesterov_ns(momentum, nesterov, record4_split, ns_steps, ns_dtype, stack_sharding)


def muon_record4_direction(g: jax.Array, ns_steps: int, ns_dtype) -> jax.Array:
    """Record #4's direction for one matrix (see `record4_split`)."""
    return orthogonalize([g], record4_split, ns_steps, ns_dtype)[0]
