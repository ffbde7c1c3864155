"""S21 — record #45 "Refine skip arch, update exponential decay init" (2025-11-18 RefineSkip).

The diff to S20 (#40-#44): the U-net's five skips become one. Block 4's output is kept and
added to the stream before block 7, through the gate sigmoid(skip scalar 1) (upstream's
`skip_weights[i - n]` at i = 7, n = 6); the other skip scalars stay in the packed tensor,
unused. Each block's first lambda (the share of the stream it keeps, scalars[L + 2i]) starts at
1.1 instead of 1.0.

Record #46 "Batch size schedule" (2025-11-29, 2.203 min) writes the same skip as lists
(`skip_in = [4]`, `skip_out = [7]`) and trains this model on a growing batch
(`jnano.hparams.BatchStages`, `StagedCooldown`).
"""

from __future__ import annotations

import jax

from jnano.nn.precision import scaled
from jnano.stages import s20_backout
from jnano.stages.s20_backout import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("45", "46")
SKIP_FROM, SKIP_TO = 4, 7
STREAM_LAMBDA_INIT = 1.1


class GPT(s20_backout.GPT):
    def block_outputs(self, blocks, x, x0, values, masks) -> list:
        """The residual stream after each block, [0] the input (block 0 is empty)."""
        gates, outs = self.skip_weights(), [x]
        for i in range(1, len(blocks)):
            if i == SKIP_TO:
                x = x + scaled(gates[SKIP_TO - len(blocks) // 2], outs[SKIP_FROM])
            x = blocks[i](x, values[i], x0, masks[i])
            outs.append(x)
        return outs


def init(config: Config, key: jax.Array) -> GPT:
    base = s20_backout.init(config, key)
    n = config.n_layer
    scalars = base.scalars.at[n: 3 * n: 2].set(STREAM_LAMBDA_INIT)
    return GPT(base.embed, base.value_embeds, base.blocks, base.lm_head, scalars, config, smear_gate=base.smear_gate)


__all__ = ["Config", "GPT", "RECORDS", "SKIP_FROM", "SKIP_TO", "STREAM_LAMBDA_INIT", "config_from_shapes", "init"]
