"""S29b — record #60 "Fused triton kernel for softcapped multi-token prediction cross entropy
step" (2026-01-16 FusedSoftcappedEntropy, 1.765 min).

The diff to S29 (#58-#59): the training loss is one Triton kernel that takes the head's raw
output (bf16 in the record) and computes the softcap `23 sigmoid((x + 5) / 7.5)`, the
log-sum-exp and the weighted multi-token terms in float32
(`jnano.nn.losses.softcapped_multi_token_cross_entropy`); the losses are summed in float32, so
the training loss is a float32 number again (a bf16 one from #37), and the gradient reaches the
head output rounded once to bf16. Evaluation keeps #58's bf16 softcap and float32 cross entropy.
In float32 this is #59's function.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp

from jnano.nn.losses import softcapped_multi_token_cross_entropy
from jnano.stages import s29_paired_heads
from jnano.stages.base import recast
from jnano.stages.s25_logit_rescale import LOGIT_SCALE, LOGIT_SHIFT, LOGIT_TEMPERATURE
from jnano.stages.s29_paired_heads import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("60",)


class GPT(s29_paired_heads.GPT):
    train_loss_dtype: ClassVar[str] = "float32"
    # the training loss from the head's output (#79 swaps in its CUDA kernel's)
    loss_kernel: ClassVar = staticmethod(softcapped_multi_token_cross_entropy)

    def loss(self, idx, targets, mtp_weights=None, untied=False, **schedule):
        z = self.with_tokens_from(untied).head_output(idx, training=True, **schedule)
        weights = jnp.ones((1,), jnp.float32) if mtp_weights is None else mtp_weights
        kernel = type(self).loss_kernel
        # one kernel launch per rank: each row's tokens alone
        per_row = jax.vmap(lambda zr, yr: kernel(zr, yr, weights, LOGIT_SCALE, LOGIT_SHIFT, LOGIT_TEMPERATURE))(z, targets)
        return jnp.sum(per_row) / idx.shape[0]


def init(config: Config, key) -> GPT:
    return recast(s29_paired_heads.init(config, key), GPT)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
