"""S39 — record #79 "Fuse Cross Entropy Fwd/Bwd Kernel, to avoid recalc on softcap sigmoid"
(2026-04-04 FuseCEFwdAndBwd, 1.411 min).

The diff to S38 (#77-#78): the training loss is one CUDA kernel that writes the losses and the
logits' gradient in the forward (`jnano.nn.losses.fused_softcapped_multi_token_cross_entropy`):
the softcap's sigmoid is stored in the logits' dtype (bf16) before `z = 23 s`, and the gradient
of each row multiplies the softmax by the sum of every multi-token weight, so a rank's last one
or two rows (stage 1 and 2) get a gradient their loss does not have. (The kernel also takes the
incoming gradient to be the loop's `grad_scale`: the same thing for `loss.sum() * grad_scale`.)
"""

from __future__ import annotations

from typing import ClassVar

from jnano.nn.losses import fused_softcapped_multi_token_cross_entropy
from jnano.stages import s38_single_saved_activation
from jnano.stages.base import recast
from jnano.stages.s38_single_saved_activation import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("79",)


class GPT(s38_single_saved_activation.GPT):
    loss_kernel: ClassVar = staticmethod(fused_softcapped_multi_token_cross_entropy)


def init(config: Config, key) -> GPT:
    return recast(s38_single_saved_activation.init(config, key), GPT)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
