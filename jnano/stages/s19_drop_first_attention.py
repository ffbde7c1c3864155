"""S19 — record #35 "Drop first attn layer, extend all long windows for validation, update
schedule" (2025-09-21, 2.527 min).

The diff to S18d (#34): block 0 loses its attention too, so it is empty and the forward starts
at block 1 (block 0's lambdas go unused). The U-net follows: blocks 1-5 push their outputs,
blocks 6-10 pop them through skip gates 0-4, and the last block takes no skip. Every
long-window layer (4 and 11) now takes the `final_window`, 20 blocks at the final validation.
Outside the function: 40 steps past the 1640 of the schedule at the floor lr
(`CooldownToFloor.extension`, which also holds the window at its last size).
"""

from __future__ import annotations

import jax

from jnano.nn.precision import scaled
from jnano.stages import s18d_smear
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s18d_smear import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("35",)


class GPT(s18d_smear.GPT):
    def layer_masks(self, idx, windows) -> list:
        """S18c's layers, with the last layer's long mask on every long layer."""
        layers = super().layer_masks(idx, windows)
        return [layers[-1] if c == "L" else layer for c, layer in zip(self.layer_windows(), layers)]

    def residual_stream(self, blocks, x, x0, values, masks):
        return self.block_outputs(blocks, x, x0, values, masks)[-1]

    def block_outputs(self, blocks, x, x0, values, masks) -> list:
        """The residual stream after each block, [0] the input (block 0 is empty)."""
        encoder, skips, gates, outs = len(blocks) // 2, [], self.skip_weights(), [x]
        for i in range(1, len(blocks)):
            if encoder <= i < len(blocks) - 1:  # upstream's `i >= n and i < 11`
                x = x + scaled(gates[i - encoder], skips.pop())
            x = blocks[i](x, values[i], x0, masks[i])
            if i < encoder:
                skips.append(x)
            outs.append(x)
        return outs


def init(config: Config, key: jax.Array) -> GPT:
    base = s18d_smear.init(config, key)
    blocks = (Block(None, None), *base.blocks[1:])
    return GPT(base.embed, base.value_embeds, blocks, base.lm_head, base.scalars, config, smear_gate=base.smear_gate)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
