"""S31 — record #62 "Bigram Hash Embedding" (2026-01-19 BigramHashEmbedding, 1.655 min).

The diff to S30 (#61):
- **Bigram hash embedding.** A zero-init table `bigram_embed` (5 x 50304 rows, d) is read at
  each position's hash of (previous token, token) (`jnano.nn.bigram`, computed per packed row
  as upstream's loader does) and added at every layer's mix with a lambda of its own:
  `x = resid_i x + x0_i x0 + bigram_i E[h]` (the table's rows are not normed). The lambdas
  (0.1 at init) join the packed scalars after the attention pairs:
  [resid L | pairs 2L | bigram L | smear | backout | skip | pad], the pad still counted for
  3L + 3 entries, as upstream left it.
- **The key offset fixed:** the long layers take the keys' position-free half, [d/2, d), from the
  previous position (under #58's interleaved RoPE, #58-#61 shifted quarters 1 and 3).

Outside the function (`jnano.records`, #62): Adam trains the table as it trains the value
tables (betas 0.75/0.95, lr x75, decay x5). 1560 + 40 steps, cooldown 0.55.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn import Embedding, Linear
from jnano.nn.bigram import bigram_hash
from jnano.stages import s30_unified_banks
from jnano.stages.base import recast
from jnano.stages.s18b_skip_gates import SKIP_INIT
from jnano.stages.s20_backout import BACKOUT_INIT
from jnano.stages.s21_single_skip import STREAM_LAMBDA_INIT
from jnano.stages.s22b_premul_out import SA_LAMBDA_INIT
from jnano.stages.s23_partial_key_offset import KeyOffsetAttention
from jnano.stages.s26_value_skip_gates import GatedValues, ValueGatedKeyOffsetAttention

RECORDS = ("62",)
BIGRAM_LAMBDA_INIT = 0.1


@dataclass(frozen=True)
class Config(s30_unified_banks.Config):
    bigram_vocab_size: int = 50304 * 5  # upstream's `args.bigram_vocab_size`; the hash is taken mod this - 1


def offset_position_free_half(k: Float[Array, "batch seq head dim"]) -> Float[Array, "batch seq head dim"]:
    """`k[:, 1:, :, d/2:] = k[:, :-1, :, d/2:]`: the interleaved RoPE's position-free half one
    position late (position 0 keeps its own)."""
    half = k.shape[-1] // 2
    previous = jnp.concatenate([k[:, :1], k[:, :-1]], axis=1)
    return jnp.where(jnp.arange(k.shape[-1]) >= half, previous, k)


class HalfKeyOffsetAttention(KeyOffsetAttention):
    def offset_keys(self, k):
        return offset_position_free_half(k)


class ValueGatedHalfKeyOffsetAttention(GatedValues, HalfKeyOffsetAttention):
    value_embed_gate: Linear  # (heads, 12)


class GPT(s30_unified_banks.GPT):
    config: Config = eqx.field(static=True)
    bigram_embed: Embedding
    # position 1's previous token in the hash: the reserved id, as the CPU hash in the loader
    # gives it (`jnano.nn.bigram`; #68 hashes on the GPU, with the true first token)
    bigram_first_previous: ClassVar[str] = "reserved"

    def stream_lambdas(self):
        n = self.config.n_layer
        return self.scalars[:n], self.x0_lambdas, self.scalars[n:3 * n].reshape(n, 2)

    def tail_scalar(self, k: int):
        """smear 0, backout 1, skip 2: after the bigram lambdas now."""
        return self.scalars[4 * self.config.n_layer + k]

    def injected(self, idx):
        n = self.config.n_layer
        return self.scalars[3 * n:4 * n], self.bigram_embeddings(idx)

    def bigram_embeddings(self, idx):
        """The bigram table's rows at each position's hash."""
        modulus, first = self.config.bigram_vocab_size - 1, self.bigram_first_previous
        return self.bigram_embed(jax.vmap(lambda row: bigram_hash(row, modulus, first))(idx))


def bigram_scalars(n_layer: int, world_size: int) -> jax.Array:
    pad = (-n_layer * 3 - 3) % world_size  # (upstream's count, from before the bigram lambdas)
    return jnp.concatenate([
        jnp.full(n_layer, STREAM_LAMBDA_INIT), jnp.tile(jnp.asarray(SA_LAMBDA_INIT), n_layer),
        jnp.full(n_layer, BIGRAM_LAMBDA_INIT), jnp.asarray([0.0, BACKOUT_INIT, SKIP_INIT]),
        jnp.ones(pad)]).astype(jnp.float32)


def _half_offset(block):
    attn = block.attn
    if not isinstance(attn, KeyOffsetAttention):
        return block
    cls = ValueGatedHalfKeyOffsetAttention if isinstance(attn, ValueGatedKeyOffsetAttention) else HalfKeyOffsetAttention
    return type(block)(cls(**{f.name: getattr(attn, f.name) for f in dataclasses.fields(attn)}), block.mlp)


def init(config: Config, key: jax.Array) -> GPT:
    base = s30_unified_banks.init(config, key)
    table = Embedding(jnp.zeros((config.bigram_vocab_size, config.n_embd), jnp.float32))
    return recast(base, GPT, config=config, blocks=tuple(_half_offset(b) for b in base.blocks), bigram_embed=table,
                  scalars=bigram_scalars(config.n_layer, config.world_size))


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    return dataclasses.replace(s30_unified_banks.config_from_shapes(shapes, base),
                               bigram_vocab_size=shapes["bigram_embed.weight"][0])


__all__ = ["BIGRAM_LAMBDA_INIT", "Config", "GPT", "HalfKeyOffsetAttention", "RECORDS",
           "ValueGatedHalfKeyOffsetAttention", "bigram_scalars", "config_from_shapes", "init",
           "offset_position_free_half"]
