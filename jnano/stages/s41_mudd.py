"""S41 — record #81 "MUDD Skip Connections" (2026-04-22 MuddFormer, 1.363 min, PR #259).
Branched from master after #80, with #79's loss kernel (S39).

The diff to S40 (#80), all in the last two layers: MUDD (multiway dynamic dense connections),
trimmed to a fixed set of sources. A small MLP of the stream, `gelu(x W1ᵀ) W2 + b`, times
0.2/sqrt(3), gives per-token coefficients:
- **After layer 9** (its MLP), from `dense_w1[0]` / `dense_w2[0]` (64, [v, residual], 8): over
  the sources (x0, h7, x), `v_mudd = 1.15 (m x0 + m h7 + m x)` joins layer 10's values, and the
  stream becomes `(1 + m) x + m x0 + m h7` (h9, the stream before that, is kept). Five more
  columns replace layer 10's own scalars: its value gate (`g + 2`, one per half of the heads,
  in place of `ve_gate_bank[4]`), its resid/post lambdas (attention in channel 0, MLP in
  channel 1) and its x0 and bigram lambdas. "x0" is the stream after the bigram injection.
- **After layer 10**, from `dense_w1[1]` and channel 1 of `dense_w2[1]`: `x += m x0 + m h7 +
  m h9 + m ve0 + m skip` (ve0 the value table of layer 1, skip layer 3's output).
- **No backout scalar**: its slot leaves `scalars` ([pairs 2L | smear | skip | pad]); the bias of
  h7 into the last residual starts at -4.34 (-0.5 after the scale) instead.
- The MUDD tensors are bf16, trained by Adam (betas 0.9/0.99, lr x0.25; the bias without decay).
  1405 + 10 steps.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn import Linear, rms_norm
from jnano.nn.losses import fused_softcapped_multi_token_cross_entropy
from jnano.nn.mlp import gelu_exact
from jnano.nn.precision import scaled, times
from jnano.stages import s40_head_pair_banks
from jnano.stages.base import recast
from jnano.stages.s3_modern import attend, qk_norm_rope
from jnano.stages.s11_merged_qkv import qkv_heads
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s22b_premul_out import SA_LAMBDA_INIT
from jnano.stages.s18b_skip_gates import SKIP_INIT
from jnano.stages.s23_partial_key_offset import BACKOUT_BLOCK, SKIP_FROM, SKIP_TO
from jnano.stages.s31_bigram_embed import HalfKeyOffsetAttention
from jnano.stages.s40_head_pair_banks import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("81",)
MUDD_HIDDEN = 64
CHANNELS = 2  # 0: layer 10's values (and its attention's gates), 1: the residual (and its MLP's)
SOURCES = 3  # x0, h7, the stream itself
SCALE = 0.2 / math.sqrt(SOURCES)
V_GAIN = 1.15
VALUE_GATE, RESID_GATE, POST_GATE, X0_GATE, BIGRAM_GATE = range(SOURCES, SOURCES + 5)
LAST_SOURCES = 5  # x0, h7, h9, ve0, skip
BACKOUT_BIAS = -4.34  # `dense_bs[1, 1, 1]`: -0.5 of h7 after the scale
VALUE_GATE_OFFSET = 2.0
TAIL_SLOTS = {0: 0, 2: 1}  # `tail_scalar`'s smear (0) and skip (2) -> their offsets after the pairs


def mudd_bias_init() -> jax.Array:
    """`dense_bs` (2, channels, 8) as upstream sets it, in the pre-scale domain: layer 10's
    lambdas at their #74 values (resid sqrt 1.1, post 1, x0 0, bigram 0.05), the backout."""
    b = jnp.zeros((2, CHANNELS, SOURCES + 5), jnp.float32)
    for channel in range(CHANNELS):
        b = b.at[0, channel, RESID_GATE].set(1.1 ** 0.5 / SCALE).at[0, channel, POST_GATE].set(1.0 / SCALE)
    b = b.at[0, 0, BIGRAM_GATE].set(0.05 / SCALE)
    return b.at[1, 1, 1].set(BACKOUT_BIAS)


def coefficients(x, w1, w2, bias):
    """`(gelu(x W1ᵀ) · W2 + b) · scale` per token: (..., *W2's trailing dims)."""
    hidden = x @ w1.astype(x.dtype).T
    # F.gelu on bf16 computes in float32 and rounds once
    hidden = gelu_exact(hidden.astype(jnp.float32)).astype(hidden.dtype)
    out = jnp.tensordot(hidden, w2.astype(hidden.dtype), axes=1)
    return times(out + bias.astype(out.dtype), SCALE)


class MuddFedAttention(HalfKeyOffsetAttention):
    """Layer 10's attention: its values take layer 9's `v_mudd`, then the value embedding under
    MUDD's gate. `vi` is the pair (v_mudd, gated value embedding), each (B, T, dim)."""

    value_embed_gate: Linear | None  # the bank's row lands here and is not read: MUDD gives the gate

    def heads(self, x, bank, vi, lambdas, mask, rope, scale):
        v_mudd, gated_values = vi
        q, k, v = qkv_heads(x, scaled(lambdas[0], bank[:3].astype(x.dtype)), self.n_head)
        v = v + v_mudd.reshape(v.shape).astype(v.dtype)
        q, k = qk_norm_rope(q, k, rope)
        v = v + gated_values.reshape(v.shape).astype(v.dtype)
        B, T = x.shape[:2]
        return self.attended(attend(q, self.offset_keys(k), v, mask, scale).reshape(B, T, -1), v)


