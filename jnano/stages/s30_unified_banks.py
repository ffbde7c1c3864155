"""S30 — record #61 "Unified Optimizers and Transposed LM Head" (2026-01-18 UnifiedOptimizers,
1.748 min).

The diff to S29b (#60) is one of layout; the function is #60's:
- **Weight banks.** The blocks hold no weights: `attn_bank` (attention layers, 4d, d) stacks each
  attention layer's [Wq; Wk; Wv; Wo] (the attention-less block 6 has no row) and `mlp_bank`
  (L + 1, 2, 4d, d) each layer's (c_fc, c_proj), its last slot padding (zero, never read); a
  layer's attention and MLP read their slices. Both are bf16 with a mantissa master, as before.
- **Transposed head.** `lm_head.weight` is stored (d, V) and used as `x @ W` (`jnano.nn.LinearT`),
  bf16 from construction (so in every precision). The FP8 head is the same function.
- The token embedding is always `embed`: while it is tied to the head the optimizer keeps it the
  head's transpose (`jnano.hparams.UntieAt.synced_transpose`).

Outside the function (`jnano.records`, #61): one `NorMuonAndAdam` optimizer configured per
parameter label. NorMuon steps each bank as upstream's `.reshape` views it, a stack of
matrices: attention as (d, d) blocks, whose shape scale is now 1 (the (4d, d) matrices of
#48-#60 had 2), the MLP as (4d, d) matrices with c_proj at twice the lr; its `eff_lr` and
`eff_wd` are Python products. 1725 + 40 steps.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn import LinearT
from jnano.nn.fp8 import fp8_linear
from jnano.stages import s29b_fused_softcapped_loss
from jnano.stages.base import recast
from jnano.stages.s29b_fused_softcapped_loss import Config

RECORDS = ("61",)


def _none(node) -> bool:
    return node is None


class GPT(s29b_fused_softcapped_loss.GPT):
    attn_bank: Float[Array, "attention_layers four_dim hdim"]
    mlp_bank: Float[Array, "slots two hidden dim"]

    def with_banked_weights(self) -> GPT:
        """The model as #60 holds it: each layer's attention and MLP weights are its bank slices."""
        blocks, row = list(self.blocks), 0
        for i, block in enumerate(blocks):
            if block.attn is not None:
                block = eqx.tree_at(lambda b: b.attn.qkvo_w, block, self.attn_bank[row], is_leaf=_none)
                row += 1
            blocks[i] = eqx.tree_at(lambda b: (b.mlp.c_fc, b.mlp.c_proj), block,
                                    (self.mlp_bank[i, 0], self.mlp_bank[i, 1]), is_leaf=_none)
        return eqx.tree_at(lambda m: m.blocks, self, tuple(blocks))

    def hidden(self, idx, window):
        return super(GPT, self.with_banked_weights()).hidden(idx, window)

    def head(self, x, training: bool):
        if training and self.config.head_scales is not None:
            return fp8_linear(x, self.lm_head.weight.T, self.config.head_scales)
        return self.lm_head(x)

    def with_tokens_from(self, untied):
        """The tokens always read `embed` (the optimizer keeps it tied: see the module docstring)."""
        del untied
        return self


def _unbanked(block):
    attn = block.attn if block.attn is None else eqx.tree_at(lambda a: a.qkvo_w, block.attn, None)
    mlp = eqx.tree_at(lambda m: (m.c_fc, m.c_proj), block.mlp, (None, None))
    return type(block)(attn, mlp)


def init(config: Config, key: jax.Array) -> GPT:
    """#60's draws, moved into the banks; the head transposed, the embedding its copy."""
    base = s29b_fused_softcapped_loss.init(config, key)
    attn_bank = jnp.stack([b.attn.qkvo_w for b in base.blocks if b.attn is not None])
    mlps = [jnp.stack([b.mlp.c_fc, b.mlp.c_proj]) for b in base.blocks]
    mlp_bank = jnp.stack(mlps + [jnp.zeros_like(mlps[0])])
    head = base.lm_head.weight.T.astype(jnp.bfloat16)
    return recast(base, GPT, blocks=tuple(_unbanked(b) for b in base.blocks), lm_head=LinearT(head),
                  embed=type(base.embed)(head.T.astype(jnp.float32)), attn_bank=attn_bank, mlp_bank=mlp_bank)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["embed.weight"]
    return dataclasses.replace(base, vocab_size=vocab, n_layer=shapes["mlp_bank"][0] - 1, n_embd=dim,
                               n_head=shapes["attn_gate_bank"][1])


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
