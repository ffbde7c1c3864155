"""S6 — record #11 "U-net pattern skip connections & double lr" (2024-11-10, 7.2 min).

The diff to S5: the first half of the blocks (encoder) push their outputs; each decoder block
i gets `x + skip_weights[i] * pop()` as its input (last in, first out: block 6 receives block 5's
output), `skip_weights` = ones at init. Needs an even number of layers. (Optimizer: lrs doubled,
`skip_weights` train with the scalars; Newton-Schulz in the `B = bA + cA^2; X = aX + BX` form.)
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jnano.nn import Linear, rms_norm
from jnano.nn.precision import scaled
from jnano.stages import s5_shortcuts
from jnano.stages.base import LanguageModel
from jnano.stages.s5_shortcuts import Block, Transformer
from jnano.stages.s4_untied import Config, config_from_shapes

RECORDS = ("11",)


class GPT(LanguageModel):
    transformer: Transformer
    lm_head: Linear
    skip_weights: Float[Array, " decoder"]
    config: Config = eqx.field(static=True)

    def __call__(self, idx: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        return s5_shortcuts.GPT.logits(self, self.unet(idx, None))

    def unet(self, idx, mask):
        """Embed, then the encoder blocks push their outputs and the decoder blocks pop them."""
        x = x0 = rms_norm(self.transformer.wte(idx))
        v1, skips = None, []
        encoder = self.config.n_layer // 2
        for block in self.transformer.h[:encoder]:
            x, v1 = block(x, v1, x0, mask)
            skips.append(x)
        for i, block in enumerate(self.transformer.h[encoder:]):
            x, v1 = block(x + scaled(self.skip_weights[i], skips.pop()), v1, x0, mask)
        return x


def init(config: Config, key: jax.Array) -> GPT:
    if config.n_layer % 2:
        raise ValueError(f"the U-net needs an even number of layers, got n_layer={config.n_layer}")
    base = s5_shortcuts.init(config, key)
    skip = jnp.ones((config.n_layer - config.n_layer // 2,), jnp.float32)
    return GPT(base.transformer, base.lm_head, skip, config)


__all__ = ["Block", "Config", "GPT", "RECORDS", "config_from_shapes", "init"]
