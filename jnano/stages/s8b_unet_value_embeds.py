"""S8b — record #15 "U-net pattern value embeddings, assorted code optimizations"
(2024-12-08, 3.95 min).

The diff to S8 (#14): `vte` has n_layer/2 chunks shared U-net style (encoder block i and
decoder block n-1-i use chunk i); the value mix gets two weights, `attn.lambdas` = [0.5, 0.5],
`v = l0 v + l1 vi`; and the BlockMask is built by hand from 128-token blocks, listing the
ceil(w/128) most recent blocks while the mask_mod keeps the token window: the kernel sees
both, `q - k < w` and `q//128 - k//128 < ceil(w/128)` (`jnano.nn.masks.block_window_of_tokens`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jnano.nn import Embedding, rms_norm, tanh_softcap
from jnano.nn.masks import block_window_of_tokens, document_causal
from jnano.nn.precision import scaled
from jnano.stages import s8_value_embeds
from jnano.stages.s8_value_embeds import Block, Config, Transformer, ValueEmbedAttention, config_from_shapes, unet

RECORDS = ("15",)


class LambdasValueEmbedAttention(ValueEmbedAttention):
    """#15: `v = lambdas[0] v + lambdas[1] vi` (S8's `lamb` field stays unused: absent)."""

    lambdas: Float[Array, "2"]

    def mix_values(self, v, vi):
        return scaled(self.lambdas[0], v) + scaled(self.lambdas[1], vi)


def unet_values(chunks: list, n_layer: int) -> list:
    """Encoder block i takes chunk i, decoder block i takes chunk (encoder - 1 - i)."""
    encoder = n_layer // 2
    return [chunks[i] if i < encoder else chunks[n_layer - 1 - i] for i in range(n_layer)]


class GPT(s8_value_embeds.GPT):
    def __call__(self, idx: Int[Array, "batch seq"], window=None) -> Float[Array, "batch seq vocab"]:
        window = self.config.window if window is None else window
        mask = jax.vmap(document_causal)(idx) & block_window_of_tokens(idx.shape[-1], window)
        x = x0 = rms_norm(self.transformer.wte(idx))
        chunks = jnp.split(self.transformer.vte(idx), self.config.n_layer // 2, axis=-1)
        values = unet_values(chunks, self.config.n_layer)
        x = unet(self.transformer.h, self.skip_weights, x, x0, values, [mask] * self.config.n_layer)
        return tanh_softcap(self.lm_head(rms_norm(x)), s8_value_embeds.SOFTCAP).astype(jnp.float32)


def _without_lamb(a: ValueEmbedAttention) -> LambdasValueEmbedAttention:
    return LambdasValueEmbedAttention(a.c_q, a.c_k, a.c_v, a.c_proj, a.n_head, True, a.rope_dtype, None,
                                      jnp.asarray([0.5, 0.5], jnp.float32))


def init(config: Config, key: jax.Array) -> GPT:
    base = s8_value_embeds.init(config, key)
    t = base.transformer
    vte = Embedding(t.vte.weight[:, : (config.n_layer // 2) * config.n_embd])
    blocks = tuple(Block(_without_lamb(b.attn), b.mlp, b.lambdas) for b in t.h)
    return GPT(Transformer(t.wte, vte, blocks), base.lm_head, base.skip_weights, config)


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init", "unet_values"]
