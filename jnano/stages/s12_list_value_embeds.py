"""S12 — record #21b, the first re-timing of #21 "Reduced batch size" (2025-02-01).

The diff to S11 (#20/#21): none in the function. The three value tables move out of their
`ValueEmbedding` wrapper into a plain list (`value_embeds.{i}.weight` instead of
`value_embeds.embed.{i}.weight`), the layout later records keep.
"""

from __future__ import annotations

import jax

from jnano.nn import Embedding
from jnano.stages import s11_merged_qkv
from jnano.stages.s11_merged_qkv import Config, config_from_shapes

RECORDS = ("21b",)


def sparse_values(tables, idx, n_layer: int) -> list:
    """Tables 0, 1, 2 feed the first three and the last three blocks; the middle ones get none."""
    ve = [t(idx) for t in tables]
    return ve + [None] * (n_layer - 2 * len(ve)) + ve


class GPT(s11_merged_qkv.GPT):
    value_embeds: tuple[Embedding, ...]

    def layer_values(self, idx) -> list:
        return sparse_values(self.value_embeds, idx, self.config.n_layer)


def init(config: Config, key: jax.Array) -> GPT:
    base = s11_merged_qkv.init(config, key)
    return GPT(base.embed, base.blocks, base.value_embeds.embed, base.lm_head, base.skip_weights, config)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init", "sparse_values"]
