"""S8 — record #14 "Value Embeddings" (2024-12-04, 4.41 min).

The diff to S7 (#13): the value residual from block 0 gives way to learned value embeddings. A
second table `transformer.vte` (vocab x 12*dim) is looked up once; its 12 chunks feed one block
each, `v = (1 - lamb) v + lamb vi`. RoPE becomes a module with a persistent `inv_freq` buffer,
`(1/base) ** (arange(0, D, 2) / D)`, and fp32 tables (upstream's `model.bfloat16()` makes that
buffer bf16 at record precision). The window is #13's token window.
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from jnano.nn import Embedding, MLP, Linear, inverse_frequencies_pow, normal, rms_norm, rotary_cos_sin, tanh_softcap
from jnano.nn.masks import document_causal, token_window
from jnano.nn.precision import scaled
from jnano.stages import s6_unet
from jnano.stages.base import LanguageModel, count_layers
from jnano.stages.s3_modern import QKNormAttention

RECORDS = ("14",)
SOFTCAP = 30.0


@dataclass(frozen=True)
class Config:
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 6
    n_embd: int = 768
    window: int = 1792  # tokens, when the call gives none
    rope_dtype: str = "bfloat16"  # `model.bfloat16()` casts the inv_freq buffer; fp32 parity: "float32"


class ValueEmbedAttention(QKNormAttention):
    """QK-norm attention whose values mix in the block's value embedding: (1 - lamb) v + lamb vi."""

    rope_dtype: str = eqx.field(static=True)
    lamb: Float[Array, ""]

    def rotary_tables(self, seq: int, head_dim: int):
        """`outer(arange(T), inv_freq)`, cos and sin, in the buffer's dtype: in bf16 (the record)
        the positions and the angles round to bf16 too (257 -> 256), so the tables are coarse."""
        inv_freq = inverse_frequencies_pow(head_dim)
        if self.rope_dtype == "float32":
            return rotary_cos_sin(seq, inv_freq)
        dtype = jnp.dtype(self.rope_dtype)
        angles = jnp.arange(seq).astype(dtype)[:, None] * jnp.asarray(inv_freq).astype(dtype)[None, :]
        return jnp.cos(angles), jnp.sin(angles)

    def __call__(self, x, vi, mask):
        q, k, v = self.heads(x)
        v = self.mix_values(v, vi.reshape(v.shape))
        return self.c_proj(self.attend(q, k, v, mask).reshape(x.shape))

    def mix_values(self, v, vi):
        return scaled(1 - self.lamb, v) + scaled(self.lamb, vi)


class Block(eqx.Module):
    attn: ValueEmbedAttention
    mlp: MLP
    lambdas: Float[Array, "2"]

    def __call__(self, x, vi, x0, mask):
        x = scaled(self.lambdas[0], x) + scaled(self.lambdas[1], x0)
        x = x + self.attn(rms_norm(x), vi, mask)
        return x + self.mlp(rms_norm(x))


class Transformer(eqx.Module):
    wte: Embedding
    vte: Embedding
    h: tuple[Block, ...]


def unet(blocks, skip_weights, x, x0, values, masks):
    """S6's U-net over any blocks `block(x, value, x0, mask)`, one value and mask per layer."""
    encoder, skips = len(blocks) // 2, []
    for i, block in enumerate(blocks):
        if i >= encoder:
            x = x + scaled(skip_weights[i - encoder], skips.pop())
        x = block(x, values[i], x0, masks[i])
        if i < encoder:
            skips.append(x)
    return x


class GPT(LanguageModel):
    transformer: Transformer
    lm_head: Linear
    skip_weights: Float[Array, " decoder"]
    config: Config = eqx.field(static=True)

    def __call__(self, idx: Int[Array, "batch seq"], window=None) -> Float[Array, "batch seq vocab"]:
        window = self.config.window if window is None else window
        mask = jax.vmap(document_causal)(idx) & token_window(idx.shape[-1], window)
        x = x0 = rms_norm(self.transformer.wte(idx))
        values = jnp.split(self.transformer.vte(idx), self.config.n_layer, axis=-1)
        x = unet(self.transformer.h, self.skip_weights, x, x0, values, [mask] * self.config.n_layer)
        return tanh_softcap(self.lm_head(rms_norm(x)), SOFTCAP).astype(jnp.float32)

    def buffers(self) -> dict[str, np.ndarray]:
        inv_freq = inverse_frequencies_pow(self.config.n_embd // self.config.n_head)
        return {f"transformer.h.{i}.attn.rotary.inv_freq": inv_freq for i in range(self.config.n_layer)}


def init(config: Config, key: jax.Array) -> GPT:
    """S6's init; `vte` is `nn.Embedding`'s N(0, 1)."""
    k_base, k_vte = jax.random.split(key)
    base = s6_unet.init(s6_unet.Config(config.vocab_size, config.n_layer, config.n_head, config.n_embd), k_base)
    blocks = tuple(
        Block(ValueEmbedAttention(b.attn.c_q, b.attn.c_k, b.attn.c_v, b.attn.c_proj, b.attn.n_head, True,
                                  config.rope_dtype, b.attn.lamb), b.mlp, b.lambdas)
        for b in base.transformer.h)
    vte = Embedding(normal(k_vte, (config.vocab_size, config.n_layer * config.n_embd), 1.0))
    return GPT(Transformer(base.transformer.wte, vte, blocks), base.lm_head, base.skip_weights, config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["transformer.wte.weight"]
    return Config(vocab, count_layers(shapes), base.n_head, dim, base.window, base.rope_dtype)


__all__ = ["Block", "Config", "GPT", "RECORDS", "config_from_shapes", "init", "unet"]
