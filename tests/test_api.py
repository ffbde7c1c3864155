"""The public API as a researcher uses it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnano

from conftest import SMALL


@pytest.mark.parametrize("record", ["1", "2", "3", "4"])
def test_build_logits_loss(record):
    shape = dict(SMALL, block_size=32) if record == "1" else SMALL
    model = jnano.build_model(record, seed=0, **shape)
    idx = jnp.asarray(np.random.default_rng(0).integers(0, 128, (2, 16)))
    logits = jnano.logits(model, idx)
    assert logits.shape == (2, 16, 128) and logits.dtype == jnp.float32
    loss = float(jnano.loss(model, idx, idx))
    assert np.isfinite(loss)
    # a fresh model predicts close to uniform: loss near ln(vocab)
    assert abs(loss - np.log(128)) < 1.0


def test_seed_and_key_are_deterministic():
    a = jnano.to_state_dict(jnano.build_model(2, seed=5, **SMALL))
    b = jnano.to_state_dict(jnano.build_model(2, key=jax.random.PRNGKey(5), **SMALL))
    c = jnano.to_state_dict(jnano.build_model(2, seed=6, **SMALL))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["transformer.wte.weight"], c["transformer.wte.weight"])


def test_init_distributions_follow_upstream():
    # llm.c: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), zero biases, LN (1, 0)
    sd = jnano.to_state_dict(jnano.build_model(1, seed=0, n_layer=4, block_size=256))
    assert abs(sd["transformer.h.0.mlp.c_fc.weight"].std() - 0.02) < 5e-4
    assert abs(sd["transformer.h.0.mlp.c_proj.weight"].std() - 0.02 / np.sqrt(8)) < 2e-4
    assert not sd["transformer.h.0.attn.c_attn.bias"].any()
    assert (sd["transformer.ln_f.weight"] == 1).all()
    # record #2: PyTorch's default Linear init, U(+-1/sqrt(fan_in)); wte is the tied head
    sd = jnano.to_state_dict(jnano.build_model(2, seed=0, n_layer=2))
    w = sd["transformer.h.0.mlp.c_proj.weight"]
    assert w.max() <= 1 / np.sqrt(3072) and w.min() >= -1 / np.sqrt(3072)
    assert abs(w.std() - 1 / np.sqrt(3 * 3072)) < 1e-4


def test_full_size_parameter_count():
    # GPT-2 small, tied: 124.4M (llm.c) and 123.6M with no wpe/biases/LN (records 2-4)
    assert jnano.param_count(jax.eval_shape(lambda: jnano.build_model(1))) == 124_439_808
    assert jnano.param_count(jax.eval_shape(lambda: jnano.build_model(4))) == 123_532_032


def test_unknown_config_field_is_an_error():
    with pytest.raises(TypeError, match="block_size"):
        jnano.build_model(2, block_size=64)


def test_bad_record_lists_valid():
    with pytest.raises(KeyError, match="valid records"):
        jnano.build_model(123)


def test_optimizer_trains():
    model = jnano.build_model(4, seed=0, **SMALL)
    opt = jnano.optimizer(4, model)
    import equinox as eqx

    state = opt.init(eqx.filter(model, eqx.is_array))
    idx = jnp.asarray(np.random.default_rng(1).integers(0, 128, (4, 16)))

    @eqx.filter_jit
    def step(m, s):
        loss, g = eqx.filter_value_and_grad(lambda m: m.loss(idx[:, :-1], idx[:, 1:]))(m)
        u, s = opt.update(g, s, eqx.filter(m, eqx.is_array))
        return eqx.apply_updates(m, u), s, loss

    losses = []
    for _ in range(8):
        model, state, loss = step(model, state)
        losses.append(float(loss))
    assert losses[-1] < losses[0] - 0.5  # it memorises one batch


def test_loss_and_grads_keyed_like_torch_named_parameters():
    model = jnano.build_model(1, seed=0, **SMALL, block_size=32)
    idx = np.random.default_rng(2).integers(0, 128, (2, 17))
    loss, grads = jnano.loss_and_grads(model, idx[:, :-1], idx[:, 1:])
    assert loss == pytest.approx(float(jnano.loss(model, idx[:, :-1], idx[:, 1:])))
    sd = jnano.to_state_dict(model)
    params = {k for k in sd if not k.endswith(".attn.bias") and k != "lm_head.weight"}
    assert set(grads) == params
    assert all(grads[k].shape == sd[k].shape for k in grads)
