"""S42 — record #82 "Learnable XSA" (2026-04-29 XSAGatedLayers, 1.353 min, PR #264). Branched
from master after #80, with #79's loss kernel (S39), without #81's MUDD.

The diff to S40 (#80): learnable exclusive self-attention on the unpaired layers 1, 3, 4, 7, 8
and 10. After the attention, before its gate, each head's output loses a learnable share of its
component along that head's value, `y - tanh(alpha) (y . v̂) v̂`, with v̂ = v / max(|v|, 1e-4)
(`F.normalize`) the value the query position itself contributed (after the value embedding).
`xsa_alphas` (L, heads) start at zero (a no-op) and train in Adam with the lambdas (betas
0.9/0.95, no decay). 1410 + 40 steps.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn.losses import fused_softcapped_multi_token_cross_entropy
from jnano.stages import s40_head_pair_banks
from jnano.stages.base import recast
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s22b_premul_out import RowBankAttention
from jnano.stages.s31_bigram_embed import HalfKeyOffsetAttention
from jnano.stages.s34_shifted_value_embeds import OwnValueGatedAttention, OwnValueGatedHalfKeyOffsetAttention
from jnano.stages.s40_head_pair_banks import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("82",)
XSA_LAYERS = (1, 3, 4, 7, 8, 10)
NORMALIZE_EPS = 1e-4


def without_own_value(y: Float[Array, "batch seq heads dim"], v: Float[Array, "batch seq heads dim"],
                      alpha: Float[Array, "*batch heads"]) -> Float[Array, "batch seq heads dim"]:
    """`y - tanh(alpha) (y . v̂) v̂` per head, in y's dtype: the norm and the dot product summed
    in float32 and rounded once (torch's bf16 reductions), `tanh(alpha)` rounded to y's dtype.
    `alpha` is one per head (#82) or one per token and head, (batch, seq, heads) (#85)."""
    norm = jnp.sqrt(jnp.sum(jnp.square(v.astype(jnp.float32)), axis=-1, keepdims=True)).astype(v.dtype)
    unit = v / jnp.maximum(norm, NORMALIZE_EPS).astype(v.dtype)
    along = jnp.sum((y * unit).astype(jnp.float32), axis=-1, keepdims=True).astype(y.dtype)
    share = jnp.tanh(alpha).astype(y.dtype)[..., None]
    return y - share * along * unit


class ExclusiveSelfAttention:
    """Mixin: the attention's output less `tanh(xsa_alpha)` of each head's own-value part."""

    def attended(self, y, v):
        B, T, H, D = v.shape
        return without_own_value(y.reshape(B, T, H, D), v, self.xsa_alpha).reshape(B, T, -1)


class XSAAttention(ExclusiveSelfAttention, RowBankAttention):
    xsa_alpha: Float[Array, " heads"] | None


class XSAOwnValueGatedAttention(ExclusiveSelfAttention, OwnValueGatedAttention):
    xsa_alpha: Float[Array, " heads"] | None


class XSAHalfKeyOffsetAttention(ExclusiveSelfAttention, HalfKeyOffsetAttention):
    xsa_alpha: Float[Array, " heads"] | None


class XSAOwnValueGatedHalfKeyOffsetAttention(ExclusiveSelfAttention, OwnValueGatedHalfKeyOffsetAttention):
    xsa_alpha: Float[Array, " heads"] | None


# each XSA layer's class by its plain kind (most specific first)
XSA_KINDS = ((OwnValueGatedHalfKeyOffsetAttention, XSAOwnValueGatedHalfKeyOffsetAttention),
             (HalfKeyOffsetAttention, XSAHalfKeyOffsetAttention),
             (OwnValueGatedAttention, XSAOwnValueGatedAttention),
             (RowBankAttention, XSAAttention))


def _is_none(node) -> bool:
    return node is None


class XSAlphas:
    """Mixin for the GPT: `xsa_alphas` rows handed to the XSA layers' attention with the gates."""

    def with_banked_gates(self):
        model = super().with_banked_gates()
        blocks = list(model.blocks)
        for i in XSA_LAYERS:
            blocks[i] = eqx.tree_at(lambda b: b.attn.xsa_alpha, blocks[i], self.xsa_alphas[i], is_leaf=_is_none)
        return eqx.tree_at(lambda m: m.blocks, model, tuple(blocks))


class GPT(XSAlphas, s40_head_pair_banks.GPT):
    xsa_alphas: Float[Array, "layers heads"]
    loss_kernel: ClassVar = staticmethod(fused_softcapped_multi_token_cross_entropy)  # #79's


def with_xsa(i: int, block: Block) -> Block:
    """Block `i` with its attention's XSA kind (the alpha is a bank row, set in the forward)."""
    attn = block.attn
    xsa = next(x for plain, x in XSA_KINDS if isinstance(attn, plain))
    fields = {f.name: getattr(attn, f.name) for f in dataclasses.fields(attn)}
    return Block(xsa(**fields, xsa_alpha=None), block.mlp)


def xsa_blocks(blocks: tuple[Block, ...]) -> tuple[Block, ...]:
    return tuple(with_xsa(i, b) if i in XSA_LAYERS else b for i, b in enumerate(blocks))


def init(config: Config, key: jax.Array) -> GPT:
    base = s40_head_pair_banks.init(config, key)
    return recast(base, GPT, blocks=xsa_blocks(base.blocks),
                  xsa_alphas=jnp.zeros((config.n_layer, config.n_head), jnp.float32))


__all__ = ["Config", "ExclusiveSelfAttention", "GPT", "RECORDS", "XSA_LAYERS", "XSAlphas", "config_from_shapes",
           "init", "with_xsa", "without_own_value", "xsa_blocks"]
