"""Stage pieces a golden check covers only as a whole, tested on their own."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnano
from jnano.stages import s23_partial_key_offset as s23
from parity import setup
from parity.weights import parity_state_dict

# parity's CI shape at a small vocabulary (no BOS in it: one document per row)
SHAPE_49 = {**setup.shape("49"), "vocab_size": 1024}


def test_partial_key_offset_shifts_only_the_stationary_quarters():
    """#49: `k[:, 1:, :, d/4:d/2] = k[:, :-1, :, d/4:d/2]`, the same for [3d/4, d), read before
    written; restated with explicit loops."""
    k = np.random.default_rng(0).normal(size=(2, 7, 3, 16)).astype(np.float32)
    expected = k.copy()
    for t in range(1, 7):
        for d in (*range(4, 8), *range(12, 16)):
            expected[:, t, :, d] = k[:, t - 1, :, d]
    np.testing.assert_array_equal(np.asarray(s23.offset_stationary_keys(jnp.asarray(k))), expected)


def test_49_is_48_without_its_empty_block():
    """11 blocks, all with an MLP, none with attention at 6; the two long-window layers (3, 10)
    offset their keys; the value tables start at zero."""
    model = jnano.build_model("49", **SHAPE_49)
    assert len(model.blocks) == 11 and all(b.mlp is not None for b in model.blocks)
    assert [i for i, b in enumerate(model.blocks) if b.attn is None] == [6]
    offset = [i for i, b in enumerate(model.blocks) if isinstance(b.attn, s23.KeyOffsetAttention)]
    assert offset == [i for i, w in enumerate(s23.LAYER_WINDOWS) if w == "L"] == [3, 10]
    assert all(not np.asarray(t.weight).any() for t in model.value_embeds)


def test_49s_block_zero_takes_the_summed_lambdas():
    """Block 0 scales its input by resid_0 + x0_0 (there x is x0): moving weight from one
    lambda to the other leaves the function unchanged, unlike at block 1 (random weights)."""
    model = jnano.from_state_dict("49", parity_state_dict("49", 0, SHAPE_49), **SHAPE_49)
    idx = jnp.asarray(np.random.default_rng(1).integers(0, 1024, (1, 256)))
    n = model.config.n_layer

    def moved(block: int):
        scalars = model.scalars.at[block].add(-0.25).at[n + block].add(0.25)
        return np.asarray(jnano.logits(eqx.tree_at(lambda m: m.scalars, model, scalars), idx))

    base = np.asarray(jnano.logits(model, idx))
    np.testing.assert_allclose(moved(0), base, rtol=0, atol=1e-5)
    assert np.abs(moved(1) - base).max() > 1e-3


def test_51_embeds_with_the_heads_rows():
    """#51: no `embed`; the head (drawn N(0, 0.005)) is the embedding. Moving the head's row of
    an input token moves every logit, not only that token's column: the stream starts from it."""
    shape = {**SHAPE_49, "head_fp8": None}
    model = jnano.from_state_dict("51", parity_state_dict("51", 0, shape), **shape)
    assert "embed.weight" not in jnano.to_state_dict(jnano.build_model("51", **shape))
    assert abs(float(jnano.build_model("51", **shape).lm_head.weight.std()) - 0.005) < 2e-4
    idx = jnp.asarray(np.random.default_rng(2).integers(0, 1024, (1, 128)))
    token = int(idx[0, 5])
    moved = eqx.tree_at(lambda m: m.lm_head.weight, model, model.lm_head.weight.at[token].multiply(3.0))
    before, after = np.asarray(jnano.logits(model, idx)), np.asarray(jnano.logits(moved, idx))
    others = np.arange(before.shape[-1]) != token
    assert np.abs(after[..., others] - before[..., others]).max() > 1e-3