class GPT(s40_head_pair_banks.GPT):
    dense_w1: Float[Array, "layers hidden dim"]
    dense_w2: Float[Array, "layers hidden channels columns"]
    dense_bs: Float[Array, "layers channels columns"]
    loss_kernel: ClassVar = staticmethod(fused_softcapped_multi_token_cross_entropy)  # #79's

    def tail_scalar(self, k: int):
        """smear 0, skip 2, as before; backout's slot (1) is gone, so skip sits right after smear."""
        if k not in TAIL_SLOTS:
            raise ValueError("#81 on have no backout scalar: MUDD's bias absorbed it")
        return self.scalars[2 * self.config.n_layer + TAIL_SLOTS[k]]

    def lanes(self, idx, window):
        n = self.config.n_layer
        fed, producer = n - 1, n - 2
        sa_lambdas = self.scalars[:2 * n].reshape(n, 2)
        resid, post = self.resid_lambdas, self.post_lambdas
        values, masks = self.layer_values(idx), self.layer_masks(idx, window)
        x, x0, bigram, inject = self.stream_start(idx)
        stream0, skip, h7, h9 = x, None, None, None
        m = v_mudd = None  # layer 9's MUDD output, read by layer 10
        for i, block in enumerate(self.blocks):
            if i == SKIP_TO:
                x = x + self.skipped(skip, x0)
            if block.attn is not None:
                attn_in = rms_norm(x if h7 is None else h7)
                if i == fed:
                    gate = jnp.repeat(m[..., VALUE_GATE], self.config.n_head // CHANNELS, axis=-1) + VALUE_GATE_OFFSET
                    B, T, _ = x.shape
                    gated = gate[..., None] * values[i].reshape(B, T, self.config.n_head, -1).astype(gate.dtype)
                    out = block.attn.mixed(attn_in, (v_mudd, gated.reshape(B, T, -1)), sa_lambdas[i], masks[i])
                    mudd_inject = m[..., 0, X0_GATE, None] * stream0 + m[..., 0, BIGRAM_GATE, None] * bigram.astype(x.dtype)
                    x = m[..., 0, RESID_GATE, None] * x + m[..., 0, POST_GATE, None] * out + mudd_inject
                else:
                    out = block.attn.mixed(attn_in, values[i], sa_lambdas[i], masks[i])
                    x = inject(i, scaled(resid[i, 0], x) + scaled(post[i, 0], out))
            if i == fed:
                x = m[..., 1, RESID_GATE, None] * x + m[..., 1, POST_GATE, None] * block.mlp(rms_norm(x))
            else:
                x = scaled(resid[i, 1], x) + scaled(post[i, 1], block.mlp(rms_norm(x)))
            if i == producer:
                m = coefficients(x, self.dense_w1[0], self.dense_w2[0], self.dense_bs[0])  # (B, T, 2, 8)
                mv, mr = m[..., 0, :, None], m[..., 1, :, None]
                v_mudd = times(mv[..., 0, :] * stream0 + mv[..., 1, :] * h7 + mv[..., 2, :] * x, V_GAIN)
                h9 = x
                x = (1 + mr[..., 2, :]) * x + mr[..., 0, :] * stream0 + mr[..., 1, :] * h7
            if i == SKIP_FROM:
                skip = x
            if i == BACKOUT_BLOCK:
                h7 = x
        last = coefficients(x, self.dense_w1[1], self.dense_w2[1, :, 1, :LAST_SOURCES],
                            self.dense_bs[1, 1, :LAST_SOURCES])[..., None]
        ve0 = values[1].astype(x.dtype)
        return (x + last[..., 0, :] * stream0 + last[..., 1, :] * h7 + last[..., 2, :] * h9
                + last[..., 3, :] * ve0 + last[..., 4, :] * skip)


def mudd_fed(block: Block) -> Block:
    attn = block.attn
    fields = {f.name: getattr(attn, f.name) for f in dataclasses.fields(attn)}
    return Block(MuddFedAttention(**fields), block.mlp)


def mudd_scalars(n_layer: int, world_size: int) -> jax.Array:
    """[attention pairs 2L | smear | skip | pad] (#81 drops backout's slot)."""
    pad = (-n_layer * 2 - 2) % world_size
    return jnp.concatenate([jnp.tile(jnp.asarray(SA_LAMBDA_INIT), n_layer), jnp.asarray([0.0, SKIP_INIT]),
                            jnp.ones(pad)]).astype(jnp.float32)


def init(config: Config, key: jax.Array) -> GPT:
    base = s40_head_pair_banks.init(config, key)
    d = config.n_embd
    bound = 1.0 / math.sqrt(d)  # kaiming_uniform(a=sqrt 5) of a (64, d) matrix
    w1 = jax.random.uniform(jax.random.fold_in(key, 81), (2, MUDD_HIDDEN, d), jnp.float32, -bound, bound)
    blocks = base.blocks[:-1] + (mudd_fed(base.blocks[-1]),)
    return recast(base, GPT, blocks=blocks, scalars=mudd_scalars(config.n_layer, config.world_size),
                  dense_w1=w1, dense_w2=jnp.zeros((2, MUDD_HIDDEN, CHANNELS, SOURCES + 5), jnp.float32),
                  dense_bs=mudd_bias_init())


__all__ = ["Config", "GPT", "MuddFedAttention", "RECORDS", "coefficients", "config_from_shapes", "init",
           "mudd_bias_init", "mudd_scalars"]
