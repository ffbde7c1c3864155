"""S3 — "ModernArch": record #5 (2024-10-14, 15.2 min), #6 (10-18, 13.1 min: Muon distributed
over ranks), #7 (10-18, 12.0 min: PyTorch 2.5). Reference: the records' logs.

The diff to S2: vocab padded to 50304 (still tied to the head), 6 heads of 128, separate
`c_q`/`c_k`/`c_v` (768x768), QK-norm (`F.rms_norm` per head, eps=None) — after RoPE in #5,
before it from #6 on (`Config.qk_norm_before_rope`) —, RoPE tables cached in bf16 (no buffer),
ReLU^2 MLP, zero-initialised `c_proj`s, `F.rms_norm` (eps=None) everywhere, no attention scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jnano.nn import (
    MLP,
    Embedding,
    Linear,
    dense_causal_attention,
    inverse_frequencies,
    masked_attention,
    relu_squared,
    rms_norm,
    rotary_cos_sin,
    torch_linear_default,
)
from jnano.nn.rotary import HalfSplitRope
from jnano.stages.base import LanguageModel, count_layers

RECORDS = ("5", "6", "7")


@dataclass(frozen=True)
class Config:
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 6
    n_embd: int = 768
    qk_norm_before_rope: bool = True  # False in #5 only


class QKNormAttention(eqx.Module):
    """Separate q/k/v projections, QK-norm and RoPE (bf16 tables), causal softmax at 1/sqrt(D)."""

    c_q: Linear
    c_k: Linear
    c_v: Linear
    c_proj: Linear
    n_head: int = eqx.field(static=True)
    qk_norm_before_rope: bool = eqx.field(static=True)

    def __call__(self, x: Float[Array, "batch seq dim"]) -> Float[Array, "batch seq dim"]:
        q, k, v = self.heads(x)
        return self.c_proj(self.attend(q, k, v).reshape(x.shape))

    def heads(self, x):
        B, T, C = x.shape
        shape = (B, T, self.n_head, C // self.n_head)
        return self.c_q(x).reshape(shape), self.c_k(x).reshape(shape), self.c_v(x).reshape(shape)

    def rotary_tables(self, seq: int, head_dim: int):
        """`Rotary` caches `freqs.cos().bfloat16()`: fp32 angles, bf16 tables."""
        return rotary_cos_sin(seq, inverse_frequencies(head_dim), table_dtype=jnp.bfloat16)

    def attend(self, q, k, v, mask=None, scale=None):
        """QK-norm and RoPE, then softmax attention (causal unless `mask` says otherwise) at
        `scale` (default 1/sqrt(head_dim))."""
        rope = HalfSplitRope(*self.rotary_tables(q.shape[1], q.shape[-1]))
        return qk_norm_rope_attention(q, k, v, rope, mask, scale, self.qk_norm_before_rope)


def qk_norm_rope(q, k, rope, norm_before_rope: bool = True):
    """rms-norm q and k per head and rotate them by the `rope` tables (in either order)."""
    if norm_before_rope:
        q, k = rms_norm(q), rms_norm(k)
        return rope.rotate(q), rope.rotate(k)
    q, k = rope.rotate(q), rope.rotate(k)
    return rms_norm(q), rms_norm(k)


def attend(q, k, v, mask=None, scale=None):
    """Softmax attention, causal or under `mask`, at `scale` (default 1/sqrt(head_dim))."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    if mask is None:
        return dense_causal_attention(q, k, v, scale=scale)
    return masked_attention(q, k, v, mask, scale=scale)


def qk_norm_rope_attention(q, k, v, rope, mask=None, scale=None, norm_before_rope: bool = True):
    """rms-norm q and k per head and rotate them (in either order), then softmax attention."""
    return attend(*qk_norm_rope(q, k, rope, norm_before_rope), v, mask, scale)


class Block(eqx.Module):
    attn: QKNormAttention
    mlp: MLP

    def __call__(self, x: Float[Array, "batch seq dim"]) -> Float[Array, "batch seq dim"]:
        x = x + self.attn(rms_norm(x))
        return x + self.mlp(rms_norm(x))


class Transformer(eqx.Module):
    wte: Embedding
    h: tuple[Block, ...]


class GPT(LanguageModel):
    transformer: Transformer
    config: Config = eqx.field(static=True)

    tied_aliases: ClassVar[dict[str, str]] = {"lm_head.weight": "transformer.wte.weight"}

    def __call__(self, idx: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        t = self.transformer
        x = t.wte(idx)
        for block in t.h:
            x = block(x)
        return (rms_norm(x) @ t.wte.weight.T).astype(jnp.float32)


def init_block(keys, config: Config) -> Block:
    """PyTorch's default Linear init, U(+-1/sqrt(fan_in)); both output projections zeroed."""
    C = config.n_embd

    def linear(out_f: int, in_f: int) -> Linear:
        return Linear(torch_linear_default(next(keys), out_f, in_f))

    zeros = lambda out_f, in_f: Linear(jnp.zeros((out_f, in_f), jnp.float32))  # noqa: E731
    attn = QKNormAttention(linear(C, C), linear(C, C), linear(C, C), zeros(C, C), config.n_head,
                           config.qk_norm_before_rope)
    return Block(attn, MLP(linear(4 * C, C), zeros(C, 4 * C), relu_squared))


def init(config: Config, key: jax.Array) -> GPT:
    """The tied matrix is the head's default Linear init, U(+-1/sqrt(768))."""
    keys = iter(jax.random.split(key, 1 + 4 * config.n_layer))
    blocks = tuple(init_block(keys, config) for _ in range(config.n_layer))
    wte = Embedding(torch_linear_default(next(keys), config.vocab_size, config.n_embd))
    return GPT(Transformer(wte, blocks), config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["transformer.wte.weight"]
    return Config(vocab, count_layers(shapes), base.n_head, dim, base.qk_norm_before_rope)
