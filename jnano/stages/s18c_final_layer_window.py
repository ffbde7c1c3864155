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
from jnano.stages.s18b_skip_gates import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("33",)


class GPT(s18b_skip_gates.GPT):
    def __call__(self, idx, window=None, final_window=None, training: bool = False):
        window = self.config.window if window is None else window
        final_window = window if final_window is None else final_window
        x = rms_norm(self.hidden(idx, (window, final_window)))
        return sigmoid_logits(self.head(x, training))

    def layer_masks(self, idx, windows) -> list:
        """`windows` = (window, final_window): S18b's layers, the last one's long window the second."""
        window, final_window = windows
        layers = super().layer_masks(idx, window)
        last = jax.vmap(document_causal)(idx) & left_window(idx.shape[-1], final_window * BLOCK)
        return [*layers[:-1], layers[-1]._replace(mask=last)]


def init(config: Config, key: jax.Array) -> GPT:
    base = s18b_skip_gates.init(config, key)
    return GPT(base.embed, base.value_embeds, base.blocks, base.lm_head, base.scalars, config)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
