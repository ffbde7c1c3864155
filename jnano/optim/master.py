"""A float32 master for bf16 weights, kept as the weights' missing low halves: record #57
(2026-01-04 MixedPrecisionInterweavedOptimizer, `cautious_wd_and_update_inplace`).

Upstream stores each NorMuon weight in bf16 and a uint16 `mantissa` beside it; the two are the
upper and lower 16 bits of one float32. The step widens the gradient, forms NorMuon's direction
`v` (float32 momentum), and writes

    master = master - master * [v * master >= 0] * eff_wd * eff_lr - v * eff_lr

in float32, op by op as written (`cautious_master_step`); the weight becomes the new master's
upper half (*truncated*, not rounded), the mantissa the rest. `eff_lr` is the float32 product
of the parameter's multiplier (shape scale x lr_mul, stored float32) and the group's Python lr
(float32); `eff_wd` that of the decay and the lr: the rounding points of upstream's CPU tensors
(#61 computes both as Python products instead, rounded once).

The updates returned are float32 differences of bf16 weights, which `optax.apply_updates`
turns back into the new weights exactly (the difference of two bf16 values is exact in float32
unless one is below 2^-16 of the other).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jaxtyping import Array, Float


class MantissaState(NamedTuple):
    count: jax.Array  # the record's step: the index into the host lr table
    mantissa: optax.Updates  # uint16, one per weight
    inner: optax.OptState  # the direction's (NorMuon's momentum and second moment)


def master_of(weight: jax.Array, mantissa: jax.Array) -> jax.Array:
    """The float32 whose upper half is `weight`'s bf16 bits and lower half `mantissa`."""
    upper = lax.bitcast_convert_type(weight, jnp.uint16).astype(jnp.uint32) << 16
    return lax.bitcast_convert_type(upper | mantissa.astype(jnp.uint32), jnp.float32)


def split_master(master: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(the bf16 weight, the uint16 mantissa) of a float32 master: its upper and lower halves."""
    bits = lax.bitcast_convert_type(master, jnp.uint32)
    weight = lax.bitcast_convert_type((bits >> 16).astype(jnp.uint16), jnp.bfloat16)
    return weight, (bits & 0xFFFF).astype(jnp.uint16)


def cautious_master_step(master: Float[Array, "*s"], v: Float[Array, "*s"], eff_wd: jax.Array,
                         eff_lr: jax.Array) -> Float[Array, "*s"]:
    """#57's kernel on the float32 master: cautious decay where the direction and the weight
    agree in sign, then the step; each product and difference rounded to float32 in upstream's
    order (`(m - m*mask*wd*lr) - v*lr`)."""
    mask = (v * master >= 0).astype(jnp.float32)
    return (master - master * mask * eff_wd * eff_lr) - v * eff_lr


def _check_bf16(params) -> None:
    dtypes = {leaf.dtype for leaf in jax.tree.leaves(params)}
    if dtypes - {jnp.dtype(jnp.bfloat16)}:
        raise TypeError(f"a mantissa master needs bf16 weights, got {sorted(map(str, dtypes))}")


def mantissa_master(direction: optax.GradientTransformation, view_of: Callable[[tuple[int, ...]], tuple[int, ...]],
                    multipliers_of: Callable[[tuple[int, ...]], np.ndarray], lrs, weight_decay: float,
                    products: str = "float32") -> optax.GradientTransformation:
    """NorMuon on the float32 masters of bf16 weights (#57).

    `direction`: NorMuon's normalised direction of float32 gradients, given the masters (no
    scale, lr or decay: `nesterov_orthogonalized(..., unscaled=True)`). `view_of(shape)`: the
    parameter as upstream steps it (#61: a bank's stack of matrices); `multipliers_of(shape)`:
    the lr multiplier of each of those (Muon's shape scale x lr_mul, and #61's per-matrix one),
    broadcastable to the view, in float64. `lrs[k]`: the group's lr at step k, computed on the
    host in float64 as upstream's Python does (the last entry holds for later steps).
    `weight_decay`: the group's (the weights' `wd_mul` is 1). `products`: how `eff_lr` and
    `eff_wd` round, "float32" (#57: float32 multiplier x float32 lr, as CPU tensors multiply)
    or "float64" (#61: the Python product, rounded once).
    """
    if products not in ("float32", "float64"):
        raise ValueError(f"products must be 'float32' or 'float64', not {products!r}")
    lrs = np.asarray(lrs, np.float64)
    last = len(lrs) - 1

    def effective(shape):
        """(eff_lr, eff_wd) tables over the steps, float32: (steps, *multipliers) and (steps,)."""
        mult = np.asarray(multipliers_of(shape), np.float64)
        k = (slice(None),) + (None,) * mult.ndim
        if products == "float64":
            return (mult[None] * lrs[k]).astype(np.float32), (weight_decay * lrs).astype(np.float32)
        lr32 = lrs.astype(np.float32)
        return (mult.astype(np.float32)[None] * lr32[k]), np.float32(weight_decay) * lr32

    def init(params):
        _check_bf16(params)
        mantissa = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.uint16), params)
        inner = direction.init(jax.tree.map(lambda p: p.astype(jnp.float32), params))
        return MantissaState(jnp.zeros((), jnp.int32), mantissa, inner)

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("a mantissa master needs the weights: call update(grads, state, params)")
        master = jax.tree.map(master_of, params, state.mantissa)
        wide = jax.tree.map(lambda g: g.astype(jnp.float32), grads)
        v, inner = direction.update(wide, state.inner, master)
        k = jnp.minimum(state.count, last)

        def step(m, d):
            lr_table, wd_table = effective(m.shape)
            view = view_of(m.shape)
            new = cautious_master_step(m.reshape(view), d.reshape(view), jnp.asarray(wd_table)[k],
                                       jnp.asarray(lr_table)[k])
            return new.reshape(m.shape)

        new_master = jax.tree.map(step, master, v)
        weights = jax.tree.map(lambda m: split_master(m)[0], new_master)
        mantissa = jax.tree.map(lambda m: split_master(m)[1], new_master)
        updates = jax.tree.map(lambda w, p: w.astype(jnp.float32) - p.astype(jnp.float32), weights, params)
        return updates, MantissaState(state.count + 1, mantissa, inner)

    return optax.GradientTransformation(init, update)


__all__ = ["MantissaState", "cautious_master_step", "mantissa_master", "master_of", "split_master"]
