"""Optimizer rules and schedules of records #12-#25, against torch re-statements of their formulas.

The torch code here restates the math of the record files in a few ops (lerp momentum, batched
Newton-Schulz, DistAdam, get_lr); it is not upstream's code.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from jnano import hparams as hp
from jnano.optim import (Orthogonalizer, build_optimizer, dist_adam, lerp_weights, multiplier,
                         nesterov_orthogonalized, newton_schulz5, torch_lerp)

rng = np.random.default_rng(12)


def _f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# --- learning-rate schedules ---------------------------------------------------------------------


def _get_lr_18(it, n, cooldown_frac=0.4):  # #18: time remaining t, cooldown to 0
    t = 1 - it / n
    return 1.0 if t >= cooldown_frac else t / cooldown_frac


def _get_lr_19(it, n, cooldown_frac=0.4):  # #19-#21b, #24, #25: min form, floor 0.1
    w = min((1 - it / n) / cooldown_frac, 1.0)
    kept = w * 1.0
    return kept + (1 - w) * 0.1


def _get_lr_21c(it, n, cooldown_frac=0.4):  # #21c-#23: branch form, floor 0.1
    x = it / n
    if x < 1 - cooldown_frac:
        return 1.0
    w = (1 - x) / cooldown_frac
    kept = w * 1.0
    return kept + (1 - w) * 0.1


@pytest.mark.parametrize("n", [1393, 1770, 1750, 1390])
def test_cooldown_to_floor_matches_upstream_get_lr(n):
    f = jax.jit(lambda s, sched: multiplier(sched, s), static_argnums=1)
    steps = np.arange(n + 1)
    zero = np.asarray(jax.vmap(lambda s: multiplier(hp.CooldownToFloor(n, 0.4, 0.0), s))(steps))
    tenth = np.asarray(jax.vmap(lambda s: multiplier(hp.CooldownToFloor(n, 0.4, 0.1), s))(steps))
    # #18 asserts t > 0, so it never evaluates it = N; the min form does
    np.testing.assert_allclose(zero[:n], [_get_lr_18(s, n) for s in range(n)], rtol=0, atol=1e-6)
    np.testing.assert_allclose(tenth, [_get_lr_19(s, n) for s in range(n + 1)], rtol=0, atol=1e-6)
    np.testing.assert_allclose(tenth[:n], [_get_lr_21c(s, n) for s in range(n)], rtol=0, atol=1e-6)
    assert zero[0] == 1.0 and tenth[0] == 1.0 and tenth[n] == pytest.approx(0.1, abs=1e-7)
    assert float(f(jnp.int32(0), hp.CooldownToFloor(n, 0.4, 0.1))) == 1.0


def _get_lr_35(step, n, cooldown_frac=0.5):  # #35: x held below 1 through the extension steps
    x = min(0.9999, step / n)
    if x >= 1 - cooldown_frac:
        w = (1 - x) / cooldown_frac
        return w + (1 - w) * 0.1
    return 1.0


def test_cooldown_extension_holds_35s_clamped_floor():
    n, ext = 1640, 40
    sched = hp.CooldownToFloor(n, 0.5, 0.1, extension=ext)
    got = np.asarray(jax.vmap(lambda s: multiplier(sched, s))(np.arange(n + ext)))
    np.testing.assert_allclose(got, [_get_lr_35(s, n) for s in range(n + ext)], rtol=0, atol=1e-6)
    assert sched.steps == n + ext and got[-1] == pytest.approx(0.1 + 0.9 * 0.0002, abs=1e-6)


def test_cooldown_to_floor_is_traced_not_recompiled():
    s = hp.CooldownToFloor(100, 0.4, 0.1)
    f = jax.jit(lambda t: multiplier(s, t))
    vals = [float(f(jnp.int32(t))) for t in range(100)]
    assert f._cache_size() == 1
    assert vals[59] == 1.0 and vals[60] == pytest.approx(1.0, abs=1e-6) and vals[80] == pytest.approx(0.55, abs=1e-6)


@pytest.mark.parametrize("warmdown,n", [(562, 3000), (640, 1750), (600, 1530), (600, 1480)])
def test_trapezoid_without_warmup_is_get_lr_of_records_12_to_17(warmdown, n):
    def get_lr(it):  # #12-#17 with warmup_iters = 0
        return 1.0 if it < n - warmdown else (n - it) / warmdown

    got = np.asarray(jax.vmap(lambda s: multiplier(hp.Trapezoid(0, warmdown, n), s))(np.arange(n + 1)))
    np.testing.assert_allclose(got, [get_lr(s) for s in range(n + 1)], rtol=0, atol=1e-6)


# --- lerp momentum (#15 on) ----------------------------------------------------------------------


@pytest.mark.parametrize("weight", [0.05, 0.15, 0.95, 0.85, 0.5, 0.4999, 1 - 0.9, 0.123456])
def test_torch_lerp_bit_exact(weight):
    a, b = _f32(64, 48), _f32(64, 48, scale=3.0)
    expected = torch.lerp(torch.from_numpy(a), torch.from_numpy(b), weight).numpy()
    ours = np.asarray(torch_lerp(jnp.asarray(a), jnp.asarray(b), np.float32(weight)))
    np.testing.assert_array_equal(ours, expected)
    # a traced weight (the momentum warmup) compiles to the same arithmetic
    traced = jax.jit(lambda x, y, w: torch_lerp(x, y, w))(a, b, jnp.float32(weight))
    np.testing.assert_array_equal(np.asarray(traced), expected)
    # and the naive formula is not what torch computes (the fma matters)
    naive = a + np.float32(weight) * (b - a)
    assert (naive != expected).any()


def test_lerp_weights_are_float32_of_python_float64():
    warmup = (0.85, 0.95, 300)
    for step in [*range(0, 310), 1000]:
        frac = min(step / 300, 1)  # upstream's Python, in float64
        mu = (1 - frac) * 0.85 + frac * 0.95
        w_grad, w_buf = lerp_weights(jnp.int32(step), 0.95, warmup)
        assert np.float32(w_grad) == np.float32(1 - mu) and np.float32(w_buf) == np.float32(mu), step
    w_grad, w_buf = lerp_weights(jnp.int32(7), 0.95, None)
    assert w_grad == np.float32(1 - 0.95) and w_buf == np.float32(0.95)
    assert np.float32(1 - 0.95) != np.float32(1) - np.float32(0.95)  # why the table exists


def _identity(leaves, stack_sharding=None):
    return leaves


def test_lerp_momentum_bit_exact_against_torch_lerp_():
    """#15's `buf.lerp_(g, 1 - mu); g = g.lerp_(buf, mu)` over a momentum warmup, bit for bit."""
    warmup = (0.85, 0.95, 3)
    tx = nesterov_orthogonalized(_identity, 0.95, True, warmup, momentum_form="lerp")
    shapes = [(32, 16), (3, 8, 8)]
    state = tx.init([jnp.zeros(s, jnp.float32) for s in shapes])
    tbuf = [torch.zeros(s) for s in shapes]
    update = jax.jit(tx.update)
    for step in range(6):
        grads = [_f32(*s) for s in shapes]
        eff, state = update([jnp.asarray(g) for g in grads], state)
        frac = min(step / 3, 1)
        mu = (1 - frac) * 0.85 + frac * 0.95
        for k, g in enumerate(grads):
            tg = torch.from_numpy(g.copy())
            tbuf[k].lerp_(tg, 1 - mu)
            tg.lerp_(tbuf[k], mu)
            np.testing.assert_array_equal(np.asarray(state.momentum_buffer[k]), tbuf[k].numpy())
            np.testing.assert_array_equal(np.asarray(eff[k]), tg.numpy())


