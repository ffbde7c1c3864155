"""S11 — record #20 "Merged QKV weights, long-short attention, attention scale, lower Adam
epsilon, batched Muon" (2025-01-16, 2.992 min).

The diff to S10 (#19): q, k and v come from one parameter `attn.qkv_w` of shape (3, dim, dim)
(U(+-sqrt(3) * 0.5 / sqrt(dim)), `x @ qkv_w.flatten(0, 1).T` split into q | k | v); attention
logits are scaled by 0.12 instead of 1/sqrt(head_dim); and layers alternate a long window
(n blocks) with a short one (`max(n // 2, 1)` blocks: upstream halves the kv-block counts and
the kernel always keeps the diagonal block), encoder L S S S L S, decoder the mirror image.
Record #21 "Reduced batch size" (2025-01-26, 2.933 min) runs the same function with other FP8
head scales (x 2, w 2**9, grad 2**19) on 48K-token sequences.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn import Linear, half_truncated_frequencies, rotary_cos_sin
from jnano.nn.rotary import HalfSplitRope
from jnano.nn.masks import block_window, document_causal, short_blocks
from jnano.nn.precision import scaled
from jnano.stages import s10_fp8_head
from jnano.stages.s3_modern import qk_norm_rope_attention
from jnano.stages.s9_sparse_value_embeds import Block
from jnano.stages.s10_fp8_head import Config, config_from_shapes

RECORDS = ("20", "21")
ATTN_SCALE = 0.12
ENCODER_WINDOWS = "LSSSLS"  # long/short per encoder layer; the decoder mirrors it


def merged_qkv_attention(x, qkv_w: Float[Array, "3 hdim dim"], n_head: int, vi, lambdas, mask, rope=None,
                         scale=ATTN_SCALE):
    """Heads side by side, (B, T, hdim), before the output projection: q | k | v from
    `x @ qkv_w.flatten(0, 1).T`, v mixed with the value embedding by `lambdas`. `rope`: the
    (cos, sin) tables (default: the half-truncated ones of #17 on)."""
    q, k, v = qkv_heads(x, qkv_w.astype(x.dtype), n_head)
    v = scaled(lambdas[0], v) if vi is None else scaled(lambdas[0], v) + scaled(lambdas[1], vi.reshape(v.shape))
    return rope_attention(q, k, v, mask, rope, scale)


def qkv_heads(x, qkv_w: Float[Array, "3 hdim dim"], n_head: int):
    """q, k, v, each (B, T, n_head, head_dim), from one matmul with the stacked weights."""
    B, T, _ = x.shape
    qkv = x @ qkv_w.reshape(-1, x.shape[-1]).T
    return jnp.split(qkv.reshape(B, T, 3 * n_head, -1), 3, axis=2)


def rope_attention(q, k, v, mask, rope=None, scale=ATTN_SCALE):
    """QK-norm, RoPE (`rope` tables, default #17's half-truncated ones) and attention; heads
    side by side, (B, T, hdim)."""
    B, T = q.shape[:2]
    rope = HalfSplitRope(*rotary_cos_sin(T, half_truncated_frequencies(q.shape[-1]))) if rope is None else rope
    return qk_norm_rope_attention(q, k, v, rope, mask, scale).reshape(B, T, -1)


class QKVAttention(eqx.Module):
    """Attention from one (3, hdim, dim) parameter; the value mix weights `lambdas` are given."""

    qkv_w: Float[Array, "3 hdim dim"]
    c_proj: Linear
    n_head: int = eqx.field(static=True)

    def mixed(self, x, vi, lambdas, mask):
        return self.c_proj(merged_qkv_attention(x, self.qkv_w, self.n_head, vi, lambdas, mask))


class MergedQKVAttention(QKVAttention):
    lambdas: Float[Array, "2"]

    def __call__(self, x, vi, mask):
        return self.mixed(x, vi, self.lambdas, mask)


def window_pattern(n_layer: int) -> str:
    encoder = ENCODER_WINDOWS[: n_layer // 2]
    return encoder + encoder[::-1]


class GPT(s10_fp8_head.GPT):
    blocks: tuple[Block, ...]

    def layer_windows(self) -> str:
        """Each layer's window, "L" long or "S" short (#49 lays out 11 layers its own way)."""
        return window_pattern(self.config.n_layer)

    def layer_masks(self, idx, window) -> list:
        doc = jax.vmap(document_causal)(idx)
        seq = idx.shape[-1]
        long, short = doc & block_window(seq, window), doc & block_window(seq, short_blocks(window))
        return [long if c == "L" else short for c in self.layer_windows()]


def merged_blocks(blocks, key: jax.Array) -> tuple[Block, ...]:
    """S10's blocks with c_q/c_k/c_v replaced by one freshly drawn (3, dim, dim) `qkv_w`."""
    out = []
    for b, k in zip(blocks, jax.random.split(key, len(blocks))):
        attn = b.attn
        if attn is not None:
            dim = attn.c_q.weight.shape[1]
            bound = math.sqrt(3) * 0.5 / math.sqrt(dim)
            qkv_w = jax.random.uniform(k, (3, dim, dim), jnp.float32, -bound, bound)
            attn = MergedQKVAttention(qkv_w, attn.c_proj, attn.n_head, attn.lambdas)
        out.append(Block(attn, b.mlp, b.lambdas))
    return tuple(out)


def init(config: Config, key: jax.Array) -> GPT:
    k_base, k_qkv = jax.random.split(key)
    base = s10_fp8_head.init(config, k_base)
    return GPT(base.embed, merged_blocks(base.blocks, k_qkv), base.value_embeds, base.lm_head,
               base.skip_weights, config)


__all__ = ["Block", "Config", "GPT", "MergedQKVAttention", "QKVAttention", "RECORDS", "config_from_shapes", "init",
           "merged_qkv_attention", "window_pattern"]
