"""S34 — record #70 "Tune value embed layout and ve_gates" (2026-02-03 VeTuned, 1.521 min).

The diff to S33c (#69):
- The value tables feed layers 1, 2, 8, 9 and 10 (#63-#69: 0, 1, 8, 9, 10): layer 0 takes none,
  and the paired-head layer 2 one (`[-, ve0, ve1, -, -, -, -, -, ve2, ve3, ve4]`); the value
  gates' bank rows follow.
- The value gates of the unpaired layers (1, 8, 10) read the first 6 channels of the attention's
  input and the first 6 of the value embedding itself, `2 sigmoid(W [x[:6], ve[:6]])`; the paired
  layers 2 and 9 keep #55's `x[:12]`.
- The tables start at N(0, 0.01) (bf16), not zero. 1507 + 40 steps.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jnano.nn import Linear
from jnano.stages import s33c_kernel_tuning
from jnano.stages.base import recast
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s22b_premul_out import RowBankAttention
from jnano.stages.s29_paired_heads import PairedHeadAttention, ValueGatedPairedHeadAttention
from jnano.stages.s31_bigram_embed import HalfKeyOffsetAttention
from jnano.stages.s31b_untied_value_embeds import VALUE_TABLES
from jnano.stages.s33c_kernel_tuning import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("70",)
VALUE_LAYERS = (1, 2, 8, 9, 10)
GATE_HALF = 6  # channels of the input and of the value embedding each gate reads
VALUE_INIT_STD = 0.01


def gated_own_values(gate: Linear, x, vi, n_head: int):
    """`2 sigmoid(gate(cat(x[..., :6], ve[..., :6])))` per token and head, times `ve` laid out
    (batch, seq, heads, head_dim)."""
    B, T, _ = x.shape
    inputs = jnp.concatenate([x[..., :GATE_HALF], vi[..., :GATE_HALF].astype(x.dtype)], axis=-1)
    g = 2 * jax.nn.sigmoid(gate(inputs))
    return g[..., None] * vi.reshape(B, T, n_head, -1).astype(g.dtype)


class GatedOwnValues:
    """The value embedding gated by the attention's input and by itself, before v takes it."""

    def mixed(self, x, vi, lambdas, mask, **attention):
        if vi is not None:
            vi = gated_own_values(self.value_embed_gate, x, vi, self.n_head)
        return super().mixed(x, vi, lambdas, mask, **attention)


class OwnValueGatedAttention(GatedOwnValues, RowBankAttention):
    value_embed_gate: Linear  # (heads, 12)


class OwnValueGatedHalfKeyOffsetAttention(GatedOwnValues, HalfKeyOffsetAttention):
    value_embed_gate: Linear  # (heads, 12)


# the class of a layer by its kind (most specific first), and with a value embedding (the paired
# layers' gate is still #55's)
_KINDS = ((HalfKeyOffsetAttention, OwnValueGatedHalfKeyOffsetAttention),
          (PairedHeadAttention, ValueGatedPairedHeadAttention),
          (RowBankAttention, OwnValueGatedAttention))


class ShiftedValueEmbeds:
    """#70's value layout (later stages mix it in; `shifted_value_embeds` sets up the layers)."""

    def value_layers(self) -> tuple[int, ...]:
        return VALUE_LAYERS

    def layer_values(self, idx) -> list:
        tables = self.value_embeds.reshape(VALUE_TABLES, self.config.vocab_size, -1)
        ve = [jnp.take(tables[k], idx, axis=0) for k in range(VALUE_TABLES)]
        return [None] + ve[:2] + [None] * (self.config.n_layer - 6) + ve[2:]


def _regated(i: int, block: Block) -> Block:
    attn = block.attn
    if attn is None:
        return block
    plain, gated = next((p, g) for p, g in _KINDS if isinstance(attn, p))
    fields = {f.name: getattr(attn, f.name) for f in dataclasses.fields(attn) if f.name != "value_embed_gate"}
    # (the gate itself sits in the bank, #56 on)
    return Block(gated(**fields, value_embed_gate=None) if i in VALUE_LAYERS else plain(**fields), block.mlp)


class GPT(ShiftedValueEmbeds, s33c_kernel_tuning.GPT):
    pass


def shifted_value_embeds(base, key: jax.Array) -> dict:
    """The fields #70 changes: the blocks regated for the new value layers, the tables drawn."""
    tables = VALUE_INIT_STD * jax.random.normal(jax.random.fold_in(key, 70), base.value_embeds.shape, jnp.float32)
    return {"blocks": tuple(_regated(i, b) for i, b in enumerate(base.blocks)), "value_embeds": tables.astype(jnp.bfloat16)}


def init(config: Config, key: jax.Array) -> GPT:
    base = s33c_kernel_tuning.init(config, key)
    return recast(base, GPT, **shifted_value_embeds(base, key))


__all__ = ["Config", "GPT", "GatedOwnValues", "OwnValueGatedAttention", "OwnValueGatedHalfKeyOffsetAttention",
           "RECORDS", "ShiftedValueEmbeds", "VALUE_LAYERS", "config_from_shapes", "gated_own_values", "init",
           "shifted_value_embeds"]