def test_hold_warmup_and_cooldown_are_39s_update_optimizer_params():
    """#39 sets the momentum only while step < 300 (then it holds at step 299's 0.94967) and,
    after step N + ext - 50, cools it back to 0.85 (restated from its update_optimizer_params)."""
    from jnano.optim.muon import momentum_table

    total, cd = 2420, 50
    expected, mu = [], 0.95
    for step in range(total + 1):
        if step < 300:
            mu = 0.85 + step / 300 * (0.95 - 0.85)
        if step > total - cd:
            mu = 0.95 - (step - (total - cd)) / cd * (0.95 - 0.85)
        expected.append(mu)
    table = momentum_table((0.85, 0.95, 300), "hold", cd, total)
    np.testing.assert_array_equal(table, expected)
    assert table[1000] == pytest.approx(0.94967, abs=1e-5) and table[-1] == pytest.approx(0.85)
    w_grad, w_buf = lerp_weights(jnp.int32(2400), 0.95, (0.85, 0.95, 300), "hold", cd, total)
    assert float(w_buf) == np.float32(expected[2400]) and float(w_grad) == np.float32(1 - expected[2400])


def test_set_warmup_is_41s_get_muon_momentum():
    """#41: warmup, then 0.95 again; the warmup's branch comes first (short runs)."""
    from jnano.optim.muon import momentum_table

    def get_muon_momentum(step, total):  # restated from #41
        start = total - 50
        if step < 300:
            return 0.85 + step / 300 * (0.95 - 0.85)
        if step > start:
            return 0.95 - (step - start) / 50 * (0.95 - 0.85)
        return 0.95

    for total in (2315, 10):
        np.testing.assert_array_equal(momentum_table((0.85, 0.95, 300), "set", 50, total),
                                      [get_muon_momentum(s, total) for s in range(max(total, 300) + 1)])


