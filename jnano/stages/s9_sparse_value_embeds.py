"""S9 — record #17 "Sparsify value embeddings, improve rotary embeddings, drop an attn layer"
(2024-12-17, 3.57 min) and #18 "Lower logit softcap from 30 to 15" (2025-01-04, 3.4 min).

The diff to S8c (#16): three value tables used as [e0, e1, e2, -, ..., -, e0, e1, e2] (the
middle blocks mix no embedding: `v = l0 v`); block 7 has no attention at all (its `attn.*`
keys are absent); RoPE is half-truncated, frequencies `(1/1024) ** linspace(0, 1, D/4)` on a
quarter of the pairs and 0 on the rest (fp32 tables, no buffer); the token tables have
`vocab_size` rows (50257 in #17) while the head is padded to the next multiple of 128.
#18 changes only numbers: softcap 15 (`Config.softcap`) and 50304-row tables.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jnano.nn import MLP, Embedding, Linear, half_truncated_frequencies, normal, rms_norm, rotary_cos_sin
from jnano.nn.precision import scaled
from jnano.stages import s8c_block_window
from jnano.stages.base import count_layers
from jnano.stages.s8b_unet_value_embeds import LambdasValueEmbedAttention

RECORDS = ("17", "18")
NO_ATTENTION_LAYER = 7  # "skip attention of blocks.7 (the 8th layer)"


def padded_vocab(vocab_size: int) -> int:
    """The head's rows: `next_multiple_of_n(vocab_size, n=128)`."""
    return -(-vocab_size // 128) * 128


@dataclass(frozen=True)
class Config:
    vocab_size: int = 50257  # rows of the token tables; the head has padded_vocab(vocab_size)
    n_layer: int = 12
    n_head: int = 6
    n_embd: int = 768
    window: int = 14  # 128-token blocks, when the call gives none
    softcap: float = 30.0
    rope_dtype: str = "bfloat16"  # #17's tables are bf16-rounded by `model.bfloat16()`; #18 on fp32


class HalfRopeAttention(LambdasValueEmbedAttention):
    def rotary_tables(self, seq: int, head_dim: int):
        """fp32 tables (rounded to `rope_dtype` and back): the rotation runs in fp32 (`x.float()`)."""
        cos, sin = rotary_cos_sin(seq, half_truncated_frequencies(head_dim), table_dtype=jnp.dtype(self.rope_dtype))
        return cos.astype(jnp.float32), sin.astype(jnp.float32)

    def mix_values(self, v, vi):
        return scaled(self.lambdas[0], v) if vi is None else scaled(self.lambdas[0], v) + scaled(self.lambdas[1], vi)

    def __call__(self, x, vi, mask):
        q, k, v = self.heads(x)
        v = self.mix_values(v, None if vi is None else vi.reshape(v.shape))
        return self.c_proj(self.attend(q, k, v, mask).reshape(x.shape))


class Block(eqx.Module):
    """S8's block with an optional attention (`attn(x, vi, mask)`; None in block 7)."""

    attn: HalfRopeAttention | None  # or any attention with that call (S11's merged QKV)
    mlp: MLP
    lambdas: Float[Array, "2"]

    def __call__(self, x, vi, x0, mask):
        x = scaled(self.lambdas[0], x) + scaled(self.lambdas[1], x0)
        if self.attn is not None:
            x = x + self.attn(rms_norm(x), vi, mask)
        return x + self.mlp(rms_norm(x))


class ValueEmbedding(s8c_block_window.ValueEmbedding):
    def __call__(self, idx, n_layer: int) -> list:
        ve = [e(idx) for e in self.embed]
        return ve + [None] * (n_layer - 2 * len(ve)) + ve


class GPT(s8c_block_window.GPT):
    blocks: tuple[Block, ...]
    value_embeds: ValueEmbedding
    config: Config = eqx.field(static=True)

    def buffers(self) -> dict[str, np.ndarray]:
        return {}


def sparse_blocks(blocks, rope_dtype: str) -> tuple[Block, ...]:
    """S8c's blocks with the half-truncated RoPE, and no attention in block 7."""
    out = []
    for i, b in enumerate(blocks):
        a = b.attn
        attn = None if i == NO_ATTENTION_LAYER else HalfRopeAttention(
            a.c_q, a.c_k, a.c_v, a.c_proj, a.n_head, True, rope_dtype, None, a.lambdas)
        out.append(Block(attn, b.mlp, b.lambdas))
    return tuple(out)


def init(config: Config, key: jax.Array) -> GPT:
    k_base, k_ve = jax.random.split(key)
    base = s8c_block_window.init(
        s8c_block_window.Config(config.vocab_size, config.n_layer, config.n_head, config.n_embd), k_base)
    tables = tuple(Embedding(normal(k, (config.vocab_size, config.n_embd), 1.0)) for k in jax.random.split(k_ve, 3))
    head = Linear(jnp.zeros((padded_vocab(config.vocab_size), config.n_embd), jnp.float32))
    return GPT(base.embed, sparse_blocks(base.blocks, config.rope_dtype), ValueEmbedding(tables), head,
               base.skip_weights, config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["embed.weight"]
    return dataclasses.replace(base, vocab_size=vocab, n_layer=count_layers(shapes, "blocks."), n_embd=dim)


__all__ = ["Block", "Config", "GPT", "RECORDS", "ValueEmbedding", "config_from_shapes", "init", "padded_vocab"]