def test_64s_mimetic_init_makes_v_o_near_minus_beta_identity():
    """#64 (2026-01-30 MimeticValueOutput): per head, W_V ~ sqrt(b) I and W_O ~ -sqrt(b) I
    (b = 0.05) plus N(0, 0.01): V O^T near -b I, block-diagonal by head; Q and K untouched."""
    import jnano
    from jnano.stages.s31c_mimetic_init import MIMETIC_BETA, MIMETIC_NOISE

    model = jnano.build_model("64", seed=0, n_embd=128, n_head=2)
    bank = np.asarray(model.attn_bank, np.float32)
    d, hd = 128, 64
    v, o = bank[:, 2 * d:3 * d], bank[:, 3 * d:]
    block = np.kron(np.eye(2), np.ones((hd, hd))).astype(bool)
    diag = np.eye(d, dtype=bool)
    assert np.allclose(v[:, diag].mean(), MIMETIC_BETA ** 0.5, atol=3e-3)
    assert np.allclose(o[:, diag].mean(), -MIMETIC_BETA ** 0.5, atol=3e-3)
    assert abs(v[:, ~diag].std() - MIMETIC_NOISE) < 1e-3 and abs(o[:, ~diag].std() - MIMETIC_NOISE) < 1e-3
    vo = np.einsum("lij,lkj->lik", v.astype(np.float64), o.astype(np.float64))
    assert np.allclose(vo[:, diag].mean(), -MIMETIC_BETA, atol=3e-3) and np.abs(vo[:, ~block]).mean() < 0.02
    np.testing.assert_array_equal(bank[:, :2 * d], np.asarray(jnano.build_model("63", seed=0, n_embd=128, n_head=2)
                                                              .attn_bank, np.float32)[:, :2 * d])


@pytest.mark.parametrize("record", ["53", "60"])
def test_multi_token_loss_keeps_each_row_to_itself(record):
    """Upstream trains one row per rank, so the k-th target of a row's last tokens never comes
    from another row: a batch's loss is the mean of its rows' losses taken one by one (#53's
    plain head, #60's fused softcapped loss)."""
    shape = {**setup.shape(record), "vocab_size": 1024, "head_fp8": None}
    model = jnano.from_state_dict(record, parity_state_dict(record, 0, shape), **shape)
    rng = np.random.default_rng(3)
    idx, targets = (jnp.asarray(rng.integers(0, 1024, (2, 128))) for _ in range(2))
    weights = jnp.asarray([1.0, 0.5, 0.25])
    both = float(model.loss(idx, targets, mtp_weights=weights))
    rows = [float(model.loss(idx[r:r + 1], targets[r:r + 1], mtp_weights=weights)) for r in range(2)]
    assert both == pytest.approx(sum(rows) / 2, rel=1e-5)


def test_80s_head_pair_blocks_are_orthogonalised_on_their_own():
    """#80: NorMuon steps every (2 head_dim, d) Q/K block of `qk_bank` apart (a block's update
    reads its own gradient only) and keeps the banks' zero padding zero; the forward reads the
    two banks back as #78's attention bank."""
    shape = {**setup.shape("80"), "vocab_size": 1024, "head_fp8": None}
    model = jnano.build_model("80", seed=0, **shape)
    layers = len(model.attention_layers())
    pairs = layers * 2 * (model.config.n_head // 2)  # a Q and a K block per head pair
    assert model.attention_weights().shape == (layers, 4 * model.config.n_embd, model.config.n_embd)
    assert model.qk_bank.shape[0] % model.config.world_size == 0 and not np.asarray(model.qk_bank[pairs:]).any()
    params = eqx.filter(model, eqx.is_array)
    opt = jnano.optimizer("80", model)
    rng = np.random.default_rng(5)

    def update(qk_grad):
        grads = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), params)
        grads = eqx.tree_at(lambda g: (g.qk_bank, g.vo_bank), grads,
                            (qk_grad, grads.vo_bank.at[2 * layers:].set(0)))  # the padding's gradient is zero
        updates, _ = opt.update(grads, opt.init(params), params)
        return np.asarray(updates.qk_bank, np.float32), np.asarray(updates.vo_bank, np.float32)

    qk_grad = jnp.asarray(rng.normal(size=model.qk_bank.shape), model.qk_bank.dtype).at[pairs:].set(0)
    (qk_a, vo_a), (qk_b, _) = update(qk_grad), update(qk_grad.at[0].multiply(-3.0))
    assert not qk_a[pairs:].any() and not vo_a[2 * layers:].any()
    assert np.abs(qk_a[0] - qk_b[0]).max() > 0
    np.testing.assert_array_equal(qk_a[1:], qk_b[1:])