def test_extension_cools_spreads_41s_cooldown_over_every_step():
    sched = hp.CooldownToFloor(2275, 0.45, 0.1, extension=40, extension_cools=True)
    got = np.asarray(jax.vmap(lambda s: multiplier(sched, s))(np.arange(2315)))
    want = [1.0 if s / 2315 < 0.55 else (1 - s / 2315) / 0.45 + (1 - (1 - s / 2315) / 0.45) * 0.1
            for s in range(2315)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(16, 48), (48, 16)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_normuon_step_is_41s(shape, dtype):
    """#41's NorMuon lines (restated in torch) on an orthogonalised update: fp32 bit for bit,
    bf16 to the few elements a different summation order flips; it changes the update."""
    from jnano.optim.muon import normuon

    g = np.random.default_rng(41)
    v = torch.from_numpy(g.standard_normal(shape).astype(np.float32) * 0.2).to(dtype)
    rows = shape[0] >= shape[1]
    second = torch.from_numpy(g.random((shape[0], 1) if rows else (1, shape[1])).astype(np.float32))
    vt, buf = v.clone(), second.clone()
    vnorm = vt.norm(dim=(-2, -1), keepdim=True)
    v_mean = torch.mean(vt * vt, dim=-1 if rows else -2, keepdim=True)
    buf.lerp_(v_mean.float(), 1 - 0.95)
    vt.mul_(1 / buf.sqrt().clamp_min(1e-10))
    vt.mul_(vnorm / vt.norm(dim=(-2, -1), keepdim=True).clamp_min(1e-10))
    jdt = jnp.float32 if dtype == torch.float32 else jnp.bfloat16
    ours, ours_buf = jax.jit(lambda a, b: normuon(a, b, 0.95))(jnp.asarray(v.float().numpy()).astype(jdt),
                                                                jnp.asarray(second.numpy()))
    ours = np.asarray(ours.astype(jnp.float32))
    if dtype == torch.float32:
        np.testing.assert_array_equal(np.asarray(ours_buf), buf.numpy())
        np.testing.assert_allclose(ours, vt.numpy(), rtol=2e-6, atol=1e-7)
    else:
        assert np.mean(ours == vt.float().numpy()) > 0.95
        np.testing.assert_allclose(ours, vt.float().numpy(), rtol=2 ** -7, atol=1e-3)
    assert np.abs(ours - v.float().numpy()).max() > 0.05


def test_normuon_per_block_is_42s_bank_view():
    """#42: a flat (16, 64) bank is normalised as four (16, 16) blocks (norms and column means
    per block, the axis from the flat shape), restated in torch from #42's lines."""
    from jnano.optim.muon import normuon, normuon_axis

    g = np.random.default_rng(42)
    v = torch.from_numpy(g.standard_normal((16, 64)).astype(np.float32) * 0.2)
    second = torch.from_numpy(g.random((4, 1, 16)).astype(np.float32))
    view, buf = v.clone().view(4, 16, 16), second.clone()
    v_norm = view.norm(dim=(-2, -1), keepdim=True)
    buf.lerp_(view.square().mean(dim=-2, keepdim=True), 1 - 0.95)
    view.mul_(buf.clamp_min(1e-10).rsqrt())
    view.mul_(v_norm / view.norm(dim=(-2, -1), keepdim=True).clamp_min(1e-10))
    ours, ours_buf = normuon(jnp.asarray(v.numpy()).reshape(4, 16, 16), jnp.asarray(second.numpy()), 0.95,
                             normuon_axis((16, 64)))
    np.testing.assert_allclose(np.asarray(ours).reshape(16, 64), view.reshape(16, 64).numpy(), rtol=2e-6, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(ours_buf), buf.numpy())
    whole, _ = normuon(jnp.asarray(v.numpy()), jnp.asarray(second.numpy().transpose(1, 0, 2).reshape(1, 64)), 0.95)
    assert np.abs(np.asarray(whole) - np.asarray(ours).reshape(16, 64)).max() > 1e-2  # #41's form differs


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_normuon_is_48s(dtype):
    """#48's fused variance reduction, restated in torch on a (4, 16, 16) row-block bank view
    (per row): fp32 means from the unrounded v, norms derived from them, one rounded factor."""
    from jnano.optim.muon import normuon, normuon_fused

    g = np.random.default_rng(48)
    v = torch.from_numpy(g.standard_normal((4, 16, 16)).astype(np.float32) * 0.2).to(dtype)
    second = torch.from_numpy(g.random((4, 16, 1)).astype(np.float32))
    means = v.float().square().mean(dim=-1, keepdim=True)
    norm_before = (means.sum(dim=(-2, -1), keepdim=True) * 16).sqrt()
    buf = torch.lerp(second, means, 1 - 0.95)
    step = buf.clamp_min(1e-10).rsqrt()
    norm_after = (means * 16 * step.square()).sum(dim=(-2, -1), keepdim=True).sqrt()
    want = v * (step * (norm_before / norm_after.clamp_min(1e-10))).to(dtype)
    jdt = jnp.float32 if dtype == torch.float32 else jnp.bfloat16
    args = (jnp.asarray(v.float().numpy()).astype(jdt), jnp.asarray(second.numpy()), 0.95, -1)
    ours, ours_buf = jax.jit(normuon_fused, static_argnums=(2, 3))(*args)
    # fp32 means of 16 terms: a summation order and mean's divide can move the last bit
    np.testing.assert_allclose(np.asarray(ours_buf), buf.numpy(), rtol=2.4e-7)
    ours = np.asarray(ours.astype(jnp.float32))
    if dtype == torch.float32:
        np.testing.assert_allclose(ours, want.numpy(), rtol=2e-6, atol=1e-7)
    else:  # the same up to a summation order that flips a few roundings
        assert np.mean(ours == want.float().numpy()) > 0.95
        separate, _ = normuon(*args)  # #41's rounding points: a different bf16 result
        assert np.mean(np.asarray(separate.astype(jnp.float32)) == ours) < 0.95


def test_cautious_weight_decay_follows_the_sign_of_v_times_p():
    """#43: decay only where the update already has the weight's sign (a zero counts as agreeing);
    the sum rounds once to v's dtype."""
    from jnano.optim.muon import cautious_weight_decay

    v = jnp.asarray([0.5, -0.5, 0.0, 0.25], jnp.bfloat16)
    p = jnp.asarray([1.0, 1.0, -2.0, -1.0], jnp.float32)
    out = cautious_weight_decay(v, p, 0.1)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(out, np.float32), np.asarray([0.6, -0.5, -0.2, 0.25], jnp.bfloat16)
                                  .astype(np.float32))


def test_float64_step_sizes_are_42s_python_floats():
    """#42's DistAdam: `t` a Python int, `lr * (bias2 ** 0.5 / bias1)` in float64 at the odd
    step's `initial_lr * get_lr(step)`, rounded once to float32."""
    from jnano.optim.build import _float64_step_sizes

    sched = hp.CooldownToFloor(2245, 0.5, 0.1, extension=40)
    rule = hp.DistAdam(lr=0.008 * 75, betas=(0.65, 0.95), every=2, step_size_float64=True)

    def get_lr(step):  # restated from #42
        x = min(0.9999, step / 2245)
        if x >= 1 - 0.5:
            w = (1 - x) / 0.5
            return w + (1 - w) * 0.1
        return 1.0

    table = _float64_step_sizes(rule, sched)
    for k in (0, 1, 7, 600, 1100, 1142):
        t, step = k + 1, 2 * k + 1
        want = np.float32(0.008 * 75 * get_lr(step) * ((1 - 0.95 ** t) ** 0.5 / (1 - 0.65 ** t)))
        assert table[k] == want, k
    assert len(table) == 1143 + 1


def test_step_every_two_sums_the_gradients_and_steps_at_the_odd_steps_lr():
    """#39's Adam: nothing on even steps, then Adam (its own count 1, 2, ...) on the two steps'
    summed gradients at the odd step's lr."""
    from jnano.optim.transforms import step_every

    def inner_update(g, count, params=None):  # returns what it was given, plus its own count
        return jax.tree.map(lambda x: x + 100.0 * count, g), count + 1

    tx = step_every(2, optax.GradientTransformation(lambda p: jnp.int32(0), inner_update))
    state = tx.init(jnp.zeros(3))
    outs = []
    for k in range(4):
        u, state = jax.jit(tx.update)(jnp.full(3, float(k + 1)), state)
        outs.append(float(u[0]))
    assert outs == [0.0, 1.0 + 2.0, 0.0, 3.0 + 4.0 + 100.0]
    rec = build_optimizer(hp.OptimizerRecipe(groups=(hp.Group("a", hp.Select(), hp.DistAdam(lr=0.1, every=2)),),
                                             schedule=hp.CooldownToFloor(10, 0.5, 0.1)), {"w": jnp.ones(4)})
    st = rec.init({"w": jnp.ones(4)})
    u0, st = rec.update({"w": jnp.full(4, 1.0)}, st, {"w": jnp.ones(4)})
    u1, st = rec.update({"w": jnp.full(4, 3.0)}, st, {"w": jnp.ones(4)})
    assert float(jnp.abs(u0["w"]).max()) == 0.0
    # Adam's first step is -lr * sign(g) (here m / sqrt(v) = 1), at step 1's lr (1.0)
    np.testing.assert_allclose(np.asarray(u1["w"]), -0.1, rtol=1e-6)


