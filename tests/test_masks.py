"""Attention masks (jnano.nn.masks) against brute force, and against an emulation of what the
FlexAttention kernel does with each record's kv-block lists (written from the records' rules,
not their code): a token is visible if its kv block is listed "full", or listed "partial" and
the mask_mod allows it; unlisted blocks are skipped."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jnano.nn import masked_attention
from jnano.nn.masks import (
    BLOCK,
    BOS_ID,
    block_window,
    block_window_of_tokens,
    document_causal,
    document_ids,
    left_window,
    short_blocks,
    token_window,
)
from jnano.window_schedule import BLOCKS_16, BLOCKS_18, BLOCKS_19, THIRDS_29, TOKENS_13, TOKENS_15, next_multiple_of_n


def sequence(seq: int, bos: list[int], seed: int = 0) -> np.ndarray:
    tokens = np.random.default_rng(seed).integers(0, BOS_ID, seq)
    tokens[[b for b in bos if b < seq]] = BOS_ID
    return tokens


def layouts(seq: int):
    """Document layouts: none, boundaries mid-block and on block edges, one-token documents."""
    yield []
    yield [0]
    yield [0, 40, 300]
    yield [128, 256]
    yield [5, 6, 7, 200, 383]
    yield list(np.random.default_rng(seq).choice(seq, 6, replace=False))


def brute_doc_causal(tokens: np.ndarray) -> np.ndarray:
    seq = len(tokens)
    last_bos, latest = [], -1  # position of the last BOS at or before each position
    for p, t in enumerate(tokens):
        latest = p if t == BOS_ID else latest
        last_bos.append(latest)
    out = np.zeros((seq, seq), bool)
    for q in range(seq):
        for k in range(q + 1):
            out[q, k] = k >= last_bos[q]  # same document: no BOS in (k, q]
    return out


def doc_causal(tokens: np.ndarray) -> np.ndarray:
    return np.asarray(document_causal(jnp.asarray(tokens)))


@pytest.mark.parametrize("bos", list(layouts(256)))
def test_document_causal_is_brute_force(bos):
    tokens = sequence(256, bos)
    np.testing.assert_array_equal(doc_causal(tokens), brute_doc_causal(tokens))


def test_document_ids_count_bos_at_or_before():
    tokens = sequence(20, [0, 7, 8])
    np.testing.assert_array_equal(np.asarray(document_ids(jnp.asarray(tokens))),
                                  [1] * 7 + [2] + [3] * 12)


@pytest.mark.parametrize("window", [1, 64, 100, 128, 200, 1024])
def test_token_and_block_windows(window):
    seq = 384
    q, k = np.arange(seq)[:, None], np.arange(seq)[None, :]
    np.testing.assert_array_equal(np.asarray(token_window(seq, window)), q - k < window)
    blocks = max(window // 128, 1)
    expected = np.array([[q_ // 128 - k_ // 128 < blocks for k_ in range(seq)] for q_ in range(seq)])
    np.testing.assert_array_equal(np.asarray(block_window(seq, blocks)), expected)


def test_windows_are_traced_values():
    f = jax.jit(lambda w: block_window(256, w) & token_window(256, w * 64))
    for w in range(1, 5):
        f(jnp.int32(w))
    assert f._cache_size() == 1


# --- kernel emulation over kv-block lists ----------------------------------------------------


def kernel_mask(partial: list[list[int]], full: list[list[int]], mask_mod: np.ndarray) -> np.ndarray:
    """The token mask a block-sparse kernel computes from per-query-block lists."""
    seq = mask_mod.shape[0]
    out = np.zeros_like(mask_mod)
    for qb in range(seq // BLOCK):
        rows = slice(qb * BLOCK, (qb + 1) * BLOCK)
        for kb in partial[qb]:
            cols = slice(kb * BLOCK, (kb + 1) * BLOCK)
            out[rows, cols] |= mask_mod[rows, cols]
        for kb in full[qb]:
            out[rows, kb * BLOCK:(kb + 1) * BLOCK] = True
    return out


def block_predicates(tokens: np.ndarray):
    """Per (q block, kv block): does any / every token pair pass the document-causal mask."""
    dc = brute_doc_causal(tokens)
    nb = len(tokens) // BLOCK
    tiles = dc.reshape(nb, BLOCK, nb, BLOCK).transpose(0, 2, 1, 3)
    return tiles.any(axis=(2, 3)), tiles.all(axis=(2, 3)), dc


def lists_16(tokens: np.ndarray, n: int):
    """#16-#19: partial = any & ~all within the window, full = all within the window."""
    any_, all_, dc = block_predicates(tokens)
    nb = any_.shape[0]
    win = lambda qb, kb: qb - kb < n  # noqa: E731
    partial = [[kb for kb in range(nb) if any_[qb, kb] and not all_[qb, kb] and win(qb, kb)] for qb in range(nb)]
    full = [[kb for kb in range(nb) if all_[qb, kb] and win(qb, kb)] for qb in range(nb)]
    return partial, full, dc


