"""S26 — record #55 "Gates on value embeds and skip connection" (2025-12-29 VeSkipGates, 1.918 min).

The diff to S25 (#54):
- **Value-embedding gates.** On the layers that add a value embedding (0, 1, 8, 9, 10) each head
  scales it by `2 sigmoid(W x[..., :12])`, `W` a zero-init (heads, 12) map of the attention's
  input (`value_embed_gate`): `v + g * ve`, 1 at init.
- **Skip gate.** Block 3's output reaches block 6 through `sigmoid(skip lambda) * 2 sigmoid(w .
  x0[..., :12])`, per token, `w` a zero-init (1, 12) map of the normed embedding (`skip_gate`).
- The FP8 head's weight scale is 1.6/448 (was 1.5/448).

Outside the function (`jnano.records`, #55): the value gates join NorMuon's gate group, the
skip gate gets Adam at lr x0.05 without decay; Adam's cautious decay is scaled per table
(`wd_mul`): x150 on `embed` and the head, x5 on the value tables. 1805 + 40 steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

from jnano.hparams import FP8_SCALES_55, FP8Scales, FP8ScalesByWidth
from jnano.nn import Linear
from jnano.nn.precision import scaled
from jnano.stages import s25_logit_rescale
from jnano.stages.base import recast
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s18d_smear import GATE_CHANNELS
from jnano.stages.s22b_premul_out import RowBankAttention
from jnano.stages.s23_partial_key_offset import KeyOffsetAttention
from jnano.stages.s23b_retied_head import config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("55",)
VALUE_LAYERS = (0, 1, 8, 9, 10)  # the layers `GPT.layer_values` gives a table (upstream's literal list)


@dataclass(frozen=True)
class Config(s25_logit_rescale.Config):
    head_fp8: FP8Scales | FP8ScalesByWidth | None = FP8_SCALES_55


def gated_values(gate: Linear, x, vi, n_head: int):
    """`2 sigmoid(gate(x[..., :12]))` per token and head, times the value embedding `vi`, laid out
    (batch, seq, heads, head_dim) as upstream's `ve.view_as(v)`."""
    B, T, _ = x.shape
    g = 2 * jax.nn.sigmoid(gate(x[..., : gate.weight.shape[-1]]))
    return g[..., None] * vi.reshape(B, T, n_head, -1).astype(g.dtype)


class GatedValues:
    """The value embedding gated before the attention adds it to v."""

    def mixed(self, x, vi, lambdas, mask, **attention):
        if vi is not None:
            vi = gated_values(self.value_embed_gate, x, vi, self.n_head)
        return super().mixed(x, vi, lambdas, mask, **attention)


class ValueGatedAttention(GatedValues, RowBankAttention):
    value_embed_gate: Linear  # (heads, 12)


class ValueGatedKeyOffsetAttention(GatedValues, KeyOffsetAttention):
    value_embed_gate: Linear  # (heads, 12)


class GPT(s25_logit_rescale.GPT):
    config: Config = eqx.field(static=True)
    skip_gate: Linear  # (1, 12)

    def skipped(self, skip, x0):
        gate = jax.nn.sigmoid(self.skip_gate(x0[..., : self.skip_gate.weight.shape[-1]]))
        return scaled(jax.nn.sigmoid(self.tail_scalar(2)) * 2, gate) * skip


def _value_gated(attn, n_head: int):
    gate = Linear(jnp.zeros((n_head, GATE_CHANNELS), jnp.float32))
    cls = ValueGatedKeyOffsetAttention if isinstance(attn, KeyOffsetAttention) else ValueGatedAttention
    return cls(attn.qkvo_w, attn.n_head, attn.attn_gate, gate)


def init(config: Config, key: jax.Array) -> GPT:
    base = s25_logit_rescale.init(config, key)
    blocks = tuple(Block(_value_gated(b.attn, config.n_head), b.mlp) if i in VALUE_LAYERS else b
                   for i, b in enumerate(base.blocks))
    return recast(base, GPT, config=config, blocks=blocks,
                  skip_gate=Linear(jnp.zeros((1, GATE_CHANNELS), jnp.float32)))


__all__ = ["Config", "GPT", "GatedValues", "RECORDS", "VALUE_LAYERS", "ValueGatedAttention", "ValueGatedKeyOffsetAttention",
           "config_from_shapes", "gated_values", "init"]