def test_lerp_form_is_a_rescaled_sum_form_only_at_constant_momentum():
    """At constant mu the lerp buffers are (1-mu) x the sum buffers, and NS undoes the factor;
    during the warmup the two forms weight past gradients differently."""
    orth = Orthogonalizer(ns_dtype=jnp.float32, normalize="rounded", form="record11", scale="max1_ratio")
    grads = [[jnp.asarray(_f32(32, 16))] for _ in range(4)]

    def run(form, warmup):
        tx = nesterov_orthogonalized(orth, 0.95, True, warmup, momentum_form=form)
        state = tx.init(grads[0])
        for g in grads:
            out, state = tx.update(g, state)
        return np.asarray(out[0])

    const_sum, const_lerp = run("sum", None), run("lerp", None)
    rel = np.linalg.norm(const_sum - const_lerp) / np.linalg.norm(const_sum)
    assert rel < 1e-4
    warm_sum, warm_lerp = run("sum", (0.5, 0.95, 10)), run("lerp", (0.5, 0.95, 10))
    assert np.linalg.norm(warm_sum - warm_lerp) / np.linalg.norm(warm_sum) > 1e-2
    with pytest.raises(ValueError, match="momentum_form"):
        nesterov_orthogonalized(orth, momentum_form="ema")


# --- Newton-Schulz of #18/#20 and 3-D parameters ----------------------------------------------------


def _torch_ns_20(G):
    """#20's batched NS restated: bf16, transpose tall, per-matrix norm over (-2, -1), quintic."""
    a, b, c = 3.4445, -4.7750, 2.0315
    X = G.bfloat16()
    tall = G.size(-2) > G.size(-1)
    if tall:
        X = X.mT
    frob = X.norm(dim=(-2, -1), keepdim=True)
    X = X / (frob + 1e-7)
    for _ in range(5):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    return X.mT if tall else X


def _torch_ns_12(G):
    """#12-#17's NS restated: normalise first (in place), then transpose."""
    a, b, c = 3.4445, -4.7750, 2.0315
    X = G.bfloat16()
    X /= X.norm() + 1e-7
    tall = G.size(0) > G.size(1)
    if tall:
        X = X.T
    for _ in range(5):
        A = X @ X.T
        B = b * A + c * A @ A
        X = a * X + B @ X
    return X.T if tall else X


@pytest.mark.parametrize("shape", [(16, 16), (48, 16), (16, 48)])
def test_transpose_before_normalising_changes_nothing(shape):
    """#18 moved the transpose before the normalisation and #20 batched it: same values as #12."""
    G = torch.from_numpy(_f32(*shape, scale=0.01))
    np.testing.assert_array_equal(_torch_ns_20(G).float().numpy(), _torch_ns_12(G).float().numpy())
    ours = np.asarray(jax.jit(lambda g: newton_schulz5(g, normalize="rounded", form="record11"))(G.numpy()))
    np.testing.assert_allclose(ours, _torch_ns_12(G).float().numpy(), rtol=0, atol=2 ** -7)


def test_qkv_3d_is_orthogonalised_slice_by_slice():
    orth = Orthogonalizer(normalize="rounded", form="record11", scale="max1_ratio")
    qkv = jnp.asarray(_f32(3, 32, 32))
    qkv = qkv.at[1].multiply(100.0)  # per-slice norms: a shared norm would shrink slices 0 and 2
    other = jnp.asarray(_f32(32, 32))
    out_qkv, out_other = jax.jit(orth)([qkv, other])
    per_slice = np.stack([np.asarray(orth([qkv[i]])[0]) for i in range(3)])
    np.testing.assert_array_equal(np.asarray(out_qkv), per_slice)
    np.testing.assert_array_equal(np.asarray(out_other), np.asarray(orth([other])[0]))
    ref = _torch_ns_20(torch.from_numpy(np.array(qkv))).float().numpy()
    np.testing.assert_allclose(np.asarray(out_qkv), ref, rtol=0, atol=2 ** -7)
    for i in range(3):  # each slice is near-orthogonal on its own
        s = np.linalg.svd(np.asarray(out_qkv[i], np.float64), compute_uv=False)
        assert 0.5 < s.min() and s.max() < 1.3
    # a tall 3-D parameter: each (48, 16) slice scaled by sqrt(48/16), in float32
    tall = jnp.asarray(_f32(2, 48, 16))
    got = np.asarray(orth([tall])[0])
    for i in range(2):
        np.testing.assert_allclose(got[i], np.asarray(orth([tall[i]])[0]), rtol=0, atol=0)
        np.testing.assert_allclose(got[i], np.asarray(newton_schulz5(tall[i], normalize="rounded",
                                                                      form="record11")) * math.sqrt(3), rtol=1e-7)