def lists_20(tokens: np.ndarray, n: int):
    """#20-#25: unwindowed lists, most recent block first, truncated to `max(n - F, 1)` partial
    and `n - 1` full blocks (a negative count lists nothing)."""
    any_, all_, dc = block_predicates(tokens)
    nb = any_.shape[0]
    partial_all = [[kb for kb in reversed(range(nb)) if any_[qb, kb] and not all_[qb, kb]] for qb in range(nb)]
    full_all = [[kb for kb in reversed(range(nb)) if all_[qb, kb]] for qb in range(nb)]
    partial, full = [], []
    for p, f in zip(partial_all, full_all):
        partial.append(p[:min(len(p), max(n - len(f), 1))])
        full.append(f[:max(min(len(f), n - 1), 0)])
    return partial, full, dc


def lists_15(tokens: np.ndarray, window: int):
    """#15: every listed block partial: causal, document-overlapping, within ceil(w/128) blocks;
    the mask_mod carries the token window."""
    any_, _, dc = block_predicates(tokens)
    nb = any_.shape[0]
    blocks = (window + BLOCK - 1) // BLOCK
    partial = [[kb for kb in range(nb) if any_[qb, kb] and qb - kb < blocks] for qb in range(nb)]
    seq = len(tokens)
    q, k = np.arange(seq)[:, None], np.arange(seq)[None, :]
    return partial, [[] for _ in range(nb)], dc & (q - k < window)


SEQ = 512


@pytest.mark.parametrize("bos,n", list(itertools.product(list(layouts(SEQ)), [1, 2, 3, 5])))
def test_block_window_is_the_kernel_of_16(bos, n):
    tokens = sequence(SEQ, bos)
    expected = kernel_mask(*lists_16(tokens, n))
    ours = doc_causal(tokens) & np.asarray(block_window(SEQ, n))
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("bos,n", list(itertools.product(list(layouts(SEQ)), [1, 2, 3, 4, 5, 14])))
def test_long_and_short_windows_are_the_kernel_of_20(bos, n):
    """#20's truncated lists: long n blocks; short n // 2, which at n = 1 is 0 and keeps only the
    diagonal block (hence `short_blocks` = max(n // 2, 1))."""
    tokens = sequence(SEQ, bos)
    dc = doc_causal(tokens)
    for listed, blocks in ((n, n), (n // 2, int(short_blocks(jnp.int32(n))))):
        expected = kernel_mask(*lists_20(tokens, listed))
        np.testing.assert_array_equal(dc & np.asarray(block_window(SEQ, blocks)), expected)


@pytest.mark.parametrize("bos,w", list(itertools.product(list(layouts(SEQ)), [64, 128, 192, 320, 448])))
def test_token_window_in_blocks_is_the_kernel_of_15(bos, w):
    tokens = sequence(SEQ, bos)
    expected = kernel_mask(*lists_15(tokens, w))
    ours = doc_causal(tokens) & np.asarray(block_window_of_tokens(SEQ, w))
    np.testing.assert_array_equal(ours, expected)


def test_15_differs_from_its_mask_mod_alone():
    """Why #15 needs the block lists: a query 5 tokens into a block with w = 128 sees 6 keys,
    not the 128 its mask_mod allows."""
    tokens = sequence(SEQ, [])
    ours = doc_causal(tokens) & np.asarray(block_window_of_tokens(SEQ, 128))
    assert ours[128 + 5].sum() == 6
    assert (doc_causal(tokens) & np.asarray(token_window(SEQ, 128)))[128 + 5].sum() == 128


# --- attention under a mask -------------------------------------------------------------------


def test_masked_attention_is_brute_force_softmax():
    rng = np.random.default_rng(1)
    seq, heads, dim = 256, 2, 16
    q, k, v = (rng.standard_normal((1, seq, heads, dim)).astype(np.float32) for _ in range(3))
    tokens = sequence(seq, [0, 40, 130])
    mask = doc_causal(tokens) & np.asarray(block_window(seq, 1))
    out = np.asarray(masked_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), jnp.asarray(mask), 0.12))
    ref = np.zeros_like(out, dtype=np.float64)
    for h in range(heads):
        s = (q[0, :, h].astype(np.float64) @ k[0, :, h].T.astype(np.float64)) * 0.12
        s = np.where(mask, s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        ref[0, :, h] = (p / p.sum(-1, keepdims=True)) @ v[0, :, h]
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=2e-6)  # fp32 softmax/PV vs float64