def test_81s_mudd_bias_reproduces_the_scalars_it_replaced():
    """#81 at init, `dense_w2` zero: every MUDD coefficient is its bias times the scale, so the
    model is #80's with layer 10's lambdas at their init, a backout of 0.5 (-4.34 x the scale)
    and, once its value-gate bias is -1/scale (upstream's `gate + 2` is 1, as #80's `2 sigmoid(0)`),
    layer 10's value gate. Which stream MUDD reads as x0, h7, h9 or the skip cannot show here
    (their coefficients are zero but for h7's): the live and golden parity checks that."""
    from jnano.stages import s41_mudd

    shape = {**setup.shape("81"), "vocab_size": 1024}
    m80, m81 = (jnano.build_model(r, seed=0, **shape) for r in ("80", "81"))
    n = m81.config.n_layer
    np.testing.assert_array_equal(np.delete(np.asarray(m80.scalars), 2 * n + 1)[:2 * n + 2], np.asarray(m81.scalars))
    m81 = eqx.tree_at(lambda m: m.dense_bs, m81, m81.dense_bs.at[0, :, s41_mudd.VALUE_GATE].set(-1 / s41_mudd.SCALE))
    m80 = eqx.tree_at(lambda m: m.scalars, m80, m80.scalars.at[2 * n + 1].set(4.34 * s41_mudd.SCALE))
    idx = jnp.asarray(np.random.default_rng(0).integers(0, 1024, (1, 512)))
    logits = eqx.filter_jit(lambda m: m(idx))
    a, b = np.asarray(logits(m80)), np.asarray(logits(m81))
    np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-5)
    # and layer 10's value gate is MUDD's, not the bank's row: moving that row changes nothing
    moved = eqx.tree_at(lambda m: m.ve_gate_bank, m81, m81.ve_gate_bank.at[-1].set(3.0))
    np.testing.assert_array_equal(np.asarray(logits(moved)), b)


def test_82s_xsa_takes_out_a_learned_share_of_each_heads_own_value():
    """#82: `y - tanh(alpha) (y . v̂) v̂` per head: alpha 0 is #80's model exactly, tanh(alpha) = 1
    leaves each head's output orthogonal to its own value, 1/2 halves that component; a zero value
    (F.normalize's eps) leaves the output alone."""
    from jnano.stages.s42_xsa import without_own_value

    rng = np.random.default_rng(3)
    y, v = (jnp.asarray(rng.normal(size=(1, 5, 2, 8)), jnp.float32) for _ in range(2))
    unit = v / jnp.linalg.norm(v, axis=-1, keepdims=True)
    along = lambda out: np.asarray(jnp.sum(out * unit, -1))  # noqa: E731
    np.testing.assert_allclose(along(without_own_value(y, v, jnp.full(2, 30.0))), 0.0, atol=1e-5)
    np.testing.assert_allclose(along(without_own_value(y, v, jnp.full(2, np.arctanh(0.5)))), along(y) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(without_own_value(y, jnp.zeros_like(v), jnp.ones(2))), np.asarray(y))
    shape = {**setup.shape("82"), "vocab_size": 1024}
    idx = jnp.asarray(rng.integers(0, 1024, (1, 512)))
    m80, m82 = (jnano.build_model(r, seed=0, **shape) for r in ("80", "82"))
    logits = eqx.filter_jit(lambda m: m(idx))
    np.testing.assert_array_equal(np.asarray(logits(m82)), np.asarray(logits(m80)))
    moved = eqx.tree_at(lambda m: m.xsa_alphas, m82, m82.xsa_alphas.at[3].set(1.0))
    assert np.abs(np.asarray(logits(moved)) - np.asarray(logits(m82))).max() > 1e-3


def test_83s_sign_table_is_a_loaded_buffer_that_picks_rows_by_xor():
    """#83: row `(x[t-1] XOR x[t]) mod rows` of the sign table (0 at position 0) multiplies each
    bigram row; the table comes from the state_dict (upstream draws it once and broadcasts it), and
    the optimizer never moves it."""
    from jnano.nn.bigram import bigram_sign_index
    from jnano.state_dict import named_parameters

    x = np.array([5, 9, 9, 8200, 3], np.int32)
    np.testing.assert_array_equal(np.asarray(bigram_sign_index(jnp.asarray(x), 8192)),
                                  [0, 5 ^ 9, 0, (9 ^ 8200) % 8192, (8200 ^ 3) % 8192])
    shape = {**setup.shape("83"), "vocab_size": 1024, "bigram_vocab_size": 4096}
    sd = parity_state_dict("83", 0, shape)
    assert set(np.unique(sd["bigram_sign_table"])) <= {-1.0, 1.0}
    model = jnano.from_state_dict("83", sd, **shape)
    flipped = jnano.from_state_dict("83", {**sd, "bigram_sign_table": -sd["bigram_sign_table"]}, **shape)
    np.testing.assert_array_equal(np.asarray(model.bigram_sign_table, np.float32), sd["bigram_sign_table"])
    idx = jnp.asarray(np.random.default_rng(1).integers(0, 1024, (1, 512)))
    logits = eqx.filter_jit(lambda m: m(idx))
    assert np.abs(np.asarray(logits(model)) - np.asarray(logits(flipped))).max() > 1e-4
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: m.loss(idx, idx)))(model)
    assert not np.asarray(grads.bigram_sign_table, np.float32).any()
    params = eqx.filter(model, eqx.is_array)
    opt = jnano.optimizer("83", model)
    ones = jax.tree.map(jnp.ones_like, params)
    updates, _ = eqx.filter_jit(lambda p: opt.update(ones, opt.init(p), p))(params)
    assert not np.asarray(updates.bigram_sign_table, np.float32).any()
    assert np.asarray(named_parameters(updates)["qk_bank"], np.float32).any()  # (Adam waits for step 1)


