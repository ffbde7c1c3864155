"""S20 — record #40 "Backout, misc hyperparameter tuning, optimize lambda padding" (2025-10-04,
2.358 min). (history.md's S20 also counts #39, whose model is #37's: `s19c_bf16_cross_entropy`.)

The diff to S19c (#37-#39): before the final norm the residual stream gives back a learned share
of block 8's output, `x -= lambda * x_8` ("backout", lambda = packed scalar 5L + 1, init 0.5).
The run of L zeros after the attention lambdas (#34) shrinks to the two lambdas it uses, smear
(0) and backout (0.5), and the padding counts 5L + 2 entries (64 at 12 layers).

Record #41 "NorMuon" (2025-10-24, 2.345 min) runs this model under NorMuon
(`jnano.hparams.Muon.normuon_beta2`), and so does #42 "Update NorMuon LR, Step Logic"
(2025-10-27, 2.313 min; banks normalised per block, c_fc at twice the lr), #43
"Cautious weight decay w/ schedule" (2025-11-10, 2.284 min) and #44 "Backward hooks on Adam"
(2025-11-16, 2.269 min; systems only).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnano.nn.precision import scaled
from jnano.stages import s19c_bf16_cross_entropy
from jnano.stages.s19c_bf16_cross_entropy import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("40", "41", "42", "43", "44")
BACKOUT_BLOCK = 8
BACKOUT_INIT = 0.5


class GPT(s19c_bf16_cross_entropy.GPT):
    def residual_stream(self, blocks, x, x0, values, masks):
        outs = self.block_outputs(blocks, x, x0, values, masks)
        return outs[-1] - scaled(self.scalars[5 * self.config.n_layer + 1], outs[BACKOUT_BLOCK])


def backout_scalars(packed: jax.Array, n_layer: int, world_size: int) -> jax.Array:
    """The first 5L scalars, then smear's 0 and backout's 0.5, padded to the world size."""
    pad = (-n_layer * 5 - 2) % world_size
    tail = jnp.asarray([0.0, BACKOUT_INIT], jnp.float32)
    return jnp.concatenate([packed[: 5 * n_layer], tail, jnp.ones(pad)]).astype(jnp.float32)


def init(config: Config, key: jax.Array) -> GPT:
    base = s19c_bf16_cross_entropy.init(config, key)
    return GPT(base.embed, base.value_embeds, base.blocks, base.lm_head,
               backout_scalars(base.scalars, config.n_layer, config.world_size), config, smear_gate=base.smear_gate)


__all__ = ["BACKOUT_BLOCK", "BACKOUT_INIT", "Config", "GPT", "RECORDS", "backout_scalars", "config_from_shapes", "init"]
