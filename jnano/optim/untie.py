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
    # #61 while tied: the gradients summed since `src`'s rule last stepped, (src's, dst's)
    tied_sums: tuple | None = None


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


def _moved(tree, params_type: type, src: Callable, dst: Callable, transposed: bool = False):
    """`tree` (a group's state) with every parameter-shaped subtree's `src` leaf moved to `dst`
    (transposed where the two are stored transposed, #61): the state the `dst` group holds once
    it is a copy of the `src` group's."""

    def move(node):
        if not isinstance(node, params_type):
            return node
        leaf = src(node)
        if transposed and not isinstance(leaf, MaskedNode):
            leaf = leaf.T
        node = eqx.tree_at(src, node, MaskedNode(), is_leaf=_is_masked)
        return eqx.tree_at(dst, node, leaf, is_leaf=_is_masked)

    return jax.tree.map(move, tree, is_leaf=lambda x: isinstance(x, params_type))


def copy_parameter_at(inner: optax.GradientTransformation, step: int, src: str, dst: str, src_group: str,
                      dst_group: str, params_type: type, synced_transpose: bool = False,
                      src_every: int = 1) -> optax.GradientTransformation:
    """`inner` (a `optax.partition` over groups), and after its update of step `step` (counted
    from 0) parameter `dst` set to `src`'s new value and `dst_group`'s state to a copy of
    `src_group`'s. The two groups' rules must have one state layout (upstream copies Adam's
    moments and step between two parameters of one optimizer).

    `synced_transpose` (#61, `hp.UntieAt`): `dst` is `src` transposed ((V, d) and (d, V)) and
    tied to it up to that step. Each keeps summing its own gradients (in its dtype, as `.grad`
    does) until `src`'s rule steps (every `src_every`-th step: Adam's odd ones); then `dst`'s sum
    is added to `src`'s (`lm_head.grad.add_(embed.grad.T)`, rounded to `src`'s dtype), `src`'s
    rule steps on that, `dst`'s does not, and `dst` takes `src`'s new value transposed. The state
    copy at the split is transposed too.

    The copy is an update, `dst += (src + src_update) - dst`: in floating point it lands within
    an ulp of `src`'s new value, not always on it."""
    src_at, dst_at = attribute_path(src), attribute_path(dst)
    f32 = jnp.float32

    def init(params):
        sums = (jnp.zeros_like(src_at(params)), jnp.zeros_like(dst_at(params))) if synced_transpose else None
        return UntieState(jnp.zeros((), jnp.int32), inner.init(params), sums)

    def folded(grads, state):
        """The gradients `inner` sees while tied (see above), and the sums kept for the next step."""
        tied, fires = state.count <= step, state.count % src_every == src_every - 1
        g_src, g_dst = src_at(grads), dst_at(grads)
        acc_src = (state.tied_sums[0].astype(f32) + g_src.astype(f32)).astype(g_src.dtype)
        acc_dst = (state.tied_sums[1].astype(f32) + g_dst.astype(f32)).astype(g_dst.dtype)
        total = (acc_src.astype(f32) + acc_dst.astype(f32).T).astype(g_src.dtype)
        # `src`'s own rule sums what it is given: nothing until it steps, then the folded sum
        given = jnp.where(fires, total, jnp.zeros_like(total))
        grads = eqx.tree_at(src_at, grads, jnp.where(tied, given, g_src))
        grads = eqx.tree_at(dst_at, grads, jnp.where(tied, jnp.zeros_like(g_dst), g_dst))
        keep = tied & ~fires
        sums = (jnp.where(keep, acc_src, 0).astype(acc_src.dtype), jnp.where(keep, acc_dst, 0).astype(acc_dst.dtype))
        return grads, sums

    def target_of(params, updates):
        """`src`'s new value as `optax.apply_updates` gives it (one rounding to its dtype)."""
        source = src_at(params)
        target = (source.astype(jnp.promote_types(source.dtype, src_at(updates).dtype)) + src_at(updates))
        target = target.astype(source.dtype)
        return (target.T if synced_transpose else target).astype(dst_at(params).dtype)

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("copy_parameter_at needs params")
        tied, sums = state.count <= step, state.tied_sums
        if synced_transpose:
            grads, sums = folded(grads, state)
        updates, inner_state = inner.update(grads, state.inner, params)
        # in the parameter's dtype: DistAdam's steps are bf16 (#32 on), the copy's difference
        # is not (an exact widening where no copy happens: p + u is the same number)
        updates = eqx.tree_at(dst_at, updates, dst_at(updates).astype(dst_at(params).dtype))
        if synced_transpose:
            synced = target_of(params, updates) - dst_at(params)
            syncs = tied & (state.count % src_every == src_every - 1)
            updates = eqx.tree_at(dst_at, updates, jnp.where(syncs, synced, jnp.where(tied, 0, dst_at(updates))))

        def copy(args):
            updates, groups = args
            updates = eqx.tree_at(dst_at, updates, target_of(params, updates) - dst_at(params))
            moved = _moved(groups[src_group], params_type, src_at, dst_at, synced_transpose)
            # in the dst group's own dtypes (#61: the head's gradient sums are bf16, embed's float32)
            moved = jax.tree.map(lambda new, old: new.astype(old.dtype), moved, groups[dst_group])
            groups = {**groups, dst_group: moved}
            return updates, groups

        groups = dict(inner_state.inner_states)
        updates, groups = jax.lax.cond(state.count == step, copy, lambda args: args, (updates, groups))
        return updates, UntieState(state.count + 1, inner_state._replace(inner_states=groups), sums)

    return optax.GradientTransformation(init, update)


__all__ = ["UntieState", "attribute_path", "copy_parameter_at"]
