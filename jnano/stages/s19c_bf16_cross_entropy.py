"""S19c — record #37 "Compute cross entropy in BF16 during training" (2025-09-27, 2.483 min).

The diff to S19b (#36): the logits stay in the head's dtype (bf16 in the record: the FP8 head
in training, the bf16 `F.linear` in evaluation) through `sigmoid(z / 7.5) * 30`, each op
rounded to bf16, and the training cross entropy runs on those bf16 logits
(`jnano.nn.losses.cross_entropy_sum_in`: bf16 log-probabilities and loss). Evaluation casts
the bf16 logits to fp32 for its cross entropy, as before. In fp32 (parity's fp32 runs) all of
this is #36's function.

Record #38 "Polar Express, replacement for Newton-Schulz" (2025-09-29, 2.476 min) runs this
model; Muon orthogonalises by Polar Express instead (`jnano.hparams.POLAR_EXPRESS_COEFFS`) at lr
0.06. Its logits `30 * sigmoid(z / 7.5)` take Python scalars again: 7.5 and 30 are exact in
bf16, the same values. Record #39 "Only update Adam params every other step, reduce batch
size" (2025-09-30, 2.447 min) runs it too: only its batches and optimizer steps change.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp

from jnano.nn import rms_norm
from jnano.nn.losses import cross_entropy_sum_in
from jnano.nn.precision import rounded
from jnano.stages import s19b_flat_qkvo_bank
from jnano.stages.s19b_flat_qkvo_bank import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("37", "38", "39")


def sigmoid_logits_in(z, scale: float = 30.0, temperature: float = 7.5, shift: float = 0.0):
    """`sigmoid(z / z.new_tensor(7.5)) * z.new_tensor(30.0)` in z's dtype, each op rounded;
    `shift` is added first (#54: `23 * sigmoid((z + 5) / 7.5)`, the sum rounded too)."""
    r = lambda v: rounded(v, z.dtype)  # noqa: E731
    shifted = r(z.astype(jnp.float32) + shift) if shift else z.astype(jnp.float32)
    return r(r(jax.nn.sigmoid(r(shifted / temperature))) * scale).astype(z.dtype)


class GPT(s19b_flat_qkvo_bank.GPT):
    train_loss_dtype: ClassVar[str] = "logits"

    def __call__(self, idx, window=None, final_window=None, training: bool = False):
        return self.squash(self.head_output(idx, window, final_window, training))

    def head_output(self, idx, window=None, final_window=None, training: bool = False):
        """The head's raw output, before `squash` (#60's fused loss starts from it)."""
        window = self.config.window if window is None else window
        final_window = window if final_window is None else final_window
        x = rms_norm(self.hidden(idx, (window, final_window)))
        return self.head(x, training)

    def squash(self, z):
        """The head's output to the logits (#54 changes the curve)."""
        return sigmoid_logits_in(z)

    def loss(self, idx, targets, **schedule):
        return cross_entropy_sum_in(self(idx, training=True, **schedule), targets) / idx.shape[0]


def init(config: Config, key: jax.Array) -> GPT:
    base = s19b_flat_qkvo_bank.init(config, key)
    return GPT(base.embed, base.value_embeds, base.blocks, base.lm_head, base.scalars, config, smear_gate=base.smear_gate)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init", "sigmoid_logits_in"]