def test_85s_composed_attention_reads_its_window_and_document_only():
    """#85's DC correction on layer 10: with w2 = 0 (its init: the gate bias of those columns is 0)
    the base output passes unchanged; a query's correction reads the last 112 keys of its own
    document and nothing else; and the heads share one map, so changing one head's keys moves
    every head's output."""
    from jnano.nn.dc_attention import RECORD_WINDOW, composition_mask, post_only_composition
    from jnano.nn.masks import document_causal

    rng = np.random.default_rng(5)
    T, H, D = 160, 3, 8
    tokens = rng.integers(0, 1000, T)
    tokens[140] = 50256  # a document starts at 140
    mask = composition_mask(document_causal(jnp.asarray(tokens))[None])
    base, q, k, v = (jnp.asarray(rng.normal(size=(1, T, H, D)), jnp.float32) for _ in range(4))
    w1, w2 = (jnp.asarray(rng.normal(size=(1, T, H)), jnp.float32) for _ in range(2))
    np.testing.assert_array_equal(np.asarray(post_only_composition(base, q, k, v, w1, jnp.zeros_like(w2), mask, 0.3)),
                                  np.asarray(base))
    out = np.asarray(post_only_composition(base, q, k, v, w1, w2, mask, 0.3))
    t = 130  # sees keys 19..130 (112 of them)
    far = k.at[0, t - RECORD_WINDOW].add(5.0)  # one key too far back
    moved = np.asarray(post_only_composition(base, q, far, v, w1, w2, mask, 0.3))
    np.testing.assert_array_equal(moved[0, t], out[0, t])
    near = k.at[0, t - RECORD_WINDOW + 1, 0].add(5.0)  # the oldest key it sees, head 0's only
    moved = np.asarray(post_only_composition(base, q, near, v, w1, w2, mask, 0.3))
    assert all(not np.allclose(moved[0, t, h], out[0, t, h]) for h in range(H))
    other_doc = v.at[0, 139].add(5.0)  # the previous document, for a query at 150
    moved = np.asarray(post_only_composition(base, q, k, other_doc, w1, w2, mask, 0.3))
    np.testing.assert_array_equal(moved[0, 150], out[0, 150])
    assert not np.allclose(moved[0, 139], out[0, 139])


def test_86s_xsa_rewrite_is_85s_function_rounded_elsewhere():
    """#86's `y - tanh(a) (y.v / max(|v|^2, 1e-8)) v` is #85's `y - tanh(a) (y.v̂) v̂` (per token
    and head): equal in float32 to its rounding, 1e-6; in bf16 the two round at other points, so
    they are not bit-identical; tanh(a) = 1 leaves y orthogonal to v either way."""
    from jnano.stages.s42_xsa import without_own_value
    from jnano.stages.s46_xsa_rewrite import without_value_component

    rng = np.random.default_rng(7)
    y, v = (jnp.asarray(rng.normal(size=(1, 64, 6, 16)), jnp.float32) for _ in range(2))
    alpha = jnp.asarray(rng.normal(size=(1, 64, 6)), jnp.float32)
    np.testing.assert_allclose(np.asarray(without_value_component(y, v, alpha)),
                               np.asarray(without_own_value(y, v, alpha)), rtol=1e-6, atol=1e-6)
    bf = [a.astype(jnp.bfloat16) for a in (y, v, alpha)]
    assert not np.array_equal(np.asarray(without_value_component(*bf), np.float32),
                              np.asarray(without_own_value(*bf), np.float32))
    out = without_value_component(y, v, jnp.full((1, 64, 6), 30.0))
    np.testing.assert_allclose(np.asarray(jnp.sum(out * v, -1)), 0.0, atol=1e-4)
