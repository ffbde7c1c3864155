"""S18 — record #31 "Dynamically incorporate YaRN during training and validation" (2025-09-10,
2.656 min).

The diff to S17b (#30): when the scheduled window grows (3 -> 7 -> 11 blocks, then 13 for the
final validation), upstream rescales its RoPE frequencies by YaRN and steps the attention scale
up from 0.1 by `0.2 ln(new / old) + 1` (`jnano.nn.yarn`). The windows only grow, in a fixed
order, so both are functions of the current window: the model holds one frequency row and one
scale per window and picks them with the traced window. The RoPE tables move to the model root
(one table for all layers), which changes nothing in the function.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnano.nn import half_truncated_frequencies, rotary_cos_sin
from jnano.nn.rotary import HalfSplitRope
from jnano.nn.yarn import attention_scales, frequencies_by_window, window_order
from jnano.stages import s17b_no_first_mlp
from jnano.stages.s17_varlen import GPT as VarlenGPT
from jnano.stages.s17_varlen import Config, VarlenGatedAttention, config_from_shapes  # noqa: F401

RECORDS = ("31",)
WINDOWS = window_order((3, 7, 11), 13)  # `args.ws_schedule`, then `args.ws_validate`
HEAD_DIM = 128


class LayerAttention(NamedTuple):
    """What a layer's attention takes at this step (upstream's `AttnArgs`, less the values)."""

    mask: jax.Array
    rope: HalfSplitRope  # (or #58's `InterleavedRope`): the rotation and its tables
    scale: jax.Array


class YarnAttention(VarlenGatedAttention):
    def mixed(self, x, vi, lambdas, layer: LayerAttention):
        return VarlenGatedAttention.mixed(self, x, vi, lambdas, layer.mask, rope=layer.rope, scale=layer.scale)


def yarn_frequencies(window, head_dim: int = HEAD_DIM):
    """(the half-truncated frequencies, the attention scale) while `window` (traced) is the
    current window."""
    freqs = jnp.asarray(frequencies_by_window(half_truncated_frequencies(head_dim), WINDOWS))
    scales = jnp.asarray(np.float32(attention_scales(WINDOWS)))
    row = jnp.argmax(jnp.asarray(WINDOWS) == window)
    return freqs[row], scales[row]


def yarn_tables(window, seq: int, head_dim: int = HEAD_DIM, table_dtype=None):
    """(cos, sin, attention scale) while `window` (traced) is the current window; `table_dtype`:
    the dtype the tables are kept in (#32 on: bf16)."""
    freqs, scale = yarn_frequencies(window, head_dim)
    cos, sin = rotary_cos_sin(seq, freqs, table_dtype)
    return cos, sin, scale


class GPT(VarlenGPT):
    def rope_dtype(self):
        return None

    def head_dim(self) -> int:
        return self.config.n_embd // self.config.n_head

    def rope(self, window, seq: int):
        """(the rotation every layer applies while `window` is current, the attention scale)."""
        cos, sin, scale = yarn_tables(window, seq, self.head_dim(), self.rope_dtype())
        return HalfSplitRope(cos, sin), scale

    def layer_masks(self, idx, window) -> list:
        rope, scale = self.rope(window, idx.shape[-1])
        return [LayerAttention(m, rope, scale) for m in super().layer_masks(idx, window)]


def init(config: Config, key: jax.Array) -> GPT:
    base = s17b_no_first_mlp.init(config, key)
    blocks = tuple(b if b.attn is None else type(b)(YarnAttention(b.attn.qkvo_w, b.attn.n_head, b.attn.attn_gate), b.mlp)
                   for b in base.blocks)
    return GPT(base.embed, base.value_embeds, blocks, base.lm_head, base.scalars, config)


__all__ = ["Config", "GPT", "LayerAttention", "RECORDS", "WINDOWS", "YarnAttention", "config_from_shapes", "init",
           "yarn_frequencies", "yarn_tables"]
