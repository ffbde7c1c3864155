"""S16 — record #28 "Sparse attention gate" (2025-08-23, 2.812 min).

The diff to S15 (#27): every attention scales each head's output by a gate computed from the
first `dim // 64` channels of its (normed) input, `sigmoid(x[..., :dim // 64] @ dampen.T)`,
one gate per head and token, from a zero-initialised `attn.dampen` (heads, dim // 64): 0.5 at
init. The gate matrix sits in `blocks`, so Muon trains it. The head returns to #19's logits
`30 sigmoid(z / 7.5)` with FP8 weight scale 2**-9 (divide convention: `FP8_SCALES_BY_WIDTH_28`), and
its lr multiplier drops from 27.5 to 1 (`jnano.records`).
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Int

from jnano.hparams import FP8_SCALES_BY_WIDTH_28, FP8Scales, FP8ScalesByWidth
from jnano.nn import Linear, rms_norm
from jnano.stages import s15_qkvo_bank
from jnano.stages.s10_fp8_head import sigmoid_logits
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s15_qkvo_bank import config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("28",)
GATE_FRACTION = 64  # upstream's `args.dampen_factor`: the gate reads dim // 64 channels


@dataclass(frozen=True)
class Config(s15_qkvo_bank.Config):
    head_fp8: FP8Scales | FP8ScalesByWidth | None = FP8_SCALES_BY_WIDTH_28


class GatedAttention(s15_qkvo_bank.QKVOAttention):
    dampen: Linear  # (heads, dim // 64)

    def gate(self, x):
        return jax.nn.sigmoid(self.dampen(x[..., : x.shape[-1] // GATE_FRACTION]))

    def mixed(self, x, vi, lambdas, mask, **attention):
        B, T, _ = x.shape
        gate, bank = self.gate(x), self.bank()
        y = self.heads(x, bank, vi, lambdas, mask, **attention)
        y = (y.reshape(B, T, self.n_head, -1) * gate[..., None]).reshape(B, T, -1)
        return y @ self.output_weight(bank, lambdas, y.dtype).T



class GPT(s15_qkvo_bank.GPT):
    config: Config = eqx.field(static=True)

    def __call__(self, idx: Int[Array, "batch seq"], window=None, training: bool = False):
        window = self.config.window if window is None else window
        return sigmoid_logits(self.head(rms_norm(self.hidden(idx, window)), training))


def gated(block: Block) -> Block:
    attn = block.attn
    if attn is not None:
        dim = attn.qkvo_w.shape[-1]
        attn = GatedAttention(attn.qkvo_w, attn.n_head, Linear(jnp.zeros((attn.n_head, dim // GATE_FRACTION))))
    return Block(attn, block.mlp)


def init(config: Config, key: jax.Array) -> GPT:
    base = s15_qkvo_bank.init(config, key)
    return GPT(base.embed, base.value_embeds, tuple(gated(b) for b in base.blocks), base.lm_head, base.scalars,
               config)


__all__ = ["Config", "GPT", "GATE_FRACTION", "GatedAttention", "RECORDS", "config_from_shapes", "gated", "init"]
