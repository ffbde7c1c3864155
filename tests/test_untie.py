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


class _HeadT(eqx.Module):
    head: jax.Array  # (d, V), as #61 stores it
    embed: jax.Array  # (V, d)


def test_synced_transposed_untie_folds_syncs_and_copies_transposed():
    """#61's tie: each parameter sums its own gradients until the head's Adam steps (every 2nd
    step); then embed's sum is added to the head's (transposed, rounded to the head's bf16),
    the head steps on that, embed takes its transpose; at the split (after step 3) embed's
    moments become the head's transposed, and afterwards each takes its own gradients."""
    from jnano.optim.transforms import step_every

    rng = np.random.default_rng(3)
    head = jnp.asarray(rng.normal(size=(3, 5)), jnp.bfloat16)
    params = _HeadT(head, jnp.asarray(rng.normal(size=(5, 3)), jnp.float32))  # embed not yet synced
    adam = step_every(2, dist_adam(lambda count: 0.01, state_dtype="float32"))
    groups = optax.multi_transform({"h": adam, "e": adam}, _HeadT("h", "e"))
    opt = copy_parameter_at(groups, 3, "head", "embed", "h", "e", _HeadT, synced_transpose=True, src_every=2)
    state = opt.init(params)
    grads = [_HeadT(jnp.asarray(rng.normal(size=(3, 5)), jnp.bfloat16), jnp.asarray(rng.normal(size=(5, 3)), jnp.float32))
             for _ in range(6)]
    for step in range(6):
        before = params
        updates, state = opt.update(grads[step], state, params)
        params = optax.apply_updates(params, updates)
        h = state.inner.inner_states["h"].inner_state.inner
        if step in (0, 2):  # Adam waits: nothing moves, embed not synced yet at step 0
            np.testing.assert_array_equal(np.asarray(params.head, np.float32), np.asarray(before.head, np.float32))
            np.testing.assert_array_equal(params.embed, before.embed)
        if step == 1:  # the head stepped on its two gradients plus embed's, transposed, in bf16
            summed = (np.asarray(grads[0].head, np.float32) + np.asarray(grads[1].head, np.float32))
            summed = np.asarray(jnp.asarray(summed, jnp.bfloat16), np.float32)
            folded = summed + (np.asarray(grads[0].embed) + np.asarray(grads[1].embed)).T
            folded = np.asarray(jnp.asarray(folded, jnp.bfloat16), np.float32)
            np.testing.assert_allclose(np.asarray(h.exp_avg.head), (1 - 0.8) * folded, rtol=1e-6)
        if step in (1, 3):  # embed is the head's transpose after each Adam step (an update: to an ulp)
            ulp = float(np.spacing(np.abs(np.asarray(before.embed)).max()))
            np.testing.assert_allclose(params.embed, np.asarray(params.head, np.float32).T, rtol=0, atol=ulp)
        if step == 3:  # the split: embed's moments are the head's, transposed
            e = state.inner.inner_states["e"].inner_state.inner
            np.testing.assert_array_equal(e.exp_avg.embed, h.exp_avg.head.T)
            np.testing.assert_array_equal(e.exp_avg_sq.embed, h.exp_avg_sq.head.T)
            assert int(e.count) == int(h.count) == 2
    # after the split embed steps on its own gradients
    assert not np.array_equal(params.embed, np.asarray(params.head, np.float32).T)
