"""#57's bf16 weights with a uint16 mantissa (2026-01-04 MixedPrecisionInterweavedOptimizer):
`jnano.optim.master` and the reference's stand-in for its compiled update, `ref.mantissa`,
each against a float32 master restated in numpy, bit for bit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from jnano.optim.master import mantissa_master, master_of, split_master
from ref import mantissa


def _random_master(seed: int, shape=(16, 24)) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.05, shape).astype(np.float32)


def _halves(master: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bits = master.view(np.uint32)
    return (bits >> 16).astype(np.uint16), (bits & 0xFFFF).astype(np.uint16)


def test_weight_and_mantissa_are_the_masters_halves():
    master = _random_master(0)
    upper, lower = _halves(master)
    weight, mant = split_master(jnp.asarray(master))
    assert weight.dtype == jnp.bfloat16 and mant.dtype == jnp.uint16
    np.testing.assert_array_equal(np.asarray(jax.lax.bitcast_convert_type(weight, jnp.uint16)), upper)
    np.testing.assert_array_equal(np.asarray(mant), lower)
    np.testing.assert_array_equal(np.asarray(master_of(weight, mant)).view(np.uint32), master.view(np.uint32))


def test_the_weight_is_truncated_not_rounded():
    # 1 + 2^-8 + 2^-9 lies above the bf16 midpoint: rounding gives 1 + 2^-7, the upper half 1
    master = np.array([1 + 2.0**-8 + 2.0**-9], np.float32)
    weight, _ = split_master(jnp.asarray(master))
    assert float(weight[0]) == 1.0


def _numpy_step(master, v, wd, lr, scale):
    """Upstream's kernel in numpy float32, op by op."""
    f = np.float32
    eff_lr, eff_wd = f(scale) * f(lr), f(wd) * f(lr)
    mask = ((v * master) >= 0).astype(f)
    return ((master - master * mask * eff_wd * eff_lr) - v * eff_lr).astype(f)


def test_mantissa_master_steps_the_float32_master_exactly():
    """Five steps through `mantissa_master` on bf16 weights (the direction: the gradient
    itself): the weight and mantissa are, bit for bit, the halves of the float32 master stepped
    by upstream's kernel in numpy, at its rounding points (float32 multiplier x lr)."""
    lrs, wd, scale = [0.023 * (1 - k / 10) for k in range(6)], 1.2, 2.0 * 1.0
    master = _random_master(1)
    weight, mant = split_master(jnp.asarray(master))
    opt = mantissa_master(optax.identity(), tuple, lambda shape: scale, lrs, wd)
    state = opt.init(weight)
    np.testing.assert_array_equal(np.asarray(state.mantissa), 0)  # upstream's zeros_like
    # from the truncated weight and a zero mantissa, as upstream starts
    master = np.asarray(master_of(weight, jnp.zeros_like(mant)))
    rng = np.random.default_rng(2)
    for k in range(5):
        grad = rng.normal(0, 1, master.shape).astype(np.float32)
        updates, state = opt.update(jnp.asarray(grad, jnp.bfloat16), state, weight)
        weight = optax.apply_updates(weight, updates)
        g = np.asarray(jnp.asarray(grad, jnp.bfloat16).astype(jnp.float32))  # the gradient arrives in bf16
        master = _numpy_step(master, g, wd, lrs[k], scale)
        upper, lower = _halves(master)
        assert weight.dtype == jnp.bfloat16
        np.testing.assert_array_equal(np.asarray(jax.lax.bitcast_convert_type(weight, jnp.uint16)), upper)
        np.testing.assert_array_equal(np.asarray(state.mantissa), lower)


def test_stacked_masters_take_each_matrix_its_multiplier_in_float64():
    """#61's NorMuonAndAdam: a bank (here (3, 2, 8, 4): six matrices) stepped matrix by matrix,
    each with its own multiplier (c_proj, the odd ones, x2), `eff_lr` and `eff_wd` the Python
    products rounded once (`fill_`)."""
    shape, lr, wd = (3, 2, 8, 4), 0.023 * 0.37, 1.2
    master = _random_master(5, shape)
    weight, mant = split_master(jnp.asarray(master))
    master = np.asarray(master_of(weight, jnp.zeros_like(mant)))
    mult = np.asarray([2.0, 4.0] * 3).reshape(6, 1, 1)  # shape scale 2, x2 on the odd matrices
    opt = mantissa_master(optax.identity(), lambda s: (6, 8, 4), lambda s: mult, [lr], wd, products="float64")
    grad = np.random.default_rng(6).normal(0, 1, shape).astype(np.float32)
    updates, state = opt.update(jnp.asarray(grad, jnp.bfloat16), opt.init(weight), weight)
    g = np.asarray(jnp.asarray(grad, jnp.bfloat16).astype(jnp.float32)).reshape(6, 8, 4)
    m = master.reshape(6, 8, 4)
    f = np.float32
    expected = np.stack([
        (m[i] - m[i] * ((g[i] * m[i]) >= 0).astype(f) * f(wd * lr) * f(mult[i, 0, 0] * lr)) - g[i] * f(mult[i, 0, 0] * lr)
        for i in range(6)]).astype(f).reshape(shape)
    upper, lower = _halves(expected)
    np.testing.assert_array_equal(np.asarray(jax.lax.bitcast_convert_type(optax.apply_updates(weight, updates),
                                                                         jnp.uint16)), upper)
    np.testing.assert_array_equal(np.asarray(state.mantissa), lower)


def test_mantissa_master_refuses_float32_weights():
    with pytest.raises(TypeError, match="bf16"):
        mantissa_master(optax.identity(), tuple, lambda shape: 1.0, [0.1], 0.0).init(jnp.zeros((2, 2), jnp.float32))


def test_reference_stand_in_updates_the_halves_as_a_float32_master():
    """`ref.mantissa.cautious_wd_and_update_inplace` on uint16 views, against the float32
    master restated in numpy: #57's step written in place into both halves."""
    master = _random_master(3)
    upper, lower = _halves(master)
    p, m = torch.from_numpy(upper.copy()), torch.from_numpy(lower.copy())
    grad = torch.randn(master.shape, generator=torch.Generator().manual_seed(4)).to(torch.bfloat16)
    lr = 0.023 * 0.7
    eff_wd, eff_lr = torch.tensor([1.2]) * lr, torch.tensor([2.0]) * lr  # upstream's float32 CPU tensors
    mantissa.cautious_wd_and_update_inplace(p, m, grad, eff_wd[0], eff_lr[0])
    up, low = _halves(_numpy_step(master, grad.float().numpy(), 1.2, lr, 2.0))
    np.testing.assert_array_equal(p.numpy(), up)
    np.testing.assert_array_equal(m.numpy(), low)


def test_reference_stand_in_binds_only_the_mantissa_form():
    from types import ModuleType

    def with_mantissa(p, mantissa, grad, wd_tensor, lr_tensor):
        raise AssertionError("the stand-in replaces it")

    def without(p, v, wd_tensor, lr_tensor):  # #48-#56: eager torch, kept
        return "upstream's"

    new, old = ModuleType("r57"), ModuleType("r56")
    new.cautious_wd_and_update_inplace, old.cautious_wd_and_update_inplace = with_mantissa, without
    assert mantissa.install(new) and new.cautious_wd_and_update_inplace is mantissa.cautious_wd_and_update_inplace
    assert not mantissa.install(old) and old.cautious_wd_and_update_inplace is without