def test_flat_bank_is_orthogonalised_as_its_four_blocks():
    """#36: a flat (d, 4d) attention bank gets #35's update of its (4, d, d) view; an MLP matrix
    of the same shape in a group without `bank` is orthogonalised whole."""
    plain = Orthogonalizer(normalize="rounded", form="triton27", scale="max1_ratio")
    banked = Orthogonalizer(normalize="rounded", form="triton27", scale="max1_ratio", bank=4)
    flat = jnp.asarray(_f32(32, 128))
    stacked = flat.reshape(4, 32, 32)
    got = np.asarray(jax.jit(banked)([flat])[0])
    np.testing.assert_array_equal(got, np.asarray(jax.jit(plain)([stacked])[0]).reshape(32, 128))
    whole = np.asarray(jax.jit(plain)([flat])[0])
    assert np.abs(whole - got).max() > 0.1  # a different function: the four blocks are not one matrix
    for block in got.reshape(4, 32, 32):
        s = np.linalg.svd(block.astype(np.float64), compute_uv=False)
        assert 0.5 < s.min() and s.max() < 1.3


def test_update_dtype_none_keeps_the_scale_unrounded():
    """#15 on: `p.add_(u, alpha=-lr*scale)`; #6-#14 round `u*scale` in a bf16 buffer."""
    g = jnp.asarray(_f32(48, 16))
    u = np.asarray(newton_schulz5(g, normalize="rounded", form="record11"))
    kw = dict(normalize="rounded", form="record11", scale="max1_ratio")
    plain = np.asarray(Orthogonalizer(**kw)([g])[0])
    rounded = np.asarray(Orthogonalizer(**kw, update_dtype=jnp.bfloat16)([g])[0])
    np.testing.assert_array_equal(plain, (u * np.float32(math.sqrt(3))))
    np.testing.assert_array_equal(rounded, np.asarray(jnp.asarray(u * np.float32(math.sqrt(3))).astype(jnp.bfloat16),
                                                      np.float32))
    assert (plain != rounded).any()
    # with scale 2 (c_fc) the two agree: doubling a bf16 value is exact
    h = jnp.asarray(_f32(64, 16))
    np.testing.assert_array_equal(np.asarray(Orthogonalizer(**{**kw, "scale": "max_dim"})([h])[0]),
                                  np.asarray(Orthogonalizer(**{**kw, "scale": "max_dim"},
                                                            update_dtype=jnp.bfloat16)([h])[0]))


class QKVToy(eqx.Module):
    qkv_w: jax.Array
    c_fc: jax.Array


def test_muon_20_step_matches_torch_restatement():
    """A #20-style Muon over 4 steps: lerp momentum with warmup, batched NS on the 3-D qkv_w,
    `p.add_(u, alpha=-lr * sqrt(max(1, rows/cols)))`, lr from CooldownToFloor."""
    n = 4
    rule = hp.Muon(lr=0.05, ns_normalize="rounded", ns_form="record11", qkv_split=False, scale="max1_ratio",
                   momentum_warmup=(0.85, 0.95, 300), momentum_form="lerp")
    recipe = hp.OptimizerRecipe(groups=(hp.Group("muon", hp.Select(min_ndim=2), rule),),
                                schedule=hp.CooldownToFloor(n, 0.4, 0.1))
    p0 = QKVToy(jnp.asarray(_f32(3, 16, 16, scale=0.1)), jnp.asarray(_f32(64, 16, scale=0.1)))
    opt = build_optimizer(recipe, p0)
    state = opt.init(p0)
    step_fn = jax.jit(opt.update)
    model = p0
    tp = [torch.from_numpy(np.asarray(p0.qkv_w).copy()), torch.from_numpy(np.asarray(p0.c_fc).copy())]
    tbuf = [torch.zeros_like(t) for t in tp]
    for step in range(n):
        grads = [_f32(3, 16, 16), _f32(64, 16)]
        updates, state = step_fn(QKVToy(*map(jnp.asarray, grads)), state, model)
        model = eqx.apply_updates(model, updates)
        frac = min(step / 300, 1)
        mu = (1 - frac) * 0.85 + frac * 0.95
        lr = 0.05 * _get_lr_19(step, n)
        for p, buf, g in zip(tp, tbuf, grads):
            g = torch.from_numpy(g.copy())  # lerp_ writes in place; JAX may still read `grads`
            buf.lerp_(g, 1 - mu)
            g = g.lerp_(buf, mu)
            p.add_(_torch_ns_20(g), alpha=-lr * max(1, p.size(-2) / p.size(-1)) ** 0.5)
    # NS in bf16: a flipped rounding moves an entry by ~1 bf16 ulp of the update (|u| < 2)
    for ours, ref in zip([model.qkv_w, model.c_fc], tp):
        np.testing.assert_allclose(np.asarray(ours), ref.numpy(), rtol=0, atol=4 * 0.05 * 2 * 2 ** -8)
        assert np.abs(np.asarray(ours) - ref.numpy()).mean() < 1e-5


# --- Adam: torch.optim.Adam (#12-#23) and DistAdam (#24, #25) ------------------------------------


class Toy(eqx.Module):
    w: jax.Array
    b: jax.Array


def test_adamw_without_decay_is_torch_adam_of_records_20_to_23():
    recipe = hp.OptimizerRecipe(groups=(hp.Group("adam", hp.Select(), hp.AdamW(lr=0.04, betas=(0.8, 0.95),
                                                                                 eps=1e-10)),),
                                schedule=hp.CooldownToFloor(3, 0.4, 0.1))
    w0, b0 = _f32(6, 4), _f32(4)
    model = Toy(jnp.asarray(w0), jnp.asarray(b0))
    opt = build_optimizer(recipe, model)
    state = opt.init(model)
    tw, tb = torch.nn.Parameter(torch.from_numpy(w0.copy())), torch.nn.Parameter(torch.from_numpy(b0.copy()))
    topt = torch.optim.Adam([tw, tb], lr=0.04, betas=(0.8, 0.95), eps=1e-10)
    for step in range(3):
        gw, gb = _f32(6, 4), _f32(4, scale=1e-3)
        updates, state = opt.update(Toy(jnp.asarray(gw), jnp.asarray(gb)), state, model)
        model = eqx.apply_updates(model, updates)
        topt.param_groups[0]["lr"] = 0.04 * _get_lr_19(step, 3)
        tw.grad, tb.grad = torch.from_numpy(gw), torch.from_numpy(gb)
        topt.step()
    # relative 1e-6, and one fp32 ulp at the weights' scale (~2: 2.4e-7) for an entry that the
    # steps carried near zero, whose rounding is that of the larger values it came from (one in
    # 24 measured 2.6e-8 off, 1.5e-6 of itself, on an AMD EPYC host)
    np.testing.assert_allclose(np.asarray(model.w), tw.detach().numpy(), rtol=1e-6, atol=2.4e-7)
    np.testing.assert_allclose(np.asarray(model.b), tb.detach().numpy(), rtol=1e-6, atol=2.4e-7)


