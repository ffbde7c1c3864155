"""S13 — record #24 "Replace gradient all_reduce with reduce_scatter" (2025-05-30, 2.966 min)
and #25 "Upgrade PyTorch to 2.9.0.dev20250713" (2025-07-13, 2.896 min).

The diff to S12b (#21c): every scalar lives in one parameter `scalars` (so DistAdam can shard
it): [0:L] skip weights (the first L/2 used), [L:3L] block lambdas as pairs, [3L:5L] attention
value-mix lambdas as pairs, then ones padding to a multiple of the world size (8: 64 entries
for 12 layers); blocks and attentions hold no scalars of their own. The token tables have
the head's padded 50304 rows. The function is #21c's.

S14, record #26 "Align training batch starts with EoS" (2025-07-13, 2.863 min), runs this model
unchanged: only its loader (`jnano.hparams.BosAlignedData`) and cooldown (0.45) are new.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn import MLP, Embedding, Linear, rms_norm
from jnano.nn.precision import scaled
from jnano.stages import s12b_scaled_logits
from jnano.stages.base import LanguageModel, count_layers
from jnano.stages.s8_value_embeds import unet
from jnano.stages.s11_merged_qkv import QKVAttention

RECORDS = ("24", "25", "26")


@dataclass(frozen=True)
class Config(s12b_scaled_logits.Config):
    vocab_size: int = 50304  # the tables are padded like the head
    world_size: int = 8  # `scalars` is padded to a multiple of it


class Block(eqx.Module):
    attn: QKVAttention | None
    mlp: MLP | None  # None: #30 on drop block 0's

    def __call__(self, x, vi, x0, mask, lambdas, sa_lambdas):
        return self.sublayers(scaled(lambdas[0], x) + scaled(lambdas[1], x0), vi, mask, sa_lambdas)

    def sublayers(self, x, vi, mask, sa_lambdas):
        """Attention and MLP on the already mixed stream (#49 mixes it outside the block)."""
        if self.attn is not None:
            x = x + self.attn.mixed(rms_norm(x), vi, sa_lambdas, mask)
        return x if self.mlp is None else x + self.mlp(rms_norm(x))


class GPT(LanguageModel):
    """#21c's model (its methods, reused as they are) over the packed-scalar layout."""

    embed: Embedding
    value_embeds: tuple[Embedding, ...]
    blocks: tuple[Block, ...]
    lm_head: Linear
    scalars: Float[Array, " packed"]
    config: Config = eqx.field(static=True)

    __call__ = s12b_scaled_logits.GPT.__call__
    loss = s12b_scaled_logits.GPT.loss
    eval_loss = s12b_scaled_logits.GPT.eval_loss
    train_loss_reduction: ClassVar[str] = "sum"
    head = s12b_scaled_logits.GPT.head
    layer_values = s12b_scaled_logits.GPT.layer_values
    layer_masks = s12b_scaled_logits.GPT.layer_masks
    layer_windows = s12b_scaled_logits.GPT.layer_windows

    def hidden(self, idx, window):
        n = self.config.n_layer
        lambdas = self.scalars[n:3 * n].reshape(n, 2)
        sa_lambdas = self.scalars[3 * n:5 * n].reshape(n, 2)
        blocks = [lambda x, vi, x0, mask, b=b, i=i: b(x, vi, x0, mask, lambdas[i], sa_lambdas[i])
                  for i, b in enumerate(self.blocks)]
        x = x0 = rms_norm(self.token_embeddings(idx))
        return self.residual_stream(blocks, x, x0, self.layer_values(idx), self.layer_masks(idx, window))

    def residual_stream(self, blocks, x, x0, values, masks):
        """The blocks and the skips between them: S6's U-net (#35 and #45 rewire it)."""
        return unet(blocks, self.skip_weights(), x, x0, values, masks)

    def token_embeddings(self, idx):
        """The residual stream before its first norm (#34 smears it)."""
        return self.embed_tokens(idx)

    def embed_tokens(self, idx):
        """The token embedding's rows (#51 takes them from the head)."""
        return self.embed(idx)

    def skip_weights(self):
        """What each U-net skip is multiplied by: the first L/2 packed scalars."""
        return self.scalars[: self.config.n_layer // 2]


def packed_scalars(n_layer: int, world_size: int) -> jax.Array:
    pad = (-n_layer * 5) % world_size
    pairs = lambda a, b: jnp.tile(jnp.asarray([a, b], jnp.float32), n_layer)  # noqa: E731
    return jnp.concatenate([jnp.ones(n_layer), pairs(1.0, 0.0), pairs(0.5, 0.5), jnp.ones(pad)]).astype(jnp.float32)


def init(config: Config, key: jax.Array) -> GPT:
    base = s12b_scaled_logits.init(
        s12b_scaled_logits.Config(config.vocab_size, config.n_layer, config.n_head, config.n_embd,
                                  config.window, config.head_fp8), key)
    blocks = tuple(Block(None if b.attn is None else QKVAttention(b.attn.qkv_w, b.attn.c_proj, b.attn.n_head), b.mlp)
                   for b in base.blocks)
    return GPT(base.embed, base.value_embeds, blocks, base.lm_head, packed_scalars(config.n_layer, config.world_size),
               config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["embed.weight"]
    return dataclasses.replace(base, vocab_size=vocab, n_layer=count_layers(shapes, "blocks."), n_embd=dim)


__all__ = ["Block", "Config", "GPT", "RECORDS", "config_from_shapes", "init", "packed_scalars"]
