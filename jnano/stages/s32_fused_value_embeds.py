"""S32 — record #65 "Group Value Embeds into single parameter" (2026-01-30 VeFused, 1.613 min).

The diff to S31b (#63; #64's init is not kept):
- The five value tables are one bf16 parameter `value_embeds` (5 V, d), zero at init, read as
  its (5, V, d) view (upstream builds it in bf16: so in every precision, and Adam's steps round
  into it, as the head's do since #61).
- The training loss is multiplied by main's `grad_scale = 2 / grad_accum_steps` (2 on 8 GPUs,
  the same gradient on any device count) before its backward (`train_loss_scale`); the FP8
  head's gradient scale doubles with it (`FP8_SCALES_65`), so its e5m2 casts see the same
  numbers. Adam and NorMuon hardly notice a factor on the gradient (Adam's eps aside).
- The schedules move into `TrainingStage`s (`jnano.hparams.stage_bounds`): stages end at
  `round(k N / 3)`, the lr cools from the integer step `int(0.45 N)` (`StageCooldown`), the
  multi-token weights go linearly over each stage (`StagedMultiTokenWeights`), and the split
  is `round(2N/3) | 1` (`UntieAtStage`). 1535 + 40 steps.

Record #66 "Torch 2.10" (2026-01-31, 1.595 min) re-times #65's code under torch 2.10.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.hparams import FP8_SCALES_65, FP8Scales, FP8ScalesByWidth
from jnano.stages import s31b_untied_value_embeds
from jnano.stages.base import recast
from jnano.stages.s31b_untied_value_embeds import VALUE_TABLES

RECORDS = ("65", "66")
GRAD_SCALE = 2.0  # main's `grad_scale = 2 / grad_accum_steps` on 8 GPUs


@dataclass(frozen=True)
class Config(s31b_untied_value_embeds.Config):
    head_fp8: FP8Scales | FP8ScalesByWidth | None = FP8_SCALES_65


class GPT(s31b_untied_value_embeds.GPT):
    config: Config = eqx.field(static=True)
    value_embeds: Float[Array, "tables_vocab dim"]
    train_loss_scale: ClassVar[float] = GRAD_SCALE

    def layer_values(self, idx) -> list:
        tables = self.value_embeds.reshape(VALUE_TABLES, self.config.vocab_size, -1)
        ve = [jnp.take(tables[k], idx, axis=0) for k in range(VALUE_TABLES)]
        return ve[:2] + [None] * (self.config.n_layer - 5) + ve[2:]

    def loss(self, idx, targets, **schedule):
        return self.train_loss_scale * super().loss(idx, targets, **schedule)


def init(config: Config, key: jax.Array) -> GPT:
    base = s31b_untied_value_embeds.init(config, key)
    tables = jnp.zeros((VALUE_TABLES * config.vocab_size, config.n_embd), jnp.bfloat16)
    return recast(base, GPT, config=config, value_embeds=tables)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    return s31b_untied_value_embeds.config_from_shapes(shapes, base)


__all__ = ["Config", "GPT", "GRAD_SCALE", "RECORDS", "config_from_shapes", "init"]
