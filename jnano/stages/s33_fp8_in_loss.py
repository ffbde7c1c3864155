"""S33 — record #67 "Tune fused softcap kernels and fuse fp8 quantization in LM head"
(2026-01-24 ImprovedLMHead, recorded 2026-01-31, 1.540 min).

The diff to S32 (#65-#66):
- **The FP8 head inside the loss.** In training the loss kernel takes the final stream and the
  head's weight and runs the FP8 matmul itself; its backward divides the float32 gradient of the
  logits by `grad_s` and casts it to e5m2 directly, where #65 first rounded it to bf16 (in
  float32 it is #65's function; `jnano.nn.fp8.fp8_linear(..., float32_cotangent=True)`).
- **Init:** every attention weight, W_O included, and c_fc drawn U(+-sqrt(3) 0.5 / sqrt(d))
  (#65: q, k, v at twice that bound, W_O zero); c_proj stays zero. 1515 + 40 steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnano.nn.fp8 import fp8_linear
from jnano.stages import s32_fused_value_embeds
from jnano.stages.base import recast
from jnano.stages.s32_fused_value_embeds import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("67",)


class FP8HeadInLoss:
    """The training head as the loss kernel runs it (later stages mix it in)."""

    def head(self, x, training: bool):
        if training and self.config.head_scales is not None:  # the loss kernel's own FP8 matmul
            return fp8_linear(x, self.lm_head.weight.T, self.config.head_scales, float32_cotangent=True)
        return super().head(x, training)


class GPT(FP8HeadInLoss, s32_fused_value_embeds.GPT):
    pass


def init(config: Config, key: jax.Array) -> GPT:
    base = s32_fused_value_embeds.init(config, key)
    bound = 3 ** 0.5 * 0.5 * config.n_embd ** -0.5
    k_attn, k_fc = jax.random.split(jax.random.fold_in(key, 67))
    attn = jax.random.uniform(k_attn, base.attn_bank.shape, jnp.float32, -bound, bound)
    c_fc = jax.random.uniform(k_fc, base.mlp_bank[:, 0].shape, jnp.float32, -bound, bound)
    mlp = base.mlp_bank.at[:, 0].set(c_fc.astype(base.mlp_bank.dtype))
    return recast(base, GPT, attn_bank=attn.astype(base.attn_bank.dtype), mlp_bank=mlp)


__all__ = ["Config", "FP8HeadInLoss", "GPT", "RECORDS", "config_from_shapes", "init"]
