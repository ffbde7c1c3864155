"""S4 — record #8 "Untied embedding and head" (2024-11-03, 10.8 min).

The diff to S3 (#6/#7 form, QK-norm before RoPE): `lm_head` is its own zero-initialised matrix,
`wte` keeps `nn.Embedding`'s N(0, 1) init and is rms-normed before the first block. (The
optimizer changes too: Adam on each of wte and lm_head, Muon scaled by sqrt(max(1, rows/cols)).)
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jnano.nn import Embedding, Linear, normal, rms_norm
from jnano.stages import s3_modern
from jnano.stages.base import LanguageModel, count_layers
from jnano.stages.s3_modern import Block, Transformer

RECORDS = ("8",)


@dataclass(frozen=True)
class Config:
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 6
    n_embd: int = 768


class GPT(LanguageModel):
    transformer: Transformer
    lm_head: Linear
    config: Config = eqx.field(static=True)

    def __call__(self, idx: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        return self.head(self.trunk(idx))

    def trunk(self, idx):
        x = rms_norm(self.transformer.wte(idx))
        for layer in self.transformer.h:
            x = layer(x)
        return x

    def head(self, x):
        return self.lm_head(rms_norm(x)).astype(jnp.float32)


def init(config: Config, key: jax.Array) -> GPT:
    keys = iter(jax.random.split(key, 1 + 4 * config.n_layer))
    blocks = tuple(s3_modern.init_block(keys, s3_modern.Config(config.vocab_size, config.n_layer, config.n_head,
                                                               config.n_embd)) for _ in range(config.n_layer))
    wte = Embedding(normal(next(keys), (config.vocab_size, config.n_embd), 1.0))
    head = Linear(jnp.zeros((config.vocab_size, config.n_embd), jnp.float32))
    return GPT(Transformer(wte, blocks), head, config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["transformer.wte.weight"]
    return Config(vocab, count_layers(shapes), base.n_head, dim)


__all__ = ["Block", "Config", "GPT", "RECORDS", "config_from_shapes", "init"]
