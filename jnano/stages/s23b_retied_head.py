"""S23b — record #51 "Retie Embed to lm_head, retune fp8 scales" (2025-12-19 RetieLMHead,
2.075 min).

The diff to S23 (#49-#50): the token embedding is the head's weight again,
`F.embedding(idx, lm_head.weight)` (tied as in records #1-#7), so `embed` is gone. The head is
drawn N(0, 0.005) and takes the gradients of both uses; Adam trains it at the head's lr. The
FP8 head's scales no longer follow the width: x 100/448, w 1.5/448, grad 0.75/448.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

from jnano.hparams import FP8_SCALES_51, FP8Scales, FP8ScalesByWidth
from jnano.nn import Linear
from jnano.stages import s23_partial_key_offset as s23
from jnano.stages.base import count_layers

RECORDS = ("51",)
HEAD_INIT_STD = 0.005


@dataclass(frozen=True)
class Config(s23.Config):
    head_fp8: FP8Scales | FP8ScalesByWidth | None = FP8_SCALES_51


class GPT(s23.GPT):
    """#49's model with `embed` None: the head's rows embed the tokens."""

    config: Config = eqx.field(static=True)

    def embed_tokens(self, idx):
        return jnp.take(self.lm_head.weight, idx, axis=0)


def init(config: Config, key: jax.Array) -> GPT:
    base = s23.init(config, key)
    shape = base.lm_head.weight.shape
    head = Linear(HEAD_INIT_STD * jax.random.normal(jax.random.fold_in(key, 51), shape, jnp.float32))
    return GPT(None, base.value_embeds, base.blocks, head, base.scalars, config, smear_gate=base.smear_gate)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["lm_head.weight"]
    return dataclasses.replace(base, vocab_size=vocab, n_layer=count_layers(shapes, "blocks."), n_embd=dim)


__all__ = ["Config", "GPT", "HEAD_INIT_STD", "RECORDS", "config_from_shapes", "init"]