def _torch_dist_adam_step(p, g, m, v, t, lr, b1, b2, eps, wd=0.0, cautious_wd=0.0):
    """DistAdam's per-parameter step restated with torch ops, each stored in the parameter's dtype.

    Each op runs on float32 copies and is stored back, as CUDA computes bf16 ops (opmath) for
    upstream. (Eager CPU torch differs in one place: `add_(g, alpha=a)` on bf16 rounds `a` to
    bf16 first, as torchgen's CPU ufunc kernels take scalars as scalar_t, CUDA's as opmath_t.)
    """
    def op(dst, value):
        dst.copy_(value)

    f = torch.Tensor.float
    if wd:
        op(p, f(p).mul_(1 - lr * wd))
    op(m, f(m).mul_(b1))
    op(m, f(m).add_(f(g), alpha=1 - b1))
    op(v, f(v).mul_(b2))
    op(v, f(v).addcmul_(f(g), f(g), value=1 - b2))
    tt = torch.tensor(t, dtype=torch.int64)
    step_size = lr * (torch.sqrt(1 - b2 ** tt) / (1 - b1 ** tt))
    denom = f(v).sqrt().to(p.dtype)
    denom = f(denom).add_(eps).to(p.dtype)
    update = f(m).div(f(denom)).to(p.dtype)
    update = f(update).mul_(step_size).to(p.dtype)
    if cautious_wd:  # #50
        update = f(update).addcmul_(f(p), f(update) * f(p) >= 0, value=lr * cautious_wd * lr).to(p.dtype)
    op(p, f(p).sub_(f(update)))


def _run_dist_adam(dtype, wd=0.0, steps=5, lr=0.6, grad_scale=1.0, cautious_wd=0.0):
    global rng
    rng = np.random.default_rng(5)  # the same weights and gradients on every call: runs compare
    recipe = hp.OptimizerRecipe(
        groups=(hp.Group("adam", hp.Select(), hp.DistAdam(lr=lr, weight_decay=wd, cautious_weight_decay=cautious_wd)),),
        schedule=hp.CooldownToFloor(steps, 0.4, 0.1))
    w0, b0 = _f32(16, 8), _f32(8)
    model = Toy(jnp.asarray(w0).astype(dtype), jnp.asarray(b0).astype(dtype))
    opt = build_optimizer(recipe, model)
    state = opt.init(model)
    update = jax.jit(opt.update)
    tdt = {jnp.float32: torch.float32, jnp.bfloat16: torch.bfloat16}[dtype]
    tp = [torch.from_numpy(np.array(x, np.float32)).to(tdt) for x in (model.w, model.b)]
    tm, tv = [torch.zeros_like(x) for x in tp], [torch.zeros_like(x) for x in tp]
    for step in range(steps):
        grads = [_f32(16, 8, scale=grad_scale), _f32(8, scale=grad_scale)]
        gj = Toy(*(jnp.asarray(g).astype(dtype) for g in grads))
        updates, state = update(gj, state, model)
        model = eqx.apply_updates(model, updates)
        for k in range(2):
            g = torch.from_numpy(np.array(jax.tree.leaves(gj)[k], np.float32)).to(tdt)
            _torch_dist_adam_step(tp[k], g, tm[k], tv[k], step + 1, lr * _get_lr_19(step, steps), 0.8, 0.95,
                                  1e-10, wd, cautious_wd)
    return model, state, tp, tm, tv


def test_dist_adam_matches_torch_restatement_fp32():
    model, state, tp, tm, tv = _run_dist_adam(jnp.float32)
    # params of order 1 move by up to lr = 0.6 a step; where one crosses zero, the last-bit
    # differences of lr (float32 here, float64 upstream) show as ~3e-7 absolute
    for ours, ref in zip((model.w, model.b), tp):
        np.testing.assert_allclose(np.asarray(ours), ref.numpy(), rtol=1e-6, atol=1e-6)
    # float32: XLA contracts `b1*m + (1-b1)*g` to one fma where torch rounds `m*b1` first, an ulp
    for ours, ref in zip(jax.tree.leaves(state[0].inner_states["adam"].inner_state.exp_avg_sq), tv):
        np.testing.assert_allclose(np.asarray(ours), ref.numpy(), rtol=1e-6)


def test_dist_adam_with_weight_decay_matches_torch_restatement():
    model, _, tp, _, _ = _run_dist_adam(jnp.float32, wd=0.1)
    for ours, ref in zip((model.w, model.b), tp):
        np.testing.assert_allclose(np.asarray(ours), ref.numpy(), rtol=1e-6, atol=1e-6)
    plain, _, _, _, _ = _run_dist_adam(jnp.float32)  # and the decay did something
    assert np.abs(np.asarray(plain.w) - np.asarray(model.w)).max() > 1e-3


def test_dist_adam_cautious_decay_matches_torch_restatement():
    """#50: the decay `lr * wd * lr` where update and weight agree in sign, wired through the
    host's float64 lrs (`build._float64_decay_sizes`), bit for bit on bf16 weights."""
    model, _, tp, _, _ = _run_dist_adam(jnp.bfloat16, cautious_wd=0.05)
    for ours, ref in zip((model.w, model.b), tp):
        np.testing.assert_array_equal(np.asarray(ours, np.float32), ref.float().numpy())
    plain, _, _, _, _ = _run_dist_adam(jnp.bfloat16)
    assert np.abs(np.asarray(plain.w, np.float32) - np.asarray(model.w, np.float32)).max() > 1e-2


