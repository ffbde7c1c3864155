"""S1 — record #2 "Tuned learning rate & rotary embeddings" (2024-06-06, 31.4 minutes).

The diff to S0: no `wpe` (half-split RoPE with upstream's -theta sign on q and k instead), no
biases, no LayerNorm (parameter-free `rmsnorm(eps=1e-6)` before attention, MLP and head), the
attention branch scaled by 1/sqrt(2 n_layer), exact GELU, PyTorch's default Linear init.
Reference: `train_gpt2.py` at b6b0a0d3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, Float, Int

from jnano.nn import (
    MLP,
    Embedding,
    Linear,
    apply_rotary_half_split,
    gelu_exact,
    inverse_frequencies,
    rms_norm_eps,
    rotary_cos_sin,
    torch_linear_default,
)
from jnano.stages.base import LanguageModel, count_layers
from jnano.stages.s0_llmc import CausalSelfAttention

RECORDS = ("2",)


@dataclass(frozen=True)
class Config:
    vocab_size: int = 50257
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768


class RotarySelfAttention(CausalSelfAttention):
    """S0's attention with half-split RoPE (-theta convention) on q and k."""

    def position(self, q, k):
        cos, sin = rotary_cos_sin(q.shape[1], inverse_frequencies(q.shape[-1]))
        return apply_rotary_half_split(q, cos, sin), apply_rotary_half_split(k, cos, sin)


class Block(eqx.Module):
    attn: RotarySelfAttention
    mlp: MLP
    attn_scale: float = eqx.field(static=True)

    def __call__(self, x: Float[Array, "batch seq dim"]) -> Float[Array, "batch seq dim"]:
        x = x + self.attn_scale * self.attn(rms_norm_eps(x))
        return x + self.mlp(rms_norm_eps(x))


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
        return rms_norm_eps(x) @ t.wte.weight.T

    def buffers(self) -> dict[str, np.ndarray]:
        inv_freq = inverse_frequencies(self.config.n_embd // self.config.n_head)
        return {f"transformer.h.{i}.attn.rotary.inv_freq": inv_freq for i in range(self.config.n_layer)}


def init(config: Config, key: jax.Array) -> GPT:
    """PyTorch defaults: every Linear U(+-1/sqrt(fan_in)); `wte` is the tied `lm_head` Linear."""
    C, L = config.n_embd, config.n_layer
    keys = iter(jax.random.split(key, 1 + 4 * L))

    def linear(out_f: int, in_f: int) -> Linear:
        return Linear(torch_linear_default(next(keys), out_f, in_f))

    blocks = tuple(
        Block(
            attn=RotarySelfAttention(linear(3 * C, C), linear(C, C), config.n_head),
            mlp=MLP(linear(4 * C, C), linear(C, 4 * C), gelu_exact),
            attn_scale=1.0 / math.sqrt(2 * L),
        )
        for _ in range(L)
    )
    wte = Embedding(torch_linear_default(next(keys), config.vocab_size, C))
    return GPT(Transformer(wte, blocks), config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["transformer.wte.weight"]
    return Config(vocab, count_layers(shapes), base.n_head, dim)
