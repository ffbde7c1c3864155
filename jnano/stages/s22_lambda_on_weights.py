"""S22 — record #47 "Multiply attn lambda with weight instead of data, fix warmup"
(2025-12-10 SALambdaOnWeights).

The diff to S21 (#45-#46): the attention's first lambda scales the stacked q/k/v weights
instead of the values, `x @ (lambda_0 W_qkv)^T` (one small multiply on the weights, in their bf16,
instead of one on the activations), and the value embedding is added as `v + lambda_1 ve`. So
lambda_0 now also scales q and k, which the QK norm that follows removes (up to its eps).
"""

from __future__ import annotations

import jax

from jnano.nn.precision import scaled
from jnano.stages import s21_single_skip
from jnano.stages.s11_merged_qkv import qkv_heads, rope_attention
from jnano.stages.s19b_flat_qkvo_bank import FlatBankAttention
from jnano.stages.s21_single_skip import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("47",)


class WeightLambdaAttention(FlatBankAttention):
    def heads(self, x, bank, vi, lambdas, mask, **attention):
        q, k, v = qkv_heads(x, scaled(lambdas[0], bank[:3].astype(x.dtype)), self.n_head)
        if vi is not None:
            v = v + scaled(lambdas[1], vi.reshape(v.shape))
        return rope_attention(q, k, v, mask, **attention)


class GPT(s21_single_skip.GPT):
    """#45's model with lambda_0 on the attention weights."""


def init(config: Config, key: jax.Array) -> GPT:
    base = s21_single_skip.init(config, key)
    blocks = tuple(b if b.attn is None else type(b)(WeightLambdaAttention(b.attn.qkvo_w, b.attn.n_head, b.attn.attn_gate),
                                                    b.mlp)
                   for b in base.blocks)
    return GPT(base.embed, base.value_embeds, blocks, base.lm_head, base.scalars, config, smear_gate=base.smear_gate)


__all__ = ["Config", "GPT", "RECORDS", "WeightLambdaAttention", "config_from_shapes", "init"]
