"""S18d — record #34 "Smear token embeddings 1 position forward" (2025-09-18, 2.547 min).

The diff to S18c (#33): before the first norm, each token's embedding takes in a gated share of
the previous token's, `x[t] += lambda * sigmoid(w . x[t, :12]) * x[t-1]`, across document
boundaries as upstream does. The gate `smear_gate` (a (1, 12) linear map, zero-init) is trained
by Muon with the block matrices; `lambda` is packed scalar 5L (60), in a new run of L zeros
after the attention lambdas, so the padding now counts 6L entries.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnano.nn import Linear
from jnano.nn.precision import scaled
from jnano.stages import s18c_final_layer_window
from jnano.stages.s18c_final_layer_window import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("34",)
GATE_CHANNELS = 12


class GPT(s18c_final_layer_window.GPT):
    smear_gate: Linear  # (1, 12)

    def smear_lambda(self):
        return self.scalars[5 * self.config.n_layer]

    def token_embeddings(self, idx):
        x = self.embed_tokens(idx)
        gate = scaled(self.smear_lambda(), jax.nn.sigmoid(self.smear_gate(x[..., 1:, :GATE_CHANNELS])))
        return jnp.concatenate([x[..., :1, :], x[..., 1:, :] + gate * x[..., :-1, :]], axis=-2)


def smear_scalars(packed: jax.Array, n_layer: int, world_size: int) -> jax.Array:
    """S13's first 5L scalars, then L zeros (the smear lambda first), padded to the world size."""
    pad = (-n_layer * 6) % world_size
    return jnp.concatenate([packed[: 5 * n_layer], jnp.zeros(n_layer), jnp.ones(pad)]).astype(jnp.float32)


def init(config: Config, key: jax.Array) -> GPT:
    base = s18c_final_layer_window.init(config, key)
    return GPT(base.embed, base.value_embeds, base.blocks, base.lm_head,
               smear_scalars(base.scalars, config.n_layer, config.world_size), config,
               smear_gate=Linear(jnp.zeros((1, GATE_CHANNELS), jnp.float32)))


__all__ = ["Config", "GPT", "GATE_CHANNELS", "RECORDS", "config_from_shapes", "init", "smear_scalars"]