def test_per_row_masks_broadcast():
    rng = np.random.default_rng(2)
    q = jnp.asarray(rng.standard_normal((2, 128, 1, 8)).astype(np.float32))
    rows = np.stack([doc_causal(sequence(128, [0, 50])), doc_causal(sequence(128, [0, 90]))])
    both = masked_attention(q, q, q, jnp.asarray(rows), 1.0)
    for b in range(2):
        one = masked_attention(q[b:b + 1], q[b:b + 1], q[b:b + 1], jnp.asarray(rows[b]), 1.0)
        np.testing.assert_array_equal(np.asarray(both[b]), np.asarray(one[0]))


def test_masked_attention_matches_torch_sdpa_with_a_mask():
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((1, 128, 2, 32)).astype(np.float32) for _ in range(3))
    mask = doc_causal(sequence(128, [0, 64]))
    ours = np.asarray(masked_attention(*(jnp.asarray(a) for a in (q, k, v)), jnp.asarray(mask), 0.2))
    t = lambda a: torch.from_numpy(a.copy()).transpose(1, 2)  # noqa: E731
    theirs = torch.nn.functional.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=torch.from_numpy(mask.copy()),
                                                              scale=0.2).transpose(1, 2).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


# --- window schedules -----------------------------------------------------------------------


def test_window_schedules_follow_each_records_float_order():
    """At N = 12, step 4: #13's `4/12*1728` is 575.99..., #19's `1728*4/12` is 576.0."""
    assert TOKENS_13.value(4, 12) == 640 and TOKENS_15.value(4, 12) == 640
    assert [TOKENS_13.value(s, 1750) for s in (0, 875, 1750)] == [64, 896, 1792]  # (864 + 64) // 64 * 64
    assert [BLOCKS_16.value(s, 1480) for s in (0, 1480)] == [1, 14]
    assert [BLOCKS_18.value(s, 1390) for s in (0, 1390)] == [1, 14]
    assert [BLOCKS_19.value(s, 1770) for s in (0, 1, 1770)] == [1, 1, 14]
    assert BLOCKS_19.value(4, 12) == 5 and BLOCKS_16.value(4, 12) == 5
    # #29: `ws_schedule[int(3 * step / (1 + N))]`, the last third reaching 11 one step early
    assert [THIRDS_29.value(s, 1670) for s in (0, 556, 557, 1113, 1114, 1670)] == [3, 3, 7, 7, 11, 11]


