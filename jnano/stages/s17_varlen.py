"""S17 — record #29 "Flash Attention 3, 2048 max_doc_len, update ws schedule" (2025-09-03,
2.731 min).

The diff to S16 (#28): attention runs in FlashAttention-3's varlen kernel over the loader's
document segments (`cu_seqlens`) with a token-granular window, `window_size=(w, 0)`: a query sees
the keys of its own document at most w tokens back (`jnano.nn.masks.left_window`). The window
is the scheduled size n in 128-token blocks, one size per third of training (3, 7, 11: `THIRDS_29`),
long layers w = 128 n, short layers w = 128 (n // 2) (no minimum of one block any more). The
gate, renamed `attn_gate`, reads the first 12 channels whatever the width. The loader packs
whole documents cut at 2048 tokens (`jnano.hparams.PackedData`); the segments it marks are the
BOS documents (see `jnano.nn.masks`), so the model takes the tokens alone, as before.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnano.nn import Linear
from jnano.nn.masks import BLOCK, document_causal, left_window
from jnano.stages import s16_attention_gate
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s16_attention_gate import Config, config_from_shapes  # noqa: F401 - the stage's contract
from jnano.stages.s15_qkvo_bank import QKVOAttention

RECORDS = ("29",)
GATE_CHANNELS = 12


class VarlenGatedAttention(QKVOAttention):
    attn_gate: Linear  # (heads, 12)

    def gate(self, x):
        return jax.nn.sigmoid(self.attn_gate(x[..., :GATE_CHANNELS]))

    mixed = s16_attention_gate.GatedAttention.mixed


class GPT(s16_attention_gate.GPT):
    def window_tokens(self, window) -> dict[str, jax.Array]:
        """FA3's left window in tokens of the long ("L") and short ("S") layers at `window` blocks."""
        return {"L": window * BLOCK, "S": (window // 2) * BLOCK}

    def layer_masks(self, idx, window) -> list:
        doc = jax.vmap(document_causal)(idx)
        masks = {kind: doc & left_window(idx.shape[-1], w) for kind, w in self.window_tokens(window).items()}
        return [masks[c] for c in self.layer_windows()]


def regated(block: Block) -> Block:
    attn = block.attn
    if attn is not None:
        attn = VarlenGatedAttention(attn.qkvo_w, attn.n_head, Linear(jnp.zeros((attn.n_head, GATE_CHANNELS))))
    return Block(attn, block.mlp)


def init(config: Config, key: jax.Array) -> GPT:
    base = s16_attention_gate.init(config, key)
    return GPT(base.embed, base.value_embeds, tuple(regated(b) for b in base.blocks), base.lm_head, base.scalars,
               config)


__all__ = ["Config", "GATE_CHANNELS", "GPT", "RECORDS", "VarlenGatedAttention", "config_from_shapes", "init",
           "regated"]
