"""S18c — record #33 "Asynchronously fetch and index data batches, extend final layer attention
window for validation" (2025-09-15, 2.565 min).

The diff to S18b (#32): the model takes the last layer's window apart (`final_window`,
upstream's `ws_final_layer`). It equals the window in training; the final validation runs the
last layer at 20 blocks while the others stay at 13 and YaRN follows the 13 alone. The shard
loading becomes asynchronous (the same batches). The residual stream's explicit bf16 cast goes
(the embeddings are bf16 already: the same function).
"""

from __future__ import annotations


import jax

from jnano.nn import rms_norm
from jnano.nn.masks import BLOCK, document_causal, left_window
from jnano.stages import s18b_skip_gates
from jnano.stages.s10_fp8_head import sigmoid_logits
from jnano.stages.s18_yarn import LayerAttention, yarn_tables
from jnano.stages.s18b_skip_gates import Config, config_from_shapes  # noqa: F401 - the stage's contract
from jnano.stages.s11_merged_qkv import window_pattern

RECORDS = ("33",)


class GPT(s18b_skip_gates.GPT):
    def __call__(self, idx, window=None, final_window=None, training: bool = False):
        window = self.config.window if window is None else window
        final_window = window if final_window is None else final_window
        x = rms_norm(self.hidden(idx, (window, final_window)))
        return sigmoid_logits(self.head(x, training))

    def layer_masks(self, idx, windows) -> list:
        """`windows` = (window, final_window): the last layer's long window is the second."""
        window, final_window = windows
        cos, sin, scale = yarn_tables(window, idx.shape[-1], table_dtype=self.rope_dtype())
        doc = jax.vmap(document_causal)(idx)
        seq = idx.shape[-1]
        long, short = doc & left_window(seq, window * BLOCK), doc & left_window(seq, (window // 2) * BLOCK)
        pattern = window_pattern(self.config.n_layer)
        masks = [long if c == "L" else short for c in pattern[:-1]]
        masks.append(doc & left_window(seq, final_window * BLOCK))
        return [LayerAttention(m, cos, sin, scale) for m in masks]


def init(config: Config, key: jax.Array) -> GPT:
    base = s18b_skip_gates.init(config, key)
    return GPT(base.embed, base.value_embeds, base.blocks, base.lm_head, base.scalars, config)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