def test_extension_holds_the_last_window_and_moves_the_final_validation():
    """#35's get_ws: `min(step / (1 + N), 0.9999)` by thirds, (13, 20) only at step N + 40."""
    from jnano.window_schedule import THIRDS_33

    n, ext = 1640, 40

    def get_ws(step):  # restated from #35
        if step == n + ext:
            return (13, 20)
        size = (3, 7, 11)[int(3 * min(step / (1 + n), 0.9999))]
        return (size, size)

    got = [tuple(THIRDS_33.args(s, n, ext).values()) for s in range(n + ext + 1)]
    assert got == [get_ws(s) for s in range(n + ext + 1)]
    assert got[n] == (11, 11) and got[-1] == (13, 20)


def test_42s_windows_reach_13_at_the_extension():
    """#42's get_ws: `(3, 7, 11)[int(3 * step / N)]`, 13 from step N on, (13, 20) at the end."""
    from jnano.window_schedule import THIRDS_42

    n, ext = 2245, 40

    def get_ws(step):  # restated from #42, in our (window, final_window) terms
        if step == n + ext:
            return (13, 20)
        size = 13 if step >= n else (3, 7, 11)[int(3 * (step / n))]
        return (size, size)

    assert [tuple(THIRDS_42.args(s, n, ext).values()) for s in range(n + ext + 1)] == [get_ws(s) for s in range(n + ext + 1)]


@pytest.mark.parametrize("bos", list(layouts(384)))
@pytest.mark.parametrize("left", [0, 127, 128, 256])
def test_document_left_window_is_the_varlen_kernel_of_29(bos, left):
    """#29 on: FA3 varlen over the loader's cu_seqlens with `window_size=(w, 0)` sees exactly
    the BOS documents within w tokens back (ref.varlen's stand-in, from cu_seqlens)."""
    from ref import varlen

    tokens = sequence(384, bos)
    cu = varlen.cu_seqlens_of(torch.from_numpy(tokens), BOS_ID, 128)
    kernel = varlen.varlen_mask(cu, cu, 384, 384, causal=True, window_size=(left, 0)).numpy()
    ours = doc_causal(tokens) & np.asarray(left_window(384, jnp.int32(left)))
    np.testing.assert_array_equal(ours, kernel)


@pytest.mark.parametrize("v", [0, 0.5, 127.9, 128, 128.0001, 575.9999999, 576, 1792])
def test_next_multiple_of_n_is_the_smallest_positive_multiple_at_or_above(v):
    expected = next(x for x in range(128, 4096, 128) if x >= v)
    assert next_multiple_of_n(v, 128) == expected


def test_33_runs_its_last_layer_at_the_final_window():
    """#33: `final_window` moves only the last layer's mask (20 blocks at the final validation)."""
    import jnano

    model = jnano.build_model("33", n_embd=128, n_head=1, vocab_size=50304)
    idx = jnp.asarray(sequence(384, [0, 200])[None])
    same = model.layer_masks(idx, (1, 1))
    wide = model.layer_masks(idx, (1, 2))
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(same[:-1], wide[:-1]))
    assert not np.array_equal(same[-1].mask, wide[-1].mask)
    np.testing.assert_array_equal(wide[-1].mask[0], doc_causal(np.asarray(idx[0])) & np.asarray(left_window(384, 256)))


@pytest.mark.parametrize("bos", list(layouts(256)))
@pytest.mark.parametrize("w", [0, 5, 128, 300])
def test_paired_mask_is_fa3_on_the_doubled_row(bos, w):
    """#58's paired layers: FlashAttention-3 varlen over `cu_seqlens * 2` with `window_size=(w, 0)`:
    slot s sees slot r of its own (doubled) segment when r <= s and s - r <= w."""
    from jnano.nn.masks import paired_document_causal

    tokens = sequence(256, bos)
    starts = sorted({0, *[int(b) for b in bos if b < 256]})
    cu = [2 * s for s in starts] + [2 * 256]
    expected = np.zeros((512, 512), bool)
    for a, b in zip(cu[:-1], cu[1:]):
        for s in range(a, b):
            expected[s, max(a, s - w):s + 1] = True
    ours = np.asarray(paired_document_causal(jnp.asarray(tokens)) & left_window(512, w))
    np.testing.assert_array_equal(ours, expected)
