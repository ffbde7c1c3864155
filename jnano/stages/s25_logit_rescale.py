"""S25 — record #54 "Asymmetric Logit Rescale" (2025-12-26 LogitRescale, 1.940 min).

The diff to S24 (#53): the logits are `23 sigmoid((z + 5) / 7.5)`, in (0, 23) and centred
below the head's zero, where #53 had `30 sigmoid(z / 7.5)`; in bf16 the shifted head output is
rounded before the division, as upstream's eager ops round it. The attention's key-offset flag
is renamed (`key_offset`) and its slice written `3 * head_dim // 4:`, the same dims as #53's.

Everything else #54 changes is in its training loop, rewritten around a `TrainingManager`
(`jnano.records`, `ref.drivers.ManagerDriver`): the head is copied into `embed` and the model
splits in one place, after step `ceil(2/3 N) | 1` (`jnano.hparams.UntieWithCopy`); the scalars'
40-step freeze of #52/#53 is never started; cooldown 0.5, 1840 + 40 steps.
"""

from __future__ import annotations

import jax

from jnano.stages import s24_multi_token
from jnano.stages.base import recast
from jnano.stages.s19c_bf16_cross_entropy import sigmoid_logits_in
from jnano.stages.s24_multi_token import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("54",)
LOGIT_SCALE, LOGIT_SHIFT, LOGIT_TEMPERATURE = 23.0, 5.0, 7.5


class GPT(s24_multi_token.GPT):
    def squash(self, z):
        return sigmoid_logits_in(z, scale=LOGIT_SCALE, temperature=LOGIT_TEMPERATURE, shift=LOGIT_SHIFT)


def init(config: Config, key: jax.Array) -> GPT:
    return recast(s24_multi_token.init(config, key), GPT)


__all__ = ["Config", "GPT", "LOGIT_SCALE", "LOGIT_SHIFT", "LOGIT_TEMPERATURE", "RECORDS", "config_from_shapes", "init"]
