"""S44 — record #84 "FP8 on MLP up-projection forward pass" (2026-05-21 FP8MLPUpProj, 1.320 min,
PR #306). Branched from master after #80, with #79's loss kernel (S39), without #81-#83.

The diff to S40 (#80) is one of precision, in training only: each MLP's up-projection runs its
forward in FP8 (`jnano.nn.fp8.fp8_up_projection`). The normed input is scaled by 448 / its
amax (per tensor, per call), the layer's `c_fc` by its own amax / 448 (upstream refreshes that
e4m3 copy after every optimizer step: the same thing), and the fp32 product is rescaled and rounded
to bf16. The backward is the bf16 one, from the FP8 pre-activation. Evaluation, and fp32 parity
(`mlp_up_fp8=False`, as upstream's model before `quantize_weights_fp8`), compute #80's function.
1445 + 40 steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax

from jnano.nn.fp8 import fp8_up_projection
from jnano.nn.losses import fused_softcapped_multi_token_cross_entropy
from jnano.nn.mlp import relu_squared
from jnano.stages import s40_head_pair_banks
from jnano.stages.base import recast
from jnano.stages.s22b_premul_out import RowMLP
from jnano.stages.s40_head_pair_banks import config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("84",)


@dataclass(frozen=True)
class Config(s40_head_pair_banks.Config):
    mlp_up_fp8: bool = True  # the training forward's up-projection in FP8


class FP8UpMLP(RowMLP):
    def __call__(self, x):
        h = relu_squared(fp8_up_projection(x, self.c_fc))
        return h @ self.c_proj.astype(h.dtype)


class GPT(s40_head_pair_banks.GPT):
    config: Config = eqx.field(static=True)
    loss_kernel: ClassVar = staticmethod(fused_softcapped_multi_token_cross_entropy)  # #79's

    def with_fp8_up_projections(self):
        blocks = tuple(type(b)(b.attn, FP8UpMLP(b.mlp.c_fc, b.mlp.c_proj)) for b in self.blocks)
        return eqx.tree_at(lambda m: m.blocks, self, blocks)

    def head_output(self, idx, window=None, final_window=None, training: bool = False):
        model = self.with_fp8_up_projections() if training and self.config.mlp_up_fp8 else self
        return super(GPT, model).head_output(idx, window, final_window, training)


def init(config: Config, key: jax.Array) -> GPT:
    return recast(s40_head_pair_banks.init(config, key), GPT, config=config)


__all__ = ["Config", "FP8UpMLP", "GPT", "RECORDS", "config_from_shapes", "init"]
