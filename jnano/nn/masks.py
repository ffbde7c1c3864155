"""Attention masks as specifications: which keys each query sees, as each record's FlexAttention
BlockMask makes the kernel see them, computed densely (a dense reference backend that runs
anywhere; tested against brute-force masks and upstream's own BlockMasks).

A sequence is one packed row of documents; a document starts at each BOS/EOT token (50256), so
`doc(p)` = number of BOS at or before p (tokens before the first BOS are document 0). Positions
are absolute in the packed row. Windows are traced values (they follow a schedule per step).

| records | visible(q, k) (all: k <= q and doc(q) == doc(k)) |
|---|---|
| #12 | q - k < 1024 |
| #13, #14 | q - k < w (w tokens, scheduled) |
| #15 | q - k < w and q//128 - k//128 < ceil(w/128) (the token window *and* its block list) |
| #16-#19 | q//128 - k//128 < n (n blocks, scheduled) |
| #20-#28 | long layers: block window n; short layers: max(n // 2, 1) |
| #29 on | FlashAttention-3 varlen: q - k <= w tokens (`window_size=(w, 0)`); long w = 128 n, short 128 (n // 2) |
| #58 on, paired layers | the same on the doubled row (positions 2t, 2t + 1 per token; w not doubled) |

From #29 the documents are the segments of the loader's `cu_seqlens`. Each segment starts at a
BOS (the packer starts every document at one and skips the rest of a truncated one; validation
cuts at every BOS), and no BOS lies inside one, so the segments are exactly the BOS documents
above: the mask needs no `cu_seqlens`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

BOS_ID = 50256
BLOCK = 128


def document_ids(tokens: Int[Array, " seq"], bos_id: int = BOS_ID) -> Int[Array, " seq"]:
    """`(tokens == bos).cumsum(0)`: the document index of every position."""
    return jnp.cumsum(tokens == bos_id)


def _positions(seq: int):
    return jnp.arange(seq)[:, None], jnp.arange(seq)[None, :]


def document_causal(tokens: Int[Array, " seq"]) -> Bool[Array, "seq seq"]:
    """k <= q and both in the same document."""
    q, k = _positions(tokens.shape[-1])
    doc = document_ids(tokens)
    return (k <= q) & (doc[:, None] == doc[None, :])


def paired_document_causal(tokens: Int[Array, " seq"]) -> Bool[Array, "seq2 seq2"]:
    """#58's paired-head attention runs on the row doubled, each token's pair of heads taking
    positions 2t and 2t + 1 (upstream doubles `cu_seqlens`): causal over the doubled positions,
    within a document."""
    doc = jnp.repeat(document_ids(tokens), 2)
    q, k = _positions(doc.shape[-1])
    return (k <= q) & (doc[:, None] == doc[None, :])


def token_window(seq: int, window) -> Bool[Array, "seq seq"]:
    """q - k < window (tokens)."""
    q, k = _positions(seq)
    return q - k < window


def left_window(seq: int, left) -> Bool[Array, "seq seq"]:
    """q - k <= left: FlashAttention's `window_size=(left, 0)` (#29 on), `left + 1` keys."""
    q, k = _positions(seq)
    return q - k <= left


def block_window(seq: int, blocks, block: int = BLOCK) -> Bool[Array, "seq seq"]:
    """q // block - k // block < blocks: the window of a BlockMask's kv-block lists."""
    q, k = _positions(seq)
    return q // block - k // block < blocks


def short_blocks(blocks) -> jax.Array:
    """#20's short window: `sw // 2` blocks, but never fewer than the diagonal block."""
    return jnp.maximum(blocks // 2, 1)


def block_window_of_tokens(seq: int, window, block: int = BLOCK) -> Bool[Array, "seq seq"]:
    """#15: a token window listed as ceil(window / 128) kv blocks; the kernel applies both."""
    return token_window(seq, window) & block_window(seq, (window + block - 1) // block, block)
