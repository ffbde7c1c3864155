"""S18b — record #32 "Optimize distributed training, improve skip connection gating, and enhance
bfloat16 usage" (2025-09-11, 2.625 min).

The diff to S18 (#31): each U-net skip enters through a sigmoid gate, `x + sigmoid(w) * skip`,
with the skip weights initialised to -1.5 (a gate of 0.18); the RoPE tables are kept in bf16 and
the rotation runs in the activations' dtype (`Config.rope_dtype`; fp32 parity overrides it).
Outside the function: every `nn.Linear` (the head, the attention gates) is cast to bf16 with the
embeddings (`jnano.records`, `bf16_params`), Adam's moments are bf16 and its eps is 1e-8, and
Muon is vectorised per shape (the same math).
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

from jnano.stages import s18_yarn
from jnano.stages.s17_varlen import config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("32",)
SKIP_INIT = -1.5


@dataclass(frozen=True)
class Config(s18_yarn.Config):
    rope_dtype: str = "bfloat16"  # fp32 parity: "float32"


class GPT(s18_yarn.GPT):
    config: Config = eqx.field(static=True)

    def rope_dtype(self):
        return jnp.dtype(self.config.rope_dtype)

    def skip_weights(self):
        return jax.nn.sigmoid(self.scalars[: self.config.n_layer // 2])


def init(config: Config, key: jax.Array) -> GPT:
    base = s18_yarn.init(config, key)
    scalars = base.scalars.at[: config.n_layer].set(SKIP_INIT)
    return GPT(base.embed, base.value_embeds, base.blocks, base.lm_head, scalars, config)


__all__ = ["Config", "GPT", "RECORDS", "SKIP_INIT", "config_from_shapes", "init"]
