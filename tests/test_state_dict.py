"""state_dict <-> Equinox mapping: round trips, and every way a state_dict can be wrong."""

import numpy as np
import pytest
import torch

import jnano
from jnano.state_dict import StateDictError, named_parameters

from conftest import SMALL


@pytest.fixture(params=["1", "2", "4"])
def record(request):
    return request.param


def small(record):
    return dict(SMALL, block_size=64) if record == "1" else dict(SMALL)


def test_names_are_upstream_keys(record):
    sd = jnano.to_state_dict(jnano.build_model(record, **small(record)))
    assert sd["lm_head.weight"] is sd["transformer.wte.weight"] or np.array_equal(
        sd["lm_head.weight"], sd["transformer.wte.weight"])
    assert "transformer.h.1.attn.c_attn.weight" in sd
    assert sd["transformer.h.1.attn.c_attn.weight"].shape == (3 * 64, 64)  # (out, in)
    if record == "1":
        assert sd["transformer.h.0.attn.bias"].shape == (1, 1, 64, 64)
        assert "transformer.wpe.weight" in sd
    else:
        assert sd["transformer.h.0.attn.rotary.inv_freq"].shape == (8,)  # head_dim 16 / 2


def test_round_trip_is_exact(record):
    model = jnano.build_model(record, seed=3, **small(record))
    sd = jnano.to_state_dict(model)
    again = jnano.from_state_dict(record, sd, n_head=4)
    for (n1, a), (n2, b) in zip(named_parameters(model).items(), named_parameters(again).items()):
        assert n1 == n2 and np.array_equal(np.asarray(a), np.asarray(b))


def test_accepts_torch_tensors_and_infers_shapes(record):
    sd = jnano.to_state_dict(jnano.build_model(record, seed=1, **small(record)))
    tensors = {k: torch.from_numpy(np.array(v)).requires_grad_(v.ndim > 1) for k, v in sd.items()}
    model = jnano.from_state_dict(record, tensors, n_head=4)
    assert model.config.n_layer == 2 and model.config.vocab_size == 128


def test_missing_key_is_named(record):
    sd = jnano.to_state_dict(jnano.build_model(record, **small(record)))
    del sd["transformer.h.1.mlp.c_fc.weight"]
    with pytest.raises(StateDictError, match=r"missing key 'transformer\.h\.1\.mlp\.c_fc\.weight'"):
        jnano.from_state_dict(record, sd, n_head=4)


def test_extra_key_is_named(record):
    sd = jnano.to_state_dict(jnano.build_model(record, **small(record)))
    sd["transformer.h.0.attn.c_q.weight"] = np.zeros((64, 64), np.float32)
    with pytest.raises(StateDictError, match=r"unexpected key\(s\): 'transformer\.h\.0\.attn\.c_q\.weight'"):
        jnano.from_state_dict(record, sd, n_head=4)


def test_misshaped_key_is_named(record):
    sd = jnano.to_state_dict(jnano.build_model(record, **small(record)))
    sd["transformer.h.0.attn.c_proj.weight"] = np.zeros((64, 65), np.float32)
    with pytest.raises(StateDictError, match=r"'transformer\.h\.0\.attn\.c_proj\.weight' has shape \(64, 65\)"):
        jnano.from_state_dict(record, sd, n_head=4)


def test_untied_head_is_rejected(record):
    sd = jnano.to_state_dict(jnano.build_model(record, **small(record)))
    sd["lm_head.weight"] = sd["lm_head.weight"] + 1.0
    with pytest.raises(StateDictError, match=r"'lm_head\.weight' must be tied"):
        jnano.from_state_dict(record, sd, n_head=4)


def test_wrong_buffer_is_rejected():
    sd = jnano.to_state_dict(jnano.build_model("2", **SMALL))
    sd["transformer.h.0.attn.rotary.inv_freq"] = sd["transformer.h.0.attn.rotary.inv_freq"] * 2
    with pytest.raises(StateDictError, match="inv_freq"):
        jnano.from_state_dict("2", sd, n_head=4)


def test_heads_must_divide_width():
    sd = jnano.to_state_dict(jnano.build_model("2", **SMALL))
    with pytest.raises(StateDictError, match="n_head"):
        jnano.from_state_dict("2", sd, n_head=5)


def test_state_dict_of_another_stage_is_rejected():
    sd = jnano.to_state_dict(jnano.build_model("2", **SMALL))
    with pytest.raises(StateDictError):
        jnano.from_state_dict("1", sd, n_head=4)
