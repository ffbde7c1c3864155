"""S8c — record #16 "Split value embeddings, block sliding window, separate block mask"
(2024-12-10, 3.80 min).

The diff to S8b (#15): the value embedding becomes six separate tables
(`value_embeds.embed.{0..5}`, paired e0..e5 then e5..e0 over the 12 blocks: S8b's pairing), the
modules are renamed (`embed`, `blocks`, `value_embeds`), and the window lives only in the
BlockMask's kv-block lists: `n` 128-token blocks (`window=`, scheduled 1 -> 14), so a query sees
`q//128 - k//128 < n`, a token window between (n-1)*128+1 and n*128 wide.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from jnano.nn import Embedding, Linear, inverse_frequencies_pow, normal, rms_norm, tanh_softcap
from jnano.nn.masks import block_window, document_causal
from jnano.stages import s8b_unet_value_embeds
from jnano.stages.base import LanguageModel, count_layers
from jnano.stages.s8_value_embeds import Block, unet
from jnano.stages.s8b_unet_value_embeds import unet_values

RECORDS = ("16",)


@dataclass(frozen=True)
class Config:
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 6
    n_embd: int = 768
    window: int = 14  # 128-token blocks, when the call gives none
    softcap: float = 30.0
    rope_dtype: str = "bfloat16"  # the inv_freq buffer's dtype (S8); fp32 parity: "float32"


class ValueEmbedding(eqx.Module):
    embed: tuple[Embedding, ...]

    def __call__(self, idx, n_layer: int) -> list:
        return unet_values([e(idx) for e in self.embed], n_layer)


class GPT(LanguageModel):
    embed: Embedding
    blocks: tuple[Block, ...]
    value_embeds: ValueEmbedding
    lm_head: Linear
    skip_weights: Float[Array, " decoder"]
    config: Config = eqx.field(static=True)

    def __call__(self, idx: Int[Array, "batch seq"], window=None) -> Float[Array, "batch seq vocab"]:
        window = self.config.window if window is None else window
        return self.logits(self.hidden(idx, window))

    def hidden(self, idx, window):
        """The residual stream after the last block."""
        x = x0 = rms_norm(self.embed(idx))
        return unet(self.blocks, self.skip_weights, x, x0, self.layer_values(idx), self.layer_masks(idx, window))

    def layer_values(self, idx) -> list:
        """The value embedding each block mixes in (None: none)."""
        return self.value_embeds(idx, self.config.n_layer)

    def layer_masks(self, idx, window) -> list:
        mask = jax.vmap(document_causal)(idx) & block_window(idx.shape[-1], window)
        return [mask] * self.config.n_layer

    def logits(self, x):
        return tanh_softcap(self.lm_head(rms_norm(x)), self.config.softcap).astype(jnp.float32)

    def buffers(self) -> dict[str, np.ndarray]:
        inv_freq = inverse_frequencies_pow(self.config.n_embd // self.config.n_head)
        return {f"blocks.{i}.attn.rotary.inv_freq": inv_freq for i in range(self.config.n_layer)}


def init(config: Config, key: jax.Array) -> GPT:
    """S8b's init; each value table N(0, 1)."""
    k_base, k_ve = jax.random.split(key)
    base = s8b_unet_value_embeds.init(
        s8b_unet_value_embeds.Config(config.vocab_size, config.n_layer, config.n_head, config.n_embd,
                                     rope_dtype=config.rope_dtype), k_base)
    tables = tuple(Embedding(normal(k, (config.vocab_size, config.n_embd), 1.0))
                   for k in jax.random.split(k_ve, config.n_layer // 2))
    return GPT(base.transformer.wte, base.transformer.h, ValueEmbedding(tables), base.lm_head,
               base.skip_weights, config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["embed.weight"]
    return dataclasses.replace(base, vocab_size=vocab, n_layer=count_layers(shapes, "blocks."), n_embd=dim)


__all__ = ["Config", "GPT", "RECORDS", "ValueEmbedding", "config_from_shapes", "init"]
