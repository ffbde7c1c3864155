"""S0 — the llm.c GPT-2 baseline (record #1, 2024-05-28, 45 minutes on 8xH100).

Reference: llm.c `train_gpt2.py`. Learned positions `wpe`, pre-LayerNorm blocks with biases,
fused `c_attn`, dense causal attention at 1/sqrt(64), tanh-GELU MLP, final `ln_f`, and an
`lm_head` tied to `wte`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from jnano.nn import (
    MLP,
    Embedding,
    LayerNorm,
    Linear,
    dense_causal_attention,
    gelu_tanh,
    normal,
)
from jnano.stages.base import LanguageModel, count_layers

RECORDS = ("1",)


@dataclass(frozen=True)
class Config:
    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768


class CausalSelfAttention(eqx.Module):
    c_attn: Linear
    c_proj: Linear
    n_head: int = eqx.field(static=True)

    def __call__(self, x: Float[Array, "batch seq dim"]) -> Float[Array, "batch seq dim"]:
        B, T, C = x.shape
        head_dim = C // self.n_head
        q, k, v = jnp.split(self.c_attn(x), 3, axis=-1)
        q, k, v = (t.reshape(B, T, self.n_head, head_dim) for t in (q, k, v))
        q, k = self.position(q, k)
        y = dense_causal_attention(q, k, v, scale=1.0 / math.sqrt(head_dim))
        return self.c_proj(y.reshape(B, T, C))

    def position(self, q, k):
        """Where later stages put positional information into q and k; S0 adds `wpe` instead."""
        return q, k


class Block(eqx.Module):
    ln_1: LayerNorm
    attn: CausalSelfAttention
    ln_2: LayerNorm
    mlp: MLP

    def __call__(self, x: Float[Array, "batch seq dim"]) -> Float[Array, "batch seq dim"]:
        x += self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(eqx.Module):
    wte: Embedding
    wpe: Embedding
    h: tuple[Block, ...]
    ln_f: LayerNorm


class GPT(LanguageModel):
    transformer: Transformer
    config: Config = eqx.field(static=True)

    tied_aliases: ClassVar[dict[str, str]] = {"lm_head.weight": "transformer.wte.weight"}

    def __call__(self, idx: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        seq = idx.shape[1]
        if seq > self.config.block_size:
            raise ValueError(f"sequence length {seq} exceeds block_size {self.config.block_size}")
        t = self.transformer
        x = t.wte(idx) + t.wpe.weight[:seq]
        for block in t.h:
            x = block(x)
        return t.ln_f(x) @ t.wte.weight.T

    def buffers(self) -> dict[str, np.ndarray]:
        n = self.config.block_size
        mask = np.tril(np.ones((n, n), np.float32)).reshape(1, 1, n, n)
        return {f"transformer.h.{i}.attn.bias": mask for i in range(self.config.n_layer)}


def init(config: Config, key: jax.Array) -> GPT:
    """llm.c `_init_weights`: N(0, 0.02); residual projections N(0, 0.02/sqrt(2 n_layer)); zero biases."""
    C, L = config.n_embd, config.n_layer
    std, proj_std = 0.02, 0.02 / math.sqrt(2 * L)
    keys = iter(jax.random.split(key, 2 + 4 * L))

    def linear(out_f: int, in_f: int, s: float) -> Linear:
        return Linear(normal(next(keys), (out_f, in_f), s), jnp.zeros((out_f,), jnp.float32))

    blocks = tuple(
        Block(
            ln_1=LayerNorm.init(C),
            attn=CausalSelfAttention(linear(3 * C, C, std), linear(C, C, proj_std), config.n_head),
            ln_2=LayerNorm.init(C),
            mlp=MLP(linear(4 * C, C, std), linear(C, 4 * C, proj_std), gelu_tanh),
        )
        for _ in range(L)
    )
    transformer = Transformer(
        wte=Embedding(normal(next(keys), (config.vocab_size, C), std)),
        wpe=Embedding(normal(next(keys), (config.block_size, C), std)),
        h=blocks,
        ln_f=LayerNorm.init(C),
    )
    return GPT(transformer, config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    """Read vocab, width, depth and block size off a state_dict; heads come from `base`."""
    vocab, dim = shapes["transformer.wte.weight"]
    return Config(vocab, shapes["transformer.wpe.weight"][0], count_layers(shapes), base.n_head, dim)
