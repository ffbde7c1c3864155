"""S33c — record #69 "Kernel Optimizations" (2026-02-02 KernelTuning, 1.528 min).

#69 goes back to the CPU bigram hash (position 1 with the reserved id), so its function is #65's
(S32) again, with #67's initialisation; the rest is Triton kernel tuning. 1515 + 40 steps.

Record #71 "Sparse bigram gradient comms and optimized loading on CPU" (2026-02-06, 1.516 min),
branched before #70, trains this model: the bigram table's gradient is exchanged sparsely
between the 8 GPUs (an all-to-all of the touched rows, then averaged: the same numbers), and the
hash is copied out of pinned memory.
"""

from __future__ import annotations

import jax

from jnano.stages import s32_fused_value_embeds, s33_fp8_in_loss
from jnano.stages.base import recast
from jnano.stages.s32_fused_value_embeds import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("69", "71")


class GPT(s32_fused_value_embeds.GPT):
    """#65's model."""


def init(config: Config, key: jax.Array) -> GPT:
    """#67's draws."""
    return recast(s33_fp8_in_loss.init(config, key), GPT)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
