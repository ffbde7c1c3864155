"""S7 — FlexAttention: record #12 "1024-ctx dense causal attention -> 64K-ctx FlexAttention"
(2024-11-19, 5.03 min) and #13 "Attention window warmup" (2024-11-24, 4.66 min).

The diff to S6: each GPU trains on one packed sequence (64K tokens) instead of 64 rows of 1024,
and attention sees only earlier tokens of the same document (documents start at BOS) within a
sliding window: 1024 tokens in #12; in #13 a window that grows with training
(`jnano.hparams.WindowSchedule` "blocksize_13", 64 -> 1792 tokens), given per call as
`window=` (a traced value: one compiled program for every step). The parameters and their math
are S6's. `Config.rope_dtype`: upstream caches the RoPE tables in bf16; fp32 parity runs
upstream with its `.bfloat16()` casts disabled and sets "float32" here.
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jnano.nn import inverse_frequencies, rotary_cos_sin
from jnano.nn.masks import document_causal, token_window
from jnano.stages import s5_shortcuts, s6_unet
from jnano.stages.base import count_layers
from jnano.stages.s5_shortcuts import Block, ValueResidualAttention

RECORDS = ("12", "13")


@dataclass(frozen=True)
class Config:
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 6
    n_embd: int = 768
    window: int = 1024  # tokens, when the call gives none (#12)
    rope_dtype: str = "bfloat16"


class FlexValueResidualAttention(ValueResidualAttention):
    rope_dtype: str = eqx.field(static=True, default="bfloat16")

    def rotary_tables(self, seq: int, head_dim: int):
        return rotary_cos_sin(seq, inverse_frequencies(head_dim), table_dtype=jnp.dtype(self.rope_dtype))


class GPT(s6_unet.GPT):
    config: Config = eqx.field(static=True)

    def __call__(self, idx: Int[Array, "batch seq"], window=None) -> Float[Array, "batch seq vocab"]:
        window = self.config.window if window is None else window
        mask = jax.vmap(document_causal)(idx) & token_window(idx.shape[-1], window)
        return s5_shortcuts.GPT.logits(self, self.unet(idx, mask))


def init(config: Config, key: jax.Array) -> GPT:
    base = s6_unet.init(s6_unet.Config(config.vocab_size, config.n_layer, config.n_head, config.n_embd), key)
    blocks = tuple(
        Block(FlexValueResidualAttention(b.attn.c_q, b.attn.c_k, b.attn.c_v, b.attn.c_proj, b.attn.n_head,
                                         b.attn.qk_norm_before_rope, b.attn.lamb, config.rope_dtype),
              b.mlp, b.lambdas)
        for b in base.transformer.h)
    transformer = s5_shortcuts.Transformer(base.transformer.wte, blocks)
    return GPT(transformer, base.lm_head, base.skip_weights, config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["transformer.wte.weight"]
    return Config(vocab, count_layers(shapes), base.n_head, dim, base.window, base.rope_dtype)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
