"""Momentum + Newton-Schulz optimizers (records #3 on), written as optax transformations.

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
from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnano.nn.precision import rounded
from jnano.optim.newton_schulz import newton_schulz5


@dataclass(frozen=True)
class Orthogonalizer:
    """How a matrix becomes its update direction: split into blocks, Newton-Schulz each, scale."""

    ns_steps: int = 5
    ns_dtype: object = jnp.bfloat16
    normalize: str = "input"
    form: str = "record3"
    qkv_split: bool = False
    scale: str = "one"  # "one" (#3), "max_dim" (#4-#7), "max1_ratio" (#8 on)
    update_dtype: object = None
    bank: int | None = None  # `jnano.hparams.Muon.bank`
    coefficients: tuple | None = None  # per-iteration (a, b, c), #38's Polar Express
    bank_rows: bool = False  # `jnano.hparams.Muon.bank_rows`
    scalar_semantics: str = "cuda"  # `jnano.hparams.Muon.scalar_semantics`

    def bank_view(self, shape: tuple[int, int]) -> tuple[int, int, int]:
        """The (bank, rows, cols) blocks a bank parameter of `shape` is orthogonalised as."""
        rows, cols = shape
        return (self.bank, rows // self.bank, cols) if self.bank_rows else (self.bank, rows, cols // self.bank)

    def factor(self, rows: int, cols: int) -> float:
        return {"one": 1.0, "max_dim": math.sqrt(max(rows, cols)),
                "max1_ratio": math.sqrt(max(1.0, rows / cols))}[self.scale]

    def block_view(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A stack's (ndim >= 3) matrices as (n, rows, cols), `bank` row blocks each where set
        (#61's `.reshape`); a matrix's shape is its own."""
        if len(shape) < 3:
            return tuple(shape)
        if self.bank and not self.bank_rows:
            raise ValueError("a stack's banks are split by rows (bank_rows)")
        rows, cols = shape[-2:]
        blocks = self.bank or 1
        return (math.prod(shape[:-2]) * blocks, rows // blocks, cols)

    def scale_of(self, shape: tuple[int, ...]) -> float:
        """The factor on a matrix of `shape`'s direction (what `blocks` hands out): a stack's
        blocks each by their own shape, a 2-D bank (#36-#60) by the flat shape."""
        rows, cols = self.block_view(shape)[-2:]
        if len(shape) == 2 and not self.bank and self.qkv_split and rows == 3 * cols:
            return math.sqrt(cols)
        return self.factor(rows, cols)

    def blocks(self, g: jax.Array) -> tuple[list[jax.Array], float, Callable]:
        factor = self.scale_of(g.shape)
        if g.ndim >= 3:
            # #20 on: `qkv_w` (3, d, d). Upstream's batched NS normalises each slice by its own
            # norm (`X.norm(dim=(-2, -1))`) and scales by size(-2)/size(-1); slice by slice is
            # the same computation, and the slices join the stacks of same-shape matrices.
            # #61's banks are stacks too, of their `block_view`'s matrices.
            view = g.reshape(self.block_view(g.shape))
            return list(view), factor, lambda b: jnp.stack(b, axis=0).reshape(g.shape)
        rows, cols = g.shape
        if self.bank:
            view = g.reshape(self.bank_view(g.shape))
            return list(view), factor, lambda b: jnp.stack(b).reshape(rows, cols)
        if self.qkv_split and rows == 3 * cols:
            return list(jnp.split(g, 3, axis=0)), factor, lambda b: jnp.concatenate(b, axis=0)
        return [g], factor, lambda b: b[0]

    def ns(self, m: jax.Array) -> jax.Array:
        return newton_schulz5(m, self.ns_steps, dtype=self.ns_dtype, normalize=self.normalize, form=self.form,
                              coefficients=self.coefficients, scalar_semantics=self.scalar_semantics)

    def __call__(self, grads: list[jax.Array], stack_sharding=None) -> list[jax.Array]:
        """Directions of all matrices, same-shape blocks stacked into one batched NS call."""
        return [self.finish(d, factor, g.dtype) for (d, factor), g in zip(self.orthogonalized(grads, stack_sharding),
                                                                            grads)]

    def finish(self, direction: jax.Array, factor: float, dtype) -> jax.Array:
        """The Newton-Schulz output (in `ns_dtype`) scaled into the update."""
        direction = direction.astype(jnp.float32)
        if self.update_dtype is not None:  # #6+: `g *= scale` in the buffer's dtype
            direction = (direction * factor).astype(self.update_dtype).astype(jnp.float32)
        else:
            direction = direction * factor
        return direction.astype(dtype)

    def orthogonalized(self, grads: list[jax.Array], stack_sharding=None) -> list[tuple[jax.Array, float]]:
        """(Newton-Schulz output in `ns_dtype`, scale) per matrix, same-shape blocks batched."""
        plans = [self.blocks(g) for g in grads]
        by_shape: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        for i, (blocks, _, _) in enumerate(plans):
            for j, b in enumerate(blocks):
                by_shape.setdefault(b.shape, []).append((i, j))
        results: dict[tuple[int, int], jax.Array] = {}
        for members in by_shape.values():
            stack = jnp.stack([plans[i][0][j] for i, j in members])
            if stack_sharding is not None:
                stack = jax.lax.with_sharding_constraint(stack, stack_sharding(stack.shape))
            out = jax.vmap(self.ns)(stack)
            for k, key in enumerate(members):
                results[key] = out[k]
        return [(assemble([results[(i, j)] for j in range(len(blocks))]), factor)
                for i, (blocks, factor, assemble) in enumerate(plans)]


def normuon_axis(shape: tuple[int, ...]) -> int:
    """The axis NorMuon averages over: rows (-1, one value per row) when rows >= cols, else
    columns (-2)."""
    return -1 if shape[-2] >= shape[-1] else -2


def normuon(v: jax.Array, second: jax.Array, beta2: float, axis: int | None = None) -> tuple[jax.Array, jax.Array]:
    """#41's NorMuon step on one orthogonalised update `v` (in its dtype, bf16 in the record):
    the fp32 second moment `second` of its mean square per row (column) becomes
    `lerp(second, mean(v*v), 1 - beta2)`; `v / sqrt(second)` is then rescaled to `v`'s norm.
    Each torch op rounds to `v`'s dtype where upstream's in-place bf16 ops do. A 3-D `v` is a
    stack of matrices (#42's bank view), each normalised on its own; `axis`: `normuon_axis`."""
    f32, dt = jnp.float32, v.dtype
    r = lambda x: rounded(x, dt)  # noqa: E731
    axis = normuon_axis(v.shape) if axis is None else axis

    def norm(a):
        return r(jnp.sqrt(jnp.sum(jnp.square(a), axis=(-2, -1), keepdims=True)))

    x = v.astype(f32)
    vnorm = norm(x)
    v_mean = r(jnp.mean(r(x * x), axis=axis, keepdims=True))
    second = torch_lerp(second, v_mean, np.float32(1 - beta2))
    # #41 `1 / sqrt(b).clamp_min(1e-10)`, #42 `b.clamp_min(1e-10).rsqrt()`: equal above 1e-20
    step = 1 / jnp.maximum(jnp.sqrt(second), 1e-10)
    x = r(x * step)
    vnorm_new = norm(x)
    x = r(x * r(vnorm / jnp.maximum(vnorm_new, r(jnp.float32(1e-10)))))
    return x.astype(dt), second


def normuon_fused(v: jax.Array, second: jax.Array, beta2: float, axis: int) -> tuple[jax.Array, jax.Array]:
    """#48's NorMuon (2025-12-11 `apply_normuon_variance_reduction`): the same normalisation as
    `normuon` in one pass. The mean squares are taken in fp32 from `v` unrounded, and both norms
    follow from them (`||v||^2 = n * sum(mean)`, `||v / sqrt(s)||^2 = n * sum(mean / s)`); only
    the final per-row (column) factor is rounded to `v`'s dtype before it multiplies `v`."""
    f32, dt = jnp.float32, v.dtype
    n = v.shape[axis]
    mean = jnp.mean(jnp.square(v.astype(f32)), axis=axis, keepdims=True)
    vnorm = jnp.sqrt(jnp.sum(mean, axis=(-2, -1), keepdims=True) * n)
    second = torch_lerp(second, mean, np.float32(1 - beta2))
    step = jax.lax.rsqrt(jnp.maximum(second, 1e-10))
    vnorm_new = jnp.sqrt(jnp.sum(mean * n * jnp.square(step), axis=(-2, -1), keepdims=True))
    factor = (step * (vnorm / jnp.maximum(vnorm_new, 1e-10))).astype(dt)
    return v * factor, second


def cautious_weight_decay(v: jax.Array, p: jax.Array, coefficient) -> jax.Array:
    """#43 (2025-11-10 CautiousWD): decay only the weights whose update already points the
    same way, `v + coefficient * [v * p >= 0] * p`, summed in fp32 and rounded to `v`'s dtype
    (upstream's in-place `v.addcmul_(p, eff_wd * mask)`)."""
    f32 = jnp.float32
    x, w = v.astype(f32), p.astype(f32)
    gate = jnp.where(x * w >= 0, jnp.asarray(coefficient, f32), 0.0).astype(p.dtype).astype(f32)
    return (x + w * gate).astype(v.dtype)


class MuonState(NamedTuple):
    count: jax.Array
    momentum_buffer: optax.Updates
    second_moment: optax.Updates = None  # NorMuon (#41 on): per row or column, fp32


def momentum_at(count, momentum: float, warmup: tuple[float, float, int] | None):
    """#9 on: `frac = min(step / steps, 1); mu = (1 - frac) * start + frac * end`."""
    if warmup is None:
        return momentum
    start, end, steps = warmup
    frac = jnp.minimum(count.astype(jnp.float32) / steps, 1.0)
    return (1 - frac) * start + frac * end


def momentum_table(warmup: tuple[float, float, int], form: str = "mix", cooldown: int = 0,
                   total: int | None = None) -> np.ndarray:
    """The momentum at each step as upstream's Python computes it (float64), for `lerp_weights`.

    "mix" (#9-#38): `frac = min(step/steps, 1); mu = (1-frac)*start + frac*end`: `steps + 1`
    values, the last one held. "hold" (#39 on): `start + frac * (end - start)` written while
    step < steps only, then held; with `cooldown` k, the steps after `total - k` get
    `end - frac * (end - start)`, frac = (step - (total - k)) / k (`total + 1` values). "set"
    (#41 on): the same warmup, then `end`; a step in both the warmup and the cooldown (short
    runs) takes the warmup's value."""
    start, end, steps = warmup
    if form == "mix":
        frac = np.minimum(np.arange(steps + 1) / steps, 1.0)
        return (1 - frac) * start + frac * end
    if form not in ("hold", "set"):
        raise ValueError(f"unknown momentum warmup form {form!r}")
    n = max(steps, total or 0) + 1
    step = np.arange(n)
    warm = step < steps
    mu = start + np.minimum(step, steps - 1) / steps * (end - start)
    if form == "set":  # #41: `else: momentum_max` after the warmup
        mu[~warm] = end
    if cooldown:
        begin = total - cooldown
        late = (step > begin) & (~warm if form == "set" else True)  # #41 tests the warmup first
        mu[late] = end - (step[late] - begin) / cooldown * (end - start)
    return mu


def lerp_weights(count, momentum: float, warmup: tuple[float, float, int] | None, form: str = "mix",
                 cooldown: int = 0, total: int | None = None, complement: str = "float64"):
    """`(1 - mu, mu)` as float32, each rounded from the float64 value upstream's Python computes.

    torch.lerp takes a Python float weight and rounds it to float32, so `buf.lerp_(g, 1 - mu)`
    sees float32(1 - mu), which is not `1 - float32(mu)` (0.95: 0.05 vs 0.050000012). A float64
    table of the schedule's values (`momentum_table`), indexed by the traced step, gives both
    weights exactly. `complement="float32"` (#74): `1 - float32(mu)` in float32.
    """
    mu = np.asarray([momentum], np.float64) if warmup is None else momentum_table(warmup, form, cooldown, total)
    mu32 = mu.astype(np.float32)
    one_minus = (np.float32(1) - mu32) if complement == "float32" else (1 - mu).astype(np.float32)
    if warmup is None:
        return one_minus[0], mu32[0]
    i = jnp.minimum(count, len(mu) - 1)
    return jnp.asarray(one_minus)[i], jnp.asarray(mu32)[i]


@jax.jit
def torch_lerp(start: jax.Array, end: jax.Array, weight) -> jax.Array:
    """`torch.lerp(start, end, weight)` for a scalar weight, bit for bit on float32.

    torch (CPU vector kernel; CUDA, where nvcc contracts the same expression) computes
    `fma(coeff, end - start, base)` with `(coeff, base) = (w, start)` if |w| < 0.5 else
    `(w - 1, end)`, in float32 opmath. Under one jit XLA contracts `base + coeff * d` to the same
    fma (checked against torch.lerp in tests/test_optim_flex.py), hence the jit here: called
    op by op, the multiply and add would round separately.
    """
    f32 = jnp.float32
    w = jnp.asarray(weight, f32)
    small = jnp.abs(w) < 0.5
    a, b = start.astype(f32), end.astype(f32)
    coeff = jnp.where(small, w, w - 1.0)  # w - 1 is exact for w in [0.5, 2]
    base = jnp.where(small, a, b)
    return (base + coeff * (b - a)).astype(start.dtype)


def nesterov_orthogonalized(orthogonalizer: Orthogonalizer, momentum: float = 0.95, nesterov: bool = True,
                            momentum_warmup=None, stack_sharding=None,
                            momentum_form: str = "sum", warmup_form: str = "mix", cooldown: int = 0,
                            total: int | None = None, normuon_beta2: float | None = None,
                            normuon_per_block: bool = False, decay=None, normuon_form: str = "separate",
                            normuon_rows: bool = False, unscaled: bool = False,
                            momentum_complement: str = "float64") -> optax.GradientTransformation:
    """Nesterov momentum, then the orthogonalized direction.

    `normuon_form`: "separate" (#41) or "fused" (#48, `normuon_fused`); `normuon_rows`: #48's
    gates, normalised per row. `decay(count)`: the coefficient of #43's cautious weight decay (NorMuon only), added to the
    normalised direction before the shape scale (`cautious_weight_decay`). `unscaled`: NorMuon's
    normalised direction as it is, in float32, without the shape scale (#57's master step,
    `jnano.optim.master`, applies the scale, the lr and the decay itself).

    momentum_form "sum" (#4-#14): `buf = mu*buf + g; g = g + mu*buf`.
    "lerp" (#15 on): `buf = lerp(buf, g, 1-mu); g = lerp(g, buf, mu)` (see `torch_lerp`).
    """
    if momentum_form not in ("sum", "lerp"):
        raise ValueError(f"unknown momentum_form {momentum_form!r}")
    if momentum_form == "sum" and (warmup_form != "mix" or cooldown):
        raise ValueError("the 'hold' warmup and the cooldown (#39 on) come with the lerp form only")

    blockwise = normuon_per_block and orthogonalizer.bank

    def view(v):  # what NorMuon normalises: the matrix, #42's bank blocks, or a stack's (#61) matrices
        if v.ndim >= 3:
            return v.reshape(orthogonalizer.block_view(v.shape))
        return v.reshape(orthogonalizer.bank_view(v.shape)) if blockwise else v

    def axis(shape):  # #48's gates: per row whatever their shape; a stack: its matrices' shape
        if normuon_rows:
            return -1
        return normuon_axis(orthogonalizer.block_view(shape) if len(shape) >= 3 else shape)

    normalise = {"separate": normuon, "fused": normuon_fused}[normuon_form]

    def second_moment_like(p):
        shape = list(view(p).shape)
        shape[axis(p.shape)] = 1
        return jnp.zeros(shape, jnp.float32)

    def init(params):
        second = jax.tree.map(second_moment_like, params) if normuon_beta2 is not None else None
        return MuonState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.zeros_like, params), second)

    if (decay is not None or unscaled) and normuon_beta2 is None:
        raise ValueError("cautious weight decay (#43 on) and the unscaled direction (#57) come with NorMuon only")

    def update(grads, state, params=None):
        if decay is not None and params is None:
            raise ValueError("cautious weight decay needs the parameters: call update(grads, state, params)")
        if momentum_form == "lerp":
            w_grad, w_buf = lerp_weights(state.count, momentum, momentum_warmup, warmup_form, cooldown, total,
                                          momentum_complement)
            buf = jax.tree.map(lambda b, g: torch_lerp(b, g, w_grad), state.momentum_buffer, grads)
            eff = jax.tree.map(lambda g, b: torch_lerp(g, b, w_buf), grads, buf) if nesterov else buf
        else:
            mu = momentum_at(state.count, momentum, momentum_warmup)
            buf = jax.tree.map(lambda b, g: b * mu + g, state.momentum_buffer, grads)
            eff = jax.tree.map(lambda g, b: g + mu * b, grads, buf) if nesterov else buf
        leaves, treedef = jax.tree.flatten(eff)
        if normuon_beta2 is None:
            return jax.tree.unflatten(treedef, orthogonalizer(leaves, stack_sharding)), MuonState(state.count + 1, buf)
        outs, seconds = [], []
        weights = treedef.flatten_up_to(params) if decay is not None else [None] * len(leaves)
        for (v, factor), second, g, p in zip(orthogonalizer.orthogonalized(leaves, stack_sharding),
                                             treedef.flatten_up_to(state.second_moment), leaves, weights):
            normed, second = normalise(view(v), second, normuon_beta2, axis(v.shape))
            v = normed.reshape(v.shape)
            if p is not None:
                v = cautious_weight_decay(v, p, decay(state.count))
            outs.append(v.astype(jnp.float32) if unscaled else orthogonalizer.finish(v, factor, g.dtype))
            seconds.append(second)
        return (jax.tree.unflatten(treedef, outs),
                MuonState(state.count + 1, buf, jax.tree.unflatten(treedef, seconds)))

    return optax.GradientTransformation(init, update)


def orthogonal_nesterov(momentum: float = 0.95, ns_steps: int = 5, ns_dtype=jnp.bfloat16,
                        stack_sharding=None) -> optax.GradientTransformation:
    """Record #3 `OrthogonalNesterov`: the whole matrix (QKV included) through NS5, no scaling."""
    return nesterov_orthogonalized(Orthogonalizer(ns_steps, ns_dtype), momentum, True, None, stack_sharding)


def muon_record4_direction(g: jax.Array, ns_steps: int, ns_dtype) -> jax.Array:
    """Record #4's direction for one matrix: QKV split, sqrt(max(rows, cols)) scale."""
    return Orthogonalizer(ns_steps, ns_dtype, qkv_split=True, scale="max_dim")([g])[0]
