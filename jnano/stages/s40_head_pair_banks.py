"""S40 — record #80 "In Muon orthogonize Q and K matrices in pairs of heads" (2026-04-08
PairedHeadMuon, 1.406 min, PR #253). Branched from #78
(S38, without #79's loss kernel).

The diff to S38 (#77-#78), in the parameters and what NorMuon makes of them; the forward is
the same function:
- `attn_bank` is split in two: `qk_bank` (pairs, 2 head_dim, d) holds each attention layer's
  Wq and then Wk as row blocks of two heads (layer l's block j is pair 6 l + j: j < 3 its Wq,
  else its Wk), and `vo_bank` (2 layers, d, d) its Wv and Wo; each padded with zero matrices
  to a multiple of the world size (64 and 24 on 8 GPUs), which stay zero.
- NorMuon orthogonalises every (256, 768) head-pair block on its own, and, the blocks being
  wide, keeps their second moment per column (NorMuon's rule: per row when rows >= cols).
- Drawn U(+-sqrt(3) 0.5 / sqrt(d)) as #67-#78's banks. 1440 + 40 steps.
"""

from __future__ import annotations

import dataclasses
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.stages import s38_single_saved_activation
from jnano.stages.base import recast
from jnano.stages.s38_single_saved_activation import Config

RECORDS = ("80",)


def _padded(n: int, world_size: int) -> int:
    return -(-n // world_size) * world_size


class GPT(s38_single_saved_activation.GPT):
    qk_bank: Float[Array, "pairs pair_rows dim"]
    vo_bank: Float[Array, "matrices dim dim"]

    def attention_weights(self) -> jax.Array:
        """#61's `attn_bank` rebuilt from the two banks: (attention layers, 4 d, d)."""
        layers, d = len(self.attention_layers()), self.vo_bank.shape[-1]
        pairs = layers * 2 * (self.config.n_head // 2)
        qk = self.qk_bank[:pairs].reshape(layers, -1, d)
        vo = self.vo_bank[:2 * layers].reshape(layers, 2 * d, d)
        return jnp.concatenate([qk, vo], axis=1)

    def with_banked_weights(self):
        banked = eqx.tree_at(lambda m: m.attn_bank, self, self.attention_weights(), is_leaf=lambda x: x is None)
        return super(GPT, banked).with_banked_weights()


def init(config: Config, key: jax.Array) -> GPT:
    base = s38_single_saved_activation.init(config, key)
    layers, d, hd = base.attn_bank.shape[0], config.n_embd, config.n_embd // config.n_head
    pairs = layers * 2 * (config.n_head // 2)
    qk, vo = base.attn_bank[:, :2 * d], base.attn_bank[:, 2 * d:]
    qk_bank = jnp.zeros((_padded(pairs, config.world_size), 2 * hd, d), base.attn_bank.dtype)
    vo_bank = jnp.zeros((_padded(2 * layers, config.world_size), d, d), base.attn_bank.dtype)
    return recast(base, GPT, attn_bank=None, qk_bank=qk_bank.at[:pairs].set(qk.reshape(pairs, 2 * hd, d)),
                  vo_bank=vo_bank.at[:2 * layers].set(vo.reshape(2 * layers, d, d)))


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["embed.weight"]
    return dataclasses.replace(base, vocab_size=vocab, n_layer=shapes["mlp_bank"][0] - 1, n_embd=dim,
                               n_head=shapes["attn_gate_bank"][1])


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
