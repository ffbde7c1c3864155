"""S5 — record #9 "Value and embedding skip connections, momentum warmup, logit softcap"
(2024-11-06, 8.2 min) and #10 "Bfloat16 activations" (2024-11-08, 7.8 min).

The diff to S4: every block first mixes in the normed embedding, `x = lambdas[0] x + lambdas[1] x0`
(`lambdas` = [1, 0] at init, block 0 too); attention mixes each layer's values with block 0's
raw values, `v = (1 - lamb) v + lamb v1` (`lamb` = 0.5); logits are soft-capped, `30 tanh(z/30)`.
(Optimizer: the scalars train with Adam, Muon's momentum warms up 0.85 -> 0.95 over 500 steps.)
#10 computes the same function with bf16 activations and embeddings (`CastedLinear`), a
precision change, not a new stage.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jnano.nn import MLP, Linear, rms_norm, tanh_softcap
from jnano.nn.precision import scaled
from jnano.stages import s3_modern, s4_untied
from jnano.stages.base import LanguageModel
from jnano.stages.s3_modern import QKNormAttention
from jnano.stages.s4_untied import Config, config_from_shapes

RECORDS = ("9", "10")
SOFTCAP = 30.0


class ValueResidualAttention(QKNormAttention):
    lamb: Float[Array, ""]

    def __call__(self, x, v1, mask=None):
        q, k, v = self.heads(x)
        if v1 is None:
            v1 = v  # block 0's raw values feed every later block
        v = scaled(1 - self.lamb, v) + scaled(self.lamb, v1)
        return self.c_proj(self.attend(q, k, v, mask).reshape(x.shape)), v1


class Block(eqx.Module):
    attn: ValueResidualAttention
    mlp: MLP
    lambdas: Float[Array, "2"]

    def __call__(self, x, v1, x0, mask=None):
        x = scaled(self.lambdas[0], x) + scaled(self.lambdas[1], x0)
        y, v1 = self.attn(rms_norm(x), v1, mask)
        x = x + y
        return x + self.mlp(rms_norm(x)), v1


class Transformer(eqx.Module):
    wte: s4_untied.Embedding
    h: tuple[Block, ...]


class GPT(LanguageModel):
    transformer: Transformer
    lm_head: Linear
    config: Config = eqx.field(static=True)

    def __call__(self, idx: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        x = x0 = rms_norm(self.transformer.wte(idx))
        v1 = None
        for layer in self.transformer.h:
            x, v1 = layer(x, v1, x0)
        return self.logits(x)

    def logits(self, x):
        return tanh_softcap(self.lm_head(rms_norm(x)), SOFTCAP).astype(jnp.float32)


def with_shortcuts(block: s3_modern.Block) -> Block:
    """S4's block plus `lambdas` = [1, 0] and `attn.lamb` = 0.5."""
    a = block.attn
    attn = ValueResidualAttention(a.c_q, a.c_k, a.c_v, a.c_proj, a.n_head, a.qk_norm_before_rope,
                                  jnp.asarray(0.5, jnp.float32))
    return Block(attn, block.mlp, jnp.asarray([1.0, 0.0], jnp.float32))


def init(config: Config, key: jax.Array) -> GPT:
    base = s4_untied.init(config, key)
    blocks = tuple(with_shortcuts(b) for b in base.transformer.h)
    return GPT(Transformer(base.transformer.wte, blocks), base.lm_head, config)


__all__ = ["Block", "Config", "GPT", "RECORDS", "config_from_shapes", "init"]
