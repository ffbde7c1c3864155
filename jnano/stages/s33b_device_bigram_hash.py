"""S33b — record #68 "Move bigram hash to GPU" (2026-01-31 BigramHashH2D, 1.535 min).

#68 was branched from #67 before its loss change: its function is #65's (S32: the FP8 head
apart from the loss, whose bf16 logit gradient goes to e5m2) with #67's initialisation, and one
diff: the bigram hash is computed on the GPU, into a buffer of its own, so position 1 hashes
with the row's true first token (the CPU hash, #62-#67 and #69 on, reads the reserved id there:
`jnano.nn.bigram`). 1515 + 40 steps.
"""

from __future__ import annotations

from typing import ClassVar

import jax

from jnano.stages import s32_fused_value_embeds, s33_fp8_in_loss
from jnano.stages.base import recast
from jnano.stages.s32_fused_value_embeds import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("68",)


class GPT(s32_fused_value_embeds.GPT):
    bigram_first_previous: ClassVar[str] = "token"


def init(config: Config, key: jax.Array) -> GPT:
    """#67's draws."""
    return recast(s33_fp8_in_loss.init(config, key), GPT)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
