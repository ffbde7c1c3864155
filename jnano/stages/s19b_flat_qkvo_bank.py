"""S19b — record #36 "MuonCustomSizing, perform mlp and attn reduce scatter in shared call"
(2025-09-23, 2.495 min).

The diff to S19 (#35): `attn.qkvo_w` is stored flat, (hdim, 4 dim) like the MLP matrices, and
viewed as the (4, hdim, dim) bank [Wq, Wk, Wv, Wo] in the forward (the same memory: the flat
matrix's first hdim/4 rows hold Wq, and so on). The function is #35's; the forward's window arguments are renamed (ws_short, ws_long), the same values.

Outside the function, Muon: parameters grouped by module (smear gate, attention gates,
attention, MLP) into stacks of 1, 10, 16 and 16 so that attention and MLP matrices share one
reduce-scatter; a rank whose share starts with an attention matrix orthogonalises each of its
matrices as the four (hdim, dim) blocks of the view. Across 8 ranks the ten attention matrices
fill ranks 0-4 exactly, so every attention matrix is orthogonalised blockwise and every MLP
matrix whole (`jnano.hparams.Muon.bank`).
"""

from __future__ import annotations

import jax
from jaxtyping import Array, Float

from jnano.stages import s19_drop_first_attention
from jnano.stages.s18_yarn import YarnAttention
from jnano.stages.s19_drop_first_attention import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("36",)
BANK = 4


class FlatBankAttention(YarnAttention):
    qkvo_w: Float[Array, "hdim four_dim"]

    def bank(self):
        hdim, four_dim = self.qkvo_w.shape
        return self.qkvo_w.reshape(BANK, hdim, four_dim // BANK)


class GPT(s19_drop_first_attention.GPT):
    """#35's model over flat attention banks."""


def flattened(attn: YarnAttention) -> FlatBankAttention:
    four, hdim, dim = attn.qkvo_w.shape
    return FlatBankAttention(attn.qkvo_w.reshape(hdim, four * dim), attn.n_head, attn.attn_gate)


def init(config: Config, key: jax.Array) -> GPT:
    base = s19_drop_first_attention.init(config, key)
    blocks = tuple(b if b.attn is None else type(b)(flattened(b.attn), b.mlp) for b in base.blocks)
    return GPT(base.embed, base.value_embeds, blocks, base.lm_head, base.scalars, config, smear_gate=base.smear_gate)


__all__ = ["BANK", "Config", "FlatBankAttention", "GPT", "RECORDS", "config_from_shapes", "flattened", "init"]
