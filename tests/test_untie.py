"""Record #53's pieces on their own: the multi-token loss against a torch restatement of its
forward, the untie's copy of a parameter and its Adam state, and the host schedules."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from jnano import hparams as hp
from jnano.nn.losses import cross_entropy_sum_in, multi_token_cross_entropy_sum_in
from jnano.optim import dist_adam
from jnano.optim.untie import copy_parameter_at


def _torch_multi_token(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """#53's training loss written from its description: per token t and horizon k, the
    cross entropy of target t + k, zero where t + k runs past the end, weighted and summed."""
    n, horizon = targets.shape[0], weights.shape[0]
    lse = torch.logsumexp(logits, dim=-1)
    total = torch.zeros((), dtype=torch.float64)
    for k in range(horizon):
        for_k = lse[: n - k] - logits[torch.arange(n - k), targets[k:]]
        total = total + weights[k].double() * for_k.double().sum()
    return total


@pytest.mark.parametrize("weights", [[1.0, 0.5, 0.25], [1.0, 0.3125, 0.0], [1.0, 0.0, 0.0]])
def test_multi_token_loss_is_the_weighted_shifted_cross_entropy(weights):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(37, 11)).astype(np.float32)
    targets = rng.integers(0, 11, size=37)
    w = np.asarray(weights, np.float32)
    ours = float(multi_token_cross_entropy_sum_in(jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(w)))
    theirs = float(_torch_multi_token(torch.from_numpy(logits), torch.from_numpy(targets), torch.from_numpy(w)))
    assert ours == pytest.approx(theirs, rel=1e-6)
    if weights[1] == 0:  # the last third: upstream's plain F.cross_entropy(..., reduction="sum")
        plain = float(cross_entropy_sum_in(jnp.asarray(logits), jnp.asarray(targets)))
        assert ours == plain


def test_multi_token_weights_and_untie_steps_follow_the_record():
    w = hp.MultiTokenWeights()
    assert w.weights(0, 1880).tolist() == [1.0, 0.5, 0.25]
    assert w.weights(940, 1880).tolist() == pytest.approx([1.0, 0.5 * (1 - (3 * 0.5 - 1)), 0.0])
    assert w.weights(1300, 1880).tolist() == [1.0, 0.0, 0.0]
    u = hp.UntieAt()
    assert u.split_step(1880) == 1254  # math.ceil(2/3 * 1880)
    assert u.copy_step(1880) == 1253  # `split_step - 2 | 1`: (1252) | 1
    assert u.copy_step(1881) == 1253  # split 1254 as well
    assert u.split_step(8) == 6 and u.copy_step(8) == 5
    assert not u.untied(1253, 1880) and u.untied(1254, 1880)


class _Pair(eqx.Module):
    head: jax.Array
    embed: jax.Array


def test_copy_parameter_at_copies_value_and_adam_state_once():
    params = _Pair(jnp.asarray(np.random.default_rng(1).normal(size=(4, 3)), jnp.float32),
                   jnp.asarray(np.random.default_rng(2).normal(size=(4, 3)), jnp.float32))
    adam = dist_adam(lambda count: 0.01, state_dtype="bfloat16")
    groups = optax.multi_transform({"h": adam, "e": adam}, _Pair("h", "e"))
    opt = copy_parameter_at(groups, 1, "head", "embed", "h", "e", _Pair)
    state = opt.init(params)
    grads = _Pair(jnp.ones((4, 3)), jnp.zeros((4, 3)))
    for step in range(3):
        updates, state = opt.update(grads, state, params)
        old = np.abs(np.asarray(params.embed)).max()
        params = eqx.apply_updates(params, updates)
        h, e = state.inner.inner_states["h"].inner_state, state.inner.inner_states["e"].inner_state
        if step == 1:  # after the copy: the same value (an update, so within an ulp of what it
            # replaced), moments and count
            np.testing.assert_allclose(params.embed, params.head, rtol=0, atol=float(np.spacing(old)))
            np.testing.assert_array_equal(e.exp_avg.embed, h.exp_avg.head)
            np.testing.assert_array_equal(e.exp_avg_sq.embed, h.exp_avg_sq.head)
            assert int(e.count) == int(h.count) == 2
        if step == 0:
            assert int(e.count) == 1 and not np.any(np.asarray(e.exp_avg.embed, np.float32))
    # after the copy each goes its own way: embed's zero gradients only decay its moments
    assert not np.array_equal(params.embed, params.head)
