"""S43 — record #83 "Sign Trick on Bigram Embed" (2026-05-20 BigramsSignTrick, 1.328 min, PR
#299). Branched from master after #80, with #79's loss kernel (S39), without #81's MUDD or #82's
XSA.

The diff to S40 (#80), all in the bigram embedding:
- **Narrow and three times taller**: `bigram_embed` is (50304 x 15, 192) (was (50304 x 5, 768)), and
  reaches only the stream's first `bigram_dim` = 192 channels.
- **The sign trick**: each position's row is multiplied by a row of `bigram_sign_table`, ±1 signs
  (8192, 192) drawn once (`randn(...).sign()`, bf16) and held as a persistent buffer (broadcast from
  rank 0: loaded, never redrawn, and not trained: `hparams.Fixed`). Its row is `(x[t-1] XOR x[t])
  mod 8192` (0 at position 0), so bigrams that share a hash row mostly disagree in sign.
- The first injection adds to the first 192 channels *in place*, and upstream's `x` is also its
  `x0` (`x = x0 = norm(...)`): every layer's `x0_lambdas[i] x0` and the skip gate read x0 with the
  bigram in it. The later injections add to the first 192 channels after each attention's sum
  with `x0_lambdas[i] x0` (S38's forward, its `stream_start` replaced).
1440 + 40 steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn import Embedding, rms_norm
from jnano.nn.bigram import bigram_sign_index
from jnano.nn.losses import fused_softcapped_multi_token_cross_entropy
from jnano.nn.precision import scaled
from jnano.stages import s40_head_pair_banks
from jnano.stages.base import recast
from jnano.stages.s38_single_saved_activation import StreamStart

RECORDS = ("83",)


@dataclass(frozen=True)
class Config(s40_head_pair_banks.Config):
    bigram_vocab_size: int = 15 * 50304  # three times #62's rows
    bigram_dim: int = 192  # upstream's `args.bigram_dim`: the stream channels the bigram reaches
    bigram_sign_rows: int = 8192  # `args.bigram_sign_table_rows`


class BigramSigns:
    """Mixin: the bigram rows times their sign-table rows (#83), the table never differentiated."""

    def bigram_embeddings(self, idx):
        rows = self.bigram_sign_table.shape[0]
        signs = jax.lax.stop_gradient(self.bigram_sign_table)[jax.vmap(lambda r: bigram_sign_index(r, rows))(idx)]
        table = super().bigram_embeddings(idx)
        return table * signs.astype(table.dtype)


class GPT(BigramSigns, s40_head_pair_banks.GPT):
    config: Config = eqx.field(static=True)
    bigram_sign_table: Float[Array, "sign_rows bigram_dim"]
    loss_kernel: ClassVar = staticmethod(fused_softcapped_multi_token_cross_entropy)  # #79's

    def stream_start(self, idx):
        n = self.config.n_layer
        x0_lambdas, bigram_lambdas = self.x0_lambdas, self.bigram_lambdas
        bigram = self.bigram_embeddings(idx)
        narrow = bigram.shape[-1]
        # upstream's in-place add into `x`, which is `x0` too
        x0 = rms_norm(self.token_embeddings(idx))
        x0 = x0.at[..., :narrow].add(scaled(bigram_lambdas[0], bigram).astype(x0.dtype))
        injected = [scaled(x0_lambdas[i], x0) for i in range(n)]

        def inject(i, x):
            x = x + injected[i]
            if i == 0:
                return x
            return x.at[..., :narrow].add(scaled(bigram_lambdas[i], bigram).astype(x.dtype))

        return StreamStart(x0, x0, bigram, inject)

def init(config: Config, key: jax.Array) -> GPT:
    base = s40_head_pair_banks.init(config, key)
    signs = jnp.sign(jax.random.normal(jax.random.fold_in(key, 83), (config.bigram_sign_rows, config.bigram_dim)))
    return recast(base, GPT, config=config,
                  bigram_embed=Embedding(jnp.zeros((config.bigram_vocab_size, config.bigram_dim), jnp.float32)),
                  bigram_sign_table=signs.astype(jnp.bfloat16))


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    rows, dim = shapes["bigram_embed.weight"]
    return dataclasses.replace(s40_head_pair_banks.config_from_shapes(shapes, base), bigram_vocab_size=rows,
                               bigram_dim=dim, bigram_sign_rows=shapes["bigram_sign_table"][0])


__all__ = ["BigramSigns", "Config", "GPT", "RECORDS", "config_from_shapes", "init"]
