"""S17b — record #30 "Drop the MLP of the first layer" (2025-09-05, SkipMLPBlocks).

The diff to S17 (#29): block 0 has no MLP (upstream's `SKIPPED_MLP_BLOCKS = [0, 12]`; a 13th
block does not exist), so it adds only its attention to the residual stream.
"""

from __future__ import annotations

import jax

from jnano.stages import s17_varlen
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s17_varlen import GPT, Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("30",)
SKIPPED_MLP_BLOCKS = (0, 12)


def init(config: Config, key: jax.Array) -> GPT:
    base = s17_varlen.init(config, key)
    blocks = tuple(Block(b.attn, None if i in SKIPPED_MLP_BLOCKS else b.mlp) for i, b in enumerate(base.blocks))
    return GPT(base.embed, base.value_embeds, blocks, base.lm_head, base.scalars, config)


__all__ = ["Config", "GPT", "RECORDS", "SKIPPED_MLP_BLOCKS", "config_from_shapes", "init"]
