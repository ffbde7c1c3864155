"""Optimizer pieces against PyTorch and against their defining properties."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from jnano import hparams as hp
from jnano.optim import build_optimizer, multiplier, newton_schulz5
from jnano.optim.muon import muon_record4_direction
from jnano.optim.transforms import clip_grad_norm_like_torch, normalize_each

rng = np.random.default_rng(0)


# --- schedules ----------------------------------------------------------------------------------


def test_cosine_with_warmup_values():
    s = hp.CosineWithWarmup(warmup=10, num_iterations=110, final_frac=0.1)
    m = lambda t: float(multiplier(s, t))  # noqa: E731
    assert m(0) == pytest.approx(1 / 10)
    assert m(9) == pytest.approx(1.0)
    assert m(10) == pytest.approx(1.0)
    assert m(60) == pytest.approx(0.1 + 0.5 * 0.9)  # halfway: cos(pi/2) = 0
    assert m(110) == pytest.approx(0.1)
    assert m(200) == pytest.approx(0.1)


def test_trapezoid_values_and_no_warmup():
    s = hp.Trapezoid(warmup=4, warmdown=10, num_iterations=100)
    m = lambda t: float(multiplier(s, t))  # noqa: E731
    assert [m(t) for t in (0, 3, 4, 89)] == pytest.approx([0.25, 1.0, 1.0, 1.0])
    assert m(90) == pytest.approx(1.0) and m(95) == pytest.approx(0.5) and m(100) == pytest.approx(0.0)
    s0 = hp.Trapezoid(warmup=0, warmdown=10, num_iterations=100)
    assert float(multiplier(s0, 0)) == 1.0


def test_schedule_is_traced_not_recompiled():
    s = hp.Trapezoid(warmup=4, warmdown=10, num_iterations=100)
    f = jax.jit(lambda t: multiplier(s, t))
    [f(jnp.int32(t)) for t in range(20)]
    assert f._cache_size() == 1


# --- gradient transforms ------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.1, 10.0])
def test_clip_matches_torch_clip_grad_norm(scale):
    grads = [rng.standard_normal(s).astype(np.float32) * scale for s in [(5, 3), (7,)]]
    params = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    ours, _ = clip_grad_norm_like_torch(1.0).update([jnp.asarray(g) for g in grads], optax.EmptyState())
    for o, p in zip(ours, params):
        np.testing.assert_allclose(np.asarray(o), p.grad.numpy(), rtol=1e-6)


def test_normalize_each():
    g = {"a": jnp.asarray(rng.standard_normal((4, 4)), jnp.float32), "b": jnp.zeros(3)}
    out, _ = normalize_each(1e-6).update(g, optax.EmptyState())
    assert float(jnp.linalg.norm(out["a"])) == pytest.approx(1.0, rel=1e-5)
    assert not np.asarray(out["b"]).any()  # zero stays zero: the +eps keeps it finite


# --- Newton-Schulz and Muon ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(32, 32), (48, 16), (16, 48)])
def test_newton_schulz_orthogonalises(shape):
    G = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    X = np.asarray(newton_schulz5(G, dtype=jnp.float32), np.float64)
    s = np.linalg.svd(X, compute_uv=False)
    # the quintic does not converge to 1: it lands the singular values in about [0.7, 1.2]
    assert s.min() > 0.6 and s.max() < 1.25
    U, _, Vt = np.linalg.svd(np.asarray(G, np.float64), full_matrices=False)
    cos = np.sum(X * (U @ Vt)) / (np.linalg.norm(X) * np.linalg.norm(U @ Vt))
    assert cos > 0.98  # close to the orthogonal polar factor U V^T


def test_newton_schulz_bf16_follows_fp32():
    G = jnp.asarray(rng.standard_normal((32, 64)), jnp.float32)
    a = np.asarray(newton_schulz5(G, dtype=jnp.bfloat16))
    b = np.asarray(newton_schulz5(G, dtype=jnp.float32))
    assert a.dtype == np.float32
    assert np.linalg.norm(a - b) / np.linalg.norm(b) < 0.05


def test_newton_schulz_equals_eager_torch_formula_in_bf16():
    """Record #3/#4's iteration written with torch's eager bf16 ops (scalars in fp32 opmath,
    `c * A @ B` associating as `(c*A) @ B`); at this size both are bit-identical."""
    G = (rng.standard_normal((48, 16)) * 0.01).astype(np.float32)
    t = torch.from_numpy(G)
    X = (t.bfloat16() / (t.norm() + 1e-7)).T
    for _ in range(5):
        A = torch.matmul(X, X.T)
        B = torch.matmul(A, X)
        X = torch.add(torch.add(X.mul(3.4445), B.mul(-4.7750)), torch.matmul(A.mul(2.0315), B))
    expected = X.T.float().numpy()
    ours = np.asarray(jax.jit(newton_schulz5)(jnp.asarray(G)))
    np.testing.assert_array_equal(ours, expected)


def test_record4_direction_splits_qkv_and_scales():
    g = jnp.asarray(rng.standard_normal((96, 32)), jnp.float32)  # rows = 3 x cols
    out = np.asarray(muon_record4_direction(g, 5, jnp.float32))
    blocks = [np.asarray(newton_schulz5(b, dtype=jnp.float32)) for b in jnp.split(g, 3)]  # noqa: E501
    np.testing.assert_allclose(out, np.concatenate(blocks) * math.sqrt(32), rtol=1e-6)
    h = jnp.asarray(rng.standard_normal((64, 32)), jnp.float32)  # not QKV: whole, sqrt(max)
    np.testing.assert_allclose(np.asarray(muon_record4_direction(h, 5, jnp.float32)),
                               np.asarray(newton_schulz5(h, dtype=jnp.float32)) * 8.0, rtol=1e-6)


# --- whole recipes against torch.optim ----------------------------------------------------------


class Toy(eqx.Module):
    w: jax.Array
    b: jax.Array


def test_adamw_groups_match_torch_adamw():
    recipe = hp.OptimizerRecipe(
        groups=(hp.Group("decay", hp.Select(min_ndim=2), hp.AdamW(lr=1e-2, weight_decay=0.1)),
                hp.Group("plain", hp.Select(max_ndim=1), hp.AdamW(lr=1e-2))),
        schedule=hp.Trapezoid(warmup=2, warmdown=2, num_iterations=6),
    )
    w0, b0 = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    model = Toy(jnp.asarray(w0), jnp.asarray(b0))
    opt = build_optimizer(recipe, model)
    state = opt.init(model)
    tw, tb = torch.nn.Parameter(torch.from_numpy(w0.copy())), torch.nn.Parameter(torch.from_numpy(b0.copy()))
    topt = torch.optim.AdamW([{"params": [tw], "weight_decay": 0.1}, {"params": [tb], "weight_decay": 0.0}],
                             lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    for step in range(6):
        gw, gb = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
        updates, state = opt.update(Toy(jnp.asarray(gw), jnp.asarray(gb)), state, model)
        model = eqx.apply_updates(model, updates)
        lr = 1e-2 * float(multiplier(recipe.schedule, step))
        for group in topt.param_groups:
            group["lr"] = lr
        tw.grad, tb.grad = torch.from_numpy(gw), torch.from_numpy(gb)
        topt.step()
    np.testing.assert_allclose(np.asarray(model.w), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model.b), tb.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_unmatched_parameter_names_the_groups():
    recipe = hp.OptimizerRecipe(groups=(hp.Group("only", hp.Select(("w",)), hp.AdamW(lr=1.0)),),
                                schedule=hp.Trapezoid(0, 1, 10))
    with pytest.raises(ValueError, match="'b'.*matches no optimizer group"):
        build_optimizer(recipe, Toy(jnp.zeros((2, 2)), jnp.zeros(2))).init(Toy(jnp.zeros((2, 2)), jnp.zeros(2)))


def test_with_rules_changes_only_rules_that_have_the_field():
    from jnano import records

    r = records.get(4).optimizer.with_rules(ns_dtype="float32")
    assert r.groups[1].rule.ns_dtype == "float32"
    assert r.groups[0].rule == records.get(4).optimizer.groups[0].rule
