"""S23 — record #49 "Partial Key Offset" (2025-12-14 PartialKeyOffset, 2.146 min).

The diff to S22b (#48): block 0, empty since #35, is gone, so 11 blocks remain and block i is
#48's block i + 1 (block 6 has no attention; every block has an MLP). Skip, backout and value
embeddings move down with them: block 3's output is added before block 6 through
`sigmoid(skip lambda)`, the backout takes block 7's output, the tables feed blocks
[1, 2, -, -, -, -, -, -, 0, 1, 2], and they start at zero.

The stream is mixed outside the blocks: `x = resid_i x + x0_i x0`, and block 0, where x is x0,
takes `(resid_0 + x0_0) x`. The packed scalars become [resid 11 | x0 11 | attention pairs 22 |
smear | backout | skip | pad], resid starting at 1.1, x0 at 0, skip at -1.5.

The partial key offset: on the two long-window layers (3 and 10), after RoPE, each key's
stationary dims (the zero-frequency quarters [d/4, d/2) and [3d/4, d)) are taken from the
previous position, so a query can match on the token before its key.

Record #50 "Extend Cautious Weight Decay to Adam parameters" (2025-12-18, 2.128 min) trains
this model with cautious weight decay on Adam's tables and head (`jnano.hparams.DistAdam`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn import rms_norm
from jnano.nn.precision import scaled
from jnano.stages import s22b_premul_out
from jnano.stages.s3_modern import attend, qk_norm_rope
from jnano.stages.s11_merged_qkv import qkv_heads
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s18b_skip_gates import SKIP_INIT
from jnano.stages.s20_backout import BACKOUT_INIT
from jnano.stages.s21_single_skip import STREAM_LAMBDA_INIT
from jnano.stages.s22b_premul_out import SA_LAMBDA_INIT, RowBankAttention
from jnano.stages.s22b_premul_out import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("49", "50")
# upstream's `bm_sizes`: short, short, short, long, ...; block 6 has no attention (its "S" unused)
LAYER_WINDOWS = "SSSLSSSSSSL"
SKIP_FROM, SKIP_TO = 3, 6
BACKOUT_BLOCK = 7


def offset_stationary_keys(k: Float[Array, "batch seq head dim"]) -> Float[Array, "batch seq head dim"]:
    """`k[:, 1:, :, d/4:d/2] = k[:, :-1, :, d/4:d/2]`, and the same for [3d/4, d): position 0
    keeps its own. (Upstream assigns between overlapping views of one tensor, which its
    compiled graph reads before it writes: this shift.)"""
    quarter = k.shape[-1] // 4
    previous = jnp.concatenate([k[:, :1], k[:, :-1]], axis=1)
    stationary = (jnp.arange(k.shape[-1]) // quarter) % 2 == 1
    return jnp.where(stationary, previous, k)


class KeyOffsetAttention(RowBankAttention):
    """#48's attention with the keys' stationary dims one position late (long-window layers)."""

    def offset_keys(self, k):
        """Which of the key's dims come from the previous position (#62 moves them)."""
        return offset_stationary_keys(k)

    def heads(self, x, bank, vi, lambdas, mask, rope, scale):
        q, k, v = qkv_heads(x, scaled(lambdas[0], bank[:3].astype(x.dtype)), self.n_head)
        q, k = qk_norm_rope(q, k, rope)
        if vi is not None:
            v = v + vi.reshape(v.shape).astype(v.dtype)
        B, T = x.shape[:2]
        k = self.offset_keys(k)
        return self.attended(self.composed(attend(q, k, v, mask, scale), q, k, v, scale).reshape(B, T, -1), v)

    def composed(self, y, q, k, v, scale):
        """The heads' output (B, T, H, D) given the q, k, v they attended with: `y` itself (#85's
        dynamically composed attention adds its correction on layer 10)."""
        del q, k, v, scale
        return y


