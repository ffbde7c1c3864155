"""Turn a record's `OptimizerRecipe` (plain data, jnano.hparams) into one optax transformation."""

from __future__ import annotations


import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnano import hparams as hp
from jnano.optim.dist_adam import dist_adam
from jnano.optim.master import mantissa_master
from jnano.optim.muon import Orthogonalizer, nesterov_orthogonalized, orthogonal_nesterov
from jnano.optim.schedules import frozen_steps, host_multiplier, multiplier
from jnano.optim.transforms import clip_grad_norm_like_torch, normalize_each, step_every
from jnano.optim.untie import copy_parameter_at
from jnano.state_dict import path_name


def _lr(base: float, schedule: hp.Schedule):
    return lambda count: base * multiplier(schedule, count)


def _rule(rule: hp.Rule, schedule: hp.Schedule, stack_sharding=None) -> optax.GradientTransformation:
    if isinstance(rule, hp.Fixed):
        return optax.set_to_zero()
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
        lr = optax.scale_by_learning_rate(_lr(rule.lr * rule.lr_mul, schedule))
        # upstream's eff_wd: the group's lr (before the parameter's lr_mul) times the decay
        decay = _lr(rule.lr * rule.cautious_weight_decay, schedule) if rule.cautious_weight_decay else None
        orth = Orthogonalizer(rule.ns_steps, jnp.dtype(rule.ns_dtype), rule.ns_normalize, rule.ns_form,
                              rule.qkv_split, rule.scale,
                              jnp.dtype(rule.update_dtype) if rule.update_dtype else None, rule.bank,
                              rule.ns_coefficients, rule.bank_rows, rule.scalar_semantics)
        master = rule.master == "mantissa"
        direction = nesterov_orthogonalized(orth, rule.momentum, rule.nesterov, rule.momentum_warmup, stack_sharding,
                                            rule.momentum_form, rule.momentum_warmup_form, rule.momentum_cooldown,
                                            schedule.steps, rule.normuon_beta2, rule.normuon_per_block,
                                            None if master else decay, rule.normuon_form,
                                            rule.normuon_axis == "rows", unscaled=master,
                                            momentum_complement=rule.momentum_complement)
        if master:  # #57: the step on the float32 master applies the scale, the lr and the decay
            lrs = [rule.lr * host_multiplier(schedule, s) for s in range(schedule.steps + 1)]

            def multipliers(shape):  # per matrix of the view (#61's MLP bank: c_proj x2)
                view = orth.block_view(shape)
                per_matrix = np.resize(np.asarray(rule.matrix_lr_mul, np.float64), view[0] if len(view) == 3 else 1)
                per_matrix = per_matrix.reshape(-1, 1, 1) if len(view) == 3 else per_matrix[0]
                return orth.scale_of(shape) * rule.lr_mul * per_matrix

            return mantissa_master(direction, orth.block_view, multipliers, lrs, rule.cautious_weight_decay,
                                   rule.master_products)
        if rule.matrix_lr_mul != (1.0,):
            raise ValueError("per-matrix lr multipliers (#61) come with the mantissa master only")
        return optax.chain(direction, lr)
    if isinstance(rule, hp.DistAdam):
        # the lr enters inside the rule: upstream multiplies it into the bias-correction factor
        # (`step_size`) before touching the moments, one float32 rounding we keep
        b1, b2 = rule.betas
        n = rule.every  # the k-th Adam step is the record's step k n + n - 1 (unless frozen)
        frozen = frozen_steps(schedule, rule.freeze_after_transitions) if rule.freeze_after_transitions else None
        if frozen is not None and not rule.step_size_float64:
            raise ValueError("a frozen DistAdam needs step_size_float64: its steps' lrs come from the host")
        lr_of = _lr(rule.lr, schedule) if n == 1 else (lambda k: rule.lr * multiplier(schedule, k * n + n - 1))
        sizes = _float64_step_sizes(rule, schedule, frozen) if rule.step_size_float64 else None
        decays = _float64_decay_sizes(rule, schedule, frozen) if rule.cautious_weight_decay else None
        adam = dist_adam(lr_of, b1, b2, rule.eps, rule.weight_decay, rule.state_dtype, rule.scalar_semantics, sizes,
                         decays, rule.cautious_strict)
        return adam if n == 1 and frozen is None else step_every(n, adam, frozen)
    raise TypeError(f"unknown optimizer rule {rule!r}")


def _host_lrs(rule: hp.DistAdam, schedule: hp.Schedule, frozen=None) -> list[float]:
    """The lr of Adam's k-th step in Python float64: at the record's step k n + n - 1, or with
    #52's `frozen` steps at the k-th step s with s % n == n - 1 that is not frozen."""
    n = rule.every
    fires = [s for s in range((-(-schedule.steps // n) + 1) * n)
             if s % n == n - 1 and (frozen is None or not frozen[min(s, len(frozen) - 1)])]
    return [rule.lr * host_multiplier(schedule, s) for s in fires]


def _float64_step_sizes(rule: hp.DistAdam, schedule: hp.Schedule, frozen=None) -> np.ndarray:
    """Adam's k-th step size `lr * (1 - b2^t)^0.5 / (1 - b1^t)` (t = k + 1) in Python float64,
    rounded to float32."""
    b1, b2 = rule.betas
    return np.asarray([lr * ((1 - b2 ** (k + 1)) ** 0.5 / (1 - b1 ** (k + 1)))
                       for k, lr in enumerate(_host_lrs(rule, schedule, frozen))], np.float32)


def _float64_decay_sizes(rule: hp.DistAdam, schedule: hp.Schedule, frozen=None) -> np.ndarray:
    """#50's `eff_weight_decay * lr = lr * wd * lr` of Adam's k-th step, float64 rounded to float32."""
    return np.asarray([lr * rule.cautious_weight_decay * lr for lr in _host_lrs(rule, schedule, frozen)], np.float32)


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
    # labels as a function: the labels pytree is itself a (callable) Module
    groups = optax.multi_transform(rules, lambda p: param_labels(recipe, p))
    if recipe.untie is not None:
        u = recipe.untie
        src_rule = next(g.rule for g in recipe.groups if g.name == recipe.label(u.src, 2))
        groups = copy_parameter_at(groups, u.copy_step(recipe.schedule.num_iterations), u.src, u.dst,
                                   recipe.label(u.src, 2), recipe.label(u.dst, 2), type(params),
                                   u.synced_transpose, getattr(src_rule, "every", 1))
    return optax.chain(*(_grad_transform(t) for t in recipe.grad_transforms), groups)
