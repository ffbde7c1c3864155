"""S31b — record #63 "Untie Value Embeds" (2026-01-26 UntieValueEmbeddings, 1.650 min).

The diff to S31 (#62): five value tables instead of three, one per value layer:
`[ve0, ve1, -, -, -, -, -, -, ve2, ve3, ve4]` (#49-#62 read ve1 and ve2 twice:
`[ve1, ve2, ..., ve0, ve1, ve2]`). Zero at init, trained by Adam like the others. 1535 + 40 steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnano.nn import Embedding
from jnano.stages import s31_bigram_embed
from jnano.stages.base import recast
from jnano.stages.s31_bigram_embed import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("63",)
VALUE_TABLES = 5


class GPT(s31_bigram_embed.GPT):
    def layer_values(self, idx) -> list:
        ve = [t(idx) for t in self.value_embeds]
        return ve[:2] + [None] * (self.config.n_layer - 5) + ve[2:]


def init(config: Config, key: jax.Array) -> GPT:
    base = s31_bigram_embed.init(config, key)
    tables = tuple(Embedding(jnp.zeros((config.vocab_size, config.n_embd), jnp.float32)) for _ in range(VALUE_TABLES))
    return recast(base, GPT, value_embeds=tables)


__all__ = ["Config", "GPT", "RECORDS", "VALUE_TABLES", "config_from_shapes", "init"]