class GPT(s22b_premul_out.GPT):
    def layer_windows(self) -> str:
        return LAYER_WINDOWS

    def layer_values(self, idx) -> list:
        ve = [t(idx) for t in self.value_embeds]
        return [ve[1], ve[2]] + [None] * (self.config.n_layer - 5) + ve

    def stream_lambdas(self):
        """(resid, x0, attention pairs): the packed [resid L | x0 L | pairs 2L | ...] (#52 moves x0 out)."""
        n = self.config.n_layer
        return self.scalars[:n], self.scalars[n:2 * n], self.scalars[2 * n:4 * n].reshape(n, 2)

    def tail_scalar(self, k: int):
        """The k-th scalar after the per-layer ones: smear 0, backout 1, skip 2."""
        return self.scalars[4 * self.config.n_layer + k]

    def smear_lambda(self):
        return self.tail_scalar(0)

    def injected(self, idx):
        """What every layer's mix adds besides the stream and x0: (per-layer lambdas, a tensor
        like the stream), or None (#62 adds its bigram embedding)."""
        return None

    def hidden(self, idx, window):
        resid, x0_share, sa_lambdas = self.stream_lambdas()
        injected = self.injected(idx)

        def mixed(i, block):
            def run(x, vi, x0, mask):
                x = scaled(resid[0] + x0_share[0], x) if i == 0 else scaled(resid[i], x) + scaled(x0_share[i], x0)
                if injected is not None:
                    x = x + scaled(injected[0][i], injected[1])
                return block.sublayers(x, vi, mask, sa_lambdas[i])
            return run

        blocks = [mixed(i, b) for i, b in enumerate(self.blocks)]
        x = x0 = rms_norm(self.token_embeddings(idx))
        return self.residual_stream(blocks, x, x0, self.layer_values(idx), self.layer_masks(idx, window))

    def residual_stream(self, blocks, x, x0, values, masks):
        outs = []
        for i, block in enumerate(blocks):
            if i == SKIP_TO:
                x = x + self.skipped(outs[SKIP_FROM], x0)
            x = block(x, values[i], x0, masks[i])
            outs.append(x)
        return x - scaled(self.tail_scalar(1), outs[BACKOUT_BLOCK])

    def skipped(self, skip, x0):
        """What the skip connection adds: block 3's output through `sigmoid(skip lambda)`."""
        return scaled(jax.nn.sigmoid(self.tail_scalar(2)), skip)


def key_offset_scalars(n_layer: int, world_size: int) -> jax.Array:
    pad = (-n_layer * 4 - 3) % world_size
    return jnp.concatenate([
        jnp.full(n_layer, STREAM_LAMBDA_INIT), jnp.zeros(n_layer), jnp.tile(jnp.asarray(SA_LAMBDA_INIT), n_layer),
        jnp.asarray([0.0, BACKOUT_INIT, SKIP_INIT]), jnp.ones(pad)]).astype(jnp.float32)


def init(config: Config, key: jax.Array) -> GPT:
    """#48's 12 blocks drawn, block 0 (empty) dropped; long-window attentions offset their keys."""
    base = s22b_premul_out.init(dataclasses.replace(config, n_layer=config.n_layer + 1), key)
    blocks = tuple(
        Block(KeyOffsetAttention(b.attn.qkvo_w, b.attn.n_head, b.attn.attn_gate) if w == "L" else b.attn, b.mlp)
        for w, b in zip(LAYER_WINDOWS, base.blocks[1:]))
    value_embeds = tuple(type(t)(jnp.zeros_like(t.weight)) for t in base.value_embeds)
    return GPT(base.embed, value_embeds, blocks, base.lm_head, key_offset_scalars(config.n_layer, config.world_size),
               config, smear_gate=base.smear_gate)


__all__ = ["BACKOUT_BLOCK", "Config", "GPT", "KeyOffsetAttention", "LAYER_WINDOWS", "RECORDS", "SKIP_FROM", "SKIP_TO",
           "config_from_shapes", "init", "key_offset_scalars", "offset_stationary_keys"]
