"""S12b — record #21c, the second re-timing of #21 ("StableTorch", 2025-05-24), and the
comms-only records #22 "Faster gradient all-reduce" (2025-05-24, 2.990 min) and #23 "Overlap
computation and gradient communication" (2025-05-25, 2.979 min).

The diff to S12 (#21b): the FP8 head divides by its scales, chosen from the e4m3 range
(x_s = sqrt(dim)/448, w_s = 24/448, grad_s = 1/448, `jnano.nn.fp8.fp8_scales_21c`), the logits
are `30 sigmoid(z / (7.5 sqrt(dim)))` (the head weight lives ~sqrt(dim) larger; its lr grows to
0.22), and the training loss is the *sum* over the rank's tokens (evaluation keeps the mean).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
from jaxtyping import Array, Float, Int

from jnano.nn import cross_entropy, rms_norm
from jnano.hparams import FP8_SCALES_BY_WIDTH_21C, FP8Scales, FP8ScalesByWidth
from jnano.stages import s10_fp8_head, s12_list_value_embeds
from jnano.stages.base import count_layers
from jnano.stages.s10_fp8_head import sigmoid_logits

RECORDS = ("21c", "22", "23")


@dataclass(frozen=True)
class Config(s10_fp8_head.Config):
    head_fp8: FP8Scales | FP8ScalesByWidth | None = FP8_SCALES_BY_WIDTH_21C


class GPT(s12_list_value_embeds.GPT):
    config: Config = eqx.field(static=True)

    def __call__(self, idx: Int[Array, "batch seq"], window=None, training: bool = False):
        window = self.config.window if window is None else window
        x = rms_norm(self.hidden(idx, window))
        return sigmoid_logits(self.head(x, training), temperature=7.5 * math.sqrt(x.shape[-1]))

    train_loss_reduction: ClassVar[str] = "sum"

    def loss(self, idx, targets, **schedule) -> Float[Array, ""]:
        """The training loss: each row (one rank's sequence upstream) summed over its tokens
        (`reduction='sum' if self.training`), then the mean over rows (DDP averages the ranks)."""
        return cross_entropy(self(idx, training=True, **schedule), targets, reduction="sum") / idx.shape[0]

    def eval_loss(self, idx, targets, **schedule) -> Float[Array, ""]:
        """Validation: the mean over tokens, through the bf16 (non-FP8) head."""
        return cross_entropy(self(idx, **schedule), targets)


def init(config: Config, key: jax.Array) -> GPT:
    base = s12_list_value_embeds.init(
        s12_list_value_embeds.Config(config.vocab_size, config.n_layer, config.n_head, config.n_embd,
                                     config.window, config.head_fp8), key)
    return GPT(base.embed, base.blocks, base.value_embeds, base.lm_head, base.skip_weights, config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["embed.weight"]
    return dataclasses.replace(base, vocab_size=vocab, n_layer=count_layers(shapes, "blocks."), n_embd=dim)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
