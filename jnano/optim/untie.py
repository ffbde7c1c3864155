"""#53 (2025-12-22 MultiTokenPrediction): untie the embedding from the head mid-run.

Upstream's `DistAdam.copy_lm_to_embed`, called after the optimizer step of one step
(`jnano.hparams.UntieAt.copy_step`): `embed.data.copy_(lm_head.data)`, and embed's Adam state
becomes a copy of the head's (`step`, `exp_avg`, `exp_avg_sq`). Until the model unties
(`split_step`, after the copy) `embed` has no gradient, and upstream's Adam skips it; here it
gets zero gradients, which leave it and its moments unchanged (the strict cautious mask of #53
decays nothing where the step is 0), and the copy overwrites its state and count anyway.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from optax.transforms._masking import MaskedNode


class UntieState(NamedTuple):
    count: jax.Array
    inner: optax.OptState


def attribute_path(name: str) -> Callable:
    """A `where` function for `eqx.tree_at` from a state_dict name ("lm_head.weight";
    integer parts index tuples: "blocks.3.mlp")."""
    parts = [int(p) if p.isdigit() else p for p in name.split(".")]

    def where(tree):
        for p in parts:
            tree = tree[p] if isinstance(p, int) else getattr(tree, p)
        return tree

    return where


def _is_masked(x) -> bool:
    return isinstance(x, MaskedNode)


def _moved(tree, params_type: type, src: Callable, dst: Callable):
    """`tree` (a group's state) with every parameter-shaped subtree's `src` leaf moved to `dst`:
    the state the `dst` group holds once it is a copy of the `src` group's."""

    def move(node):
        if not isinstance(node, params_type):
            return node
        leaf = src(node)
        node = eqx.tree_at(src, node, MaskedNode(), is_leaf=_is_masked)
        return eqx.tree_at(dst, node, leaf, is_leaf=_is_masked)

    return jax.tree.map(move, tree, is_leaf=lambda x: isinstance(x, params_type))


def copy_parameter_at(inner: optax.GradientTransformation, step: int, src: str, dst: str, src_group: str,
                      dst_group: str, params_type: type) -> optax.GradientTransformation:
    """`inner` (a `optax.partition` over groups), and after its update of step `step` (counted
    from 0) parameter `dst` set to `src`'s new value and `dst_group`'s state to a copy of
    `src_group`'s. The two groups' rules must have one state layout (upstream copies Adam's
    moments and step between two parameters of one DistAdam).

    The copy is an update, `dst += (src + src_update) - dst`: in floating point it lands within
    an ulp of `src`'s new value, not always on it."""
    src_at, dst_at = attribute_path(src), attribute_path(dst)

    def init(params):
        return UntieState(jnp.zeros((), jnp.int32), inner.init(params))

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("copy_parameter_at needs params")
        updates, inner_state = inner.update(grads, state.inner, params)
        # in the parameter's dtype: DistAdam's steps are bf16 (#32 on), the copy's difference
        # is not (an exact widening where no copy happens: p + u is the same number)
        updates = eqx.tree_at(dst_at, updates, dst_at(updates).astype(dst_at(params).dtype))

        def copy(args):
            updates, groups = args
            target = src_at(params) + src_at(updates).astype(src_at(params).dtype)
            updates = eqx.tree_at(dst_at, updates, target - dst_at(params))
            groups = {**groups, dst_group: _moved(groups[src_group], params_type, src_at, dst_at)}
            return updates, groups

        groups = dict(inner_state.inner_states)
        updates, groups = jax.lax.cond(state.count == step, copy, lambda args: args, (updates, groups))
        return updates, UntieState(state.count + 1, inner_state._replace(inner_states=groups))

    return optax.GradientTransformation(init, update)


__all__ = ["UntieState", "attribute_path", "copy_parameter_at"]
