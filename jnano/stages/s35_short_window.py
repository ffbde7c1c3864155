"""S35 — record #72 "Increase minimum lr and add max_seq_len schedule" (2026-02-10 ShortWindow,
1.496 min). Branched from #67 (S33): none of #68-#71's changes.

The diff to S33 (#67):
- **Short window of the third stage: 2 blocks** (`advance_schedule`: `ws_short = 2` for
  `1010 <= step < 1515`, exactly the third `TrainingStage`, whose windows were (5, 11)). The long
  window names the stage (3, 7, 11, 13), so the short one stays a function of it:
  `window // 2`, but 2 at 11.
- `grad_scale = 1 / grad_accum_steps` (1 on 8 GPUs; #65-#71: 2): the loss is not doubled before
  its backward, and the FP8 head's gradient scale is #55's 0.75/448 again.

Outside the model: the packed documents are cut at 896 tokens in the first stage (2048 after;
step 0 still 2048, what the warmup left in `args.train_max_seq_len`: `BatchStages.max_seq_lens`),
and the lr cools to 0.15, not 0.1 (`StageCooldown`). 1515 + 40 steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from jnano.hparams import FP8_SCALES_55, FP8Scales, FP8ScalesByWidth
from jnano.stages import s33_fp8_in_loss
from jnano.stages.base import recast
from jnano.nn.masks import BLOCK

RECORDS = ("72",)
THIRD_STAGE_LONG_WINDOW = 11  # blocks
THIRD_STAGE_SHORT_WINDOW = 2  # blocks (`_WS_SHORT_STAGE3`)


@dataclass(frozen=True)
class Config(s33_fp8_in_loss.Config):
    head_fp8: FP8Scales | FP8ScalesByWidth | None = FP8_SCALES_55


class GPT(s33_fp8_in_loss.GPT):
    config: Config = eqx.field(static=True)
    train_loss_scale: ClassVar[float] = 1.0

    def window_tokens(self, window) -> dict[str, jax.Array]:
        short = jnp.where(window == THIRD_STAGE_LONG_WINDOW, THIRD_STAGE_SHORT_WINDOW, window // 2)
        return {"L": window * BLOCK, "S": short * BLOCK}


def init(config: Config, key: jax.Array) -> GPT:
    return recast(s33_fp8_in_loss.init(config, key), GPT, config=config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    return s33_fp8_in_loss.config_from_shapes(shapes, base)


__all__ = ["Config", "GPT", "RECORDS", "THIRD_STAGE_SHORT_WINDOW", "config_from_shapes", "init"]