def test_dist_adam_bf16_state_and_params_follow_torch_bf16():
    """Embeddings are bf16 in #24/#25: moments stored and every op rounded in bf16."""
    model, state, tp, tm, tv = _run_dist_adam(jnp.bfloat16)
    inner = state[0].inner_states["adam"].inner_state
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves((inner.exp_avg, inner.exp_avg_sq)))
    for ours, ref in zip(jax.tree.leaves(inner.exp_avg), tm):
        np.testing.assert_array_equal(np.asarray(ours, np.float32), ref.float().numpy())
    for ours, ref in zip(jax.tree.leaves(inner.exp_avg_sq), tv):
        np.testing.assert_array_equal(np.asarray(ours, np.float32), ref.float().numpy())
    # bf16 rounding after every op leaves XLA nothing to contract: bit for bit (on CPU)
    for ours, ref in zip((model.w, model.b), tp):
        np.testing.assert_array_equal(np.asarray(ours, np.float32), ref.float().numpy())


def test_dist_adam_eps_placement_differs_from_torch_adam_on_tiny_gradients():
    """Step 1: Adam moves by lr*g/(|g| + eps), DistAdam by lr*g/(|g| + eps/sqrt(1-b2))."""
    lr, eps, b2 = 1e-3, 1e-10, 0.95
    for scale, close in [(1.0, True), (1e-9, False)]:
        g = _f32(32, scale=scale)
        tx = dist_adam(lambda count: lr, 0.8, b2, eps)
        upd, _ = tx.update(jnp.asarray(g), tx.init(jnp.zeros(32)))
        p = torch.nn.Parameter(torch.zeros(32))
        adam = torch.optim.Adam([p], lr=lr, betas=(0.8, b2), eps=eps)
        p.grad = torch.from_numpy(g)
        adam.step()
        ours, torch_adam = np.asarray(upd), p.detach().numpy()
        expected = -lr * g / (np.abs(g) + eps / np.sqrt(1 - b2))
        np.testing.assert_allclose(ours, expected, rtol=1e-5)
        if close:
            np.testing.assert_allclose(ours, torch_adam, rtol=1e-6)
        else:  # |g| = 1e-9: the ratio (|g|+eps)/(|g|+4.47 eps) is about 0.7, far from 1
            ratio = ours / torch_adam
            np.testing.assert_allclose(ratio, (np.abs(g) + eps) / (np.abs(g) + eps / np.sqrt(1 - b2)), rtol=1e-5)
            assert ratio.max() < 0.95


def _torch_ns_triton27(G: torch.Tensor) -> torch.Tensor:
    """#27's `newton_schulz_triton` on the CPU: its Triton lines through ref.kernels' stand-ins,
    its third line torch's own `baddbmm`/`addmm` (fp32 accumulation, one rounding)."""
    from jnano.optim.newton_schulz import NS5_COEFFS
    from ref import kernels

    a, b, c = NS5_COEFFS
    X = G.bfloat16()
    if G.size(-2) > G.size(-1):
        X = X.mT
    X = (X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)).contiguous()
    A = torch.empty((*X.shape[:-1], X.size(-2)), dtype=X.dtype)
    B = torch.empty_like(A)
    line3 = torch.baddbmm if X.ndim > 2 else torch.addmm
    for _ in range(5):
        kernels.ns_line_1(X, out=A)
        kernels.ns_line_2(A, alpha=c, beta=b, out=B)
        X = line3(X, B, X, beta=a)
    return X.mT if G.size(-2) > G.size(-1) else X


@pytest.mark.parametrize("shape", [(16, 64), (64, 16)])
def test_triton27_form_rounds_where_the_kernels_round(shape):
    """Each fused line rounds once to bf16: equal to the CPU restatement of #27's Triton
    Newton-Schulz but for the few elements where two BLAS libraries sum in a different order;
    #11's form (every product and sum rounded) is measurably further away."""
    from jnano.optim import newton_schulz5

    G = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    expected = _torch_ns_triton27(torch.from_numpy(G)).float().numpy()
    ours = np.asarray(jax.jit(lambda g: newton_schulz5(g, normalize="rounded", form="triton27"))(jnp.asarray(G)))
    record11 = np.asarray(newton_schulz5(jnp.asarray(G), normalize="rounded", form="record11"))
    err = np.linalg.norm(ours - expected) / np.linalg.norm(expected)
    err11 = np.linalg.norm(record11 - expected) / np.linalg.norm(expected)
    assert np.mean(ours == expected) > 0.95 and err < 2e-3
    assert err11 > 2 * err


def _torch_polar_express_38(G: torch.Tensor) -> torch.Tensor:
    """#38's `polar_express` on the CPU: five tuned (a, b, c), the norm taken with a 2% margin."""
    from jnano.hparams import POLAR_EXPRESS_COEFFS
    from ref import kernels

    X = G.bfloat16()
    if G.size(-2) > G.size(-1):
        X = X.mT
    X = (X / (X.norm(dim=(-2, -1), keepdim=True) * (1 + 0.02) + 1e-6)).contiguous()
    A = torch.empty((*X.shape[:-1], X.size(-2)), dtype=X.dtype)
    B = torch.empty_like(A)
    line3 = torch.baddbmm if X.ndim > 2 else torch.addmm
    for a, b, c in POLAR_EXPRESS_COEFFS:
        kernels.ns_line_1(X, out=A)
        kernels.ns_line_2(A, alpha=c, beta=b, out=B)
        X = line3(X, B, X, beta=a)
    return X.mT if G.size(-2) > G.size(-1) else X


@pytest.mark.parametrize("shape", [(16, 64), (64, 16), (1, 12)])
def test_polar_express_is_38s_iteration(shape):
    """#38: the CPU restatement in bf16, to the few elements where BLAS libraries sum in another
    order; in fp32 the singular values land near 1 (tall, wide and #34's 1 x 12 gate)."""
    from jnano.hparams import POLAR_EXPRESS_COEFFS
    from jnano.optim import newton_schulz5

    G = np.random.default_rng(38).standard_normal(shape).astype(np.float32)
    pe = dict(normalize="polar38", form="triton27", coefficients=POLAR_EXPRESS_COEFFS)
    expected = _torch_polar_express_38(torch.from_numpy(G)).float().numpy()
    ours = np.asarray(jax.jit(lambda g: newton_schulz5(g, **pe))(jnp.asarray(G)))
    err = np.linalg.norm(ours - expected) / np.linalg.norm(expected)
    assert np.mean(ours == expected) > 0.9 and err < 5e-3
    quintic = np.asarray(jax.jit(lambda g: newton_schulz5(g, normalize="rounded", form="triton27"))(jnp.asarray(G)))
    assert np.linalg.norm(quintic - expected) / np.linalg.norm(expected) > 10 * err
    s = np.linalg.svd(np.asarray(newton_schulz5(jnp.asarray(G), dtype=jnp.float32, **pe), np.float64), compute_uv=False)
    assert 0.7 < s.min() and s.max() < 1.2


def test_dist_adam_bf16_moments_match_eager_cpu_torch_with_cpu_scalar_semantics():
    """#32 keeps Adam's moments in bf16 for fp32 parameters. With `scalar_semantics="cpu"`, two
    steps equal upstream's ops run eagerly on the CPU bit for bit; "cuda" (as the record ran)
    differs only where `add_(eps)` met a tiny denominator (CPU rounds eps to bf16 first)."""
    g0, g1 = (np.random.default_rng(s).standard_normal(4096).astype(np.float32) * 10.0 ** -np.linspace(0, 7, 4096)
              for s in (0, 1))
    m = torch.zeros(4096, dtype=torch.bfloat16)
    v = torch.zeros(4096, dtype=torch.bfloat16)
    expected = []
    for t, g in enumerate((g0, g1), start=1):
        gt = torch.from_numpy(g)
        m.mul_(0.8).add_(gt, alpha=1 - 0.8)
        v.mul_(0.95).addcmul_(gt, gt, value=1 - 0.95)
        tt = torch.tensor(t, dtype=torch.int64)
        step_size = 0.6 * (torch.sqrt(1 - 0.95 ** tt) / (1 - 0.8 ** tt))
        expected.append(m.div(v.sqrt().add_(1e-8)).mul_(step_size).float().numpy())
    for semantics in ("cpu", "cuda"):
        tx = dist_adam(lambda c: 0.6, 0.8, 0.95, 1e-8, 0.0, "bfloat16", semantics)
        state = tx.init({"w": jnp.zeros(4096)})
        got = []
        for g in (g0, g1):
            u, state = jax.jit(tx.update)({"w": jnp.asarray(g)}, state)
            got.append(-np.asarray(u["w"], np.float32))
        same = [np.mean(a == b) for a, b in zip(got, expected)]
        if semantics == "cpu":
            assert same == [1.0, 1.0]
        else:
            assert all(0.95 < s < 1.0 for s in same)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_adam_cautious_decay_is_torchs_addcmul(dtype):
    """#50: `update.addcmul_(p, update * p >= 0, value=lr * wd * lr)` on bf16 moments and fp32 or
    bf16 weights, torch's own op on the CPU against ours."""
    from jnano.optim.dist_adam import cautious_decay

    update = torch.from_numpy(_f32(4096, scale=1e-2)).to(dtype)
    p = torch.from_numpy(_f32(4096)).to(dtype)
    value = 0.6 * 0.005 * 0.6 + 1e-9  # not a bf16 number: its rounding would show
    want = update.clone()
    want.addcmul_(p, update * p >= 0, value=value)
    jdt = jnp.dtype(str(dtype).removeprefix("torch."))
    ours = cautious_decay(jnp.asarray(update.float().numpy()).astype(jdt), jnp.asarray(p.float().numpy()).astype(jdt), value)
    np.testing.assert_array_equal(np.asarray(ours.astype(jnp.float32)), want.float().numpy())
    # where update and weight disagree in sign nothing moves; elsewhere some entries do
    disagree = (update.float() * p.float() < 0).numpy()
    moved = np.asarray(ours.astype(jnp.float32)) != update.float().numpy()
    assert disagree.any() and not moved[disagree].any() and moved[~disagree].any()


def test_stage_transitions_are_52s_get_ws_and_get_bs_changes():
    """#52's `is_transition`: where `int(3 * x)` (x = step / N, float64) steps up in get_ws /
    get_bs, and step N, where the extension's final window starts."""
    from jnano.optim.schedules import frozen_steps, stage_transitions

    sched = hp.StagedCooldown(1960, 0.55, 0.1, peaks=((1 / 3, 1.51), (2 / 3, 1.93)), extension=40)

    def stage(step):  # restated from #52's get_ws / get_bs
        return 3 if step >= 1960 else int(3 * (step / 1960))

    want = [s for s in range(1, 2000) if stage(s) != stage(s - 1)]
    assert stage_transitions(sched) == want == [654, 1307, 1960]
    frozen = frozen_steps(sched, 40)
    assert frozen[654:694].all() and not frozen[653] and not frozen[694] and frozen[1960:2000].all()


def test_a_frozen_step_every_drops_its_gradients_and_holds_its_count():
    """#52: on frozen steps no update, no inner step, the gradients (and any summed before) dropped;
    the inner rule's count resumes where it stopped."""
    from jnano.optim.transforms import step_every

    frozen = np.array([False, False, False, True, True, False, False, False])
    inner = optax.scale_by_schedule(lambda count: count + 1.0)  # its k-th step scales by k + 1
    tx = step_every(2, inner, frozen)
    state = tx.init(jnp.zeros(()))
    got = []
    for step in range(8):
        update, state = tx.update(jnp.asarray(float(2 ** step)), state)
        got.append(float(update))
    # step 1: (1 + 2) x 1; steps 2-4 dropped (4 summed at 2, then frozen 3 and 4); step 5: its own 32 x 2;
    # step 7: (64 + 128) x 3
    assert got == [0, 3, 0, 0, 0, 64, 0, 576]


@pytest.mark.parametrize("field", ["normuon_form", "normuon_axis"])
def test_a_misspelt_normuon_option_is_refused(field):
    with pytest.raises(ValueError, match=field):
        hp.Muon(lr=0.02, **{field: "row"})
