"""S10 — record #19 "FP8 head, offset logits, lr decay to 0.1 instead of 0.0" (2025-01-13,
3.142 min).

The diff to S9 (#17 shapes: 50257-row tables, head padded to 50304): in training the head is an
FP8 matmul (`Config.head_fp8`, multiply convention x_s=2, w_s=32, grad_s=2**29; `None` gives
the plain matmul, as fp32 parity runs it), evaluation keeps the bf16 linear; the tanh softcap
becomes `30 sigmoid(z / 7.5)` on fp32 logits (= 15 tanh(z/15) + 15: the same cross-entropy, an
offset); linear weights start at U(+-sqrt(3) * 0.5 / sqrt(fan_in)).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jnano.nn import Linear, cross_entropy, rms_norm
from jnano.hparams import FP8_SCALES_19, FP8Scales, FP8ScalesByWidth
from jnano.nn.fp8 import fp8_linear
from jnano.stages import s9_sparse_value_embeds
from jnano.stages.base import count_layers

RECORDS = ("19",)


@dataclass(frozen=True)
class Config:
    vocab_size: int = 50257
    n_layer: int = 12
    n_head: int = 6
    n_embd: int = 768
    window: int = 14
    # fixed scales, a function of the width (#21c on: `x_s = sqrt(model_dim) / 448`), or None
    head_fp8: FP8Scales | FP8ScalesByWidth | None = FP8_SCALES_19

    @property
    def head_scales(self) -> FP8Scales | None:
        """The FP8 head's scales at this config's width."""
        return self.head_fp8(self.n_embd) if isinstance(self.head_fp8, FP8ScalesByWidth) else self.head_fp8


def sigmoid_logits(z, scale: float = 30.0, temperature: float = 7.5):
    """`30 * sigmoid(z.float() / 7.5)`: logits in (0, 30), computed in fp32."""
    return scale * jax.nn.sigmoid(z.astype(jnp.float32) / temperature)


class GPT(s9_sparse_value_embeds.GPT):
    config: Config = eqx.field(static=True)

    def __call__(self, idx: Int[Array, "batch seq"], window=None, training: bool = False):
        window = self.config.window if window is None else window
        x = self.hidden(idx, window)
        return sigmoid_logits(self.head(rms_norm(x), training))

    def head(self, x, training: bool):
        if training and self.config.head_scales is not None:
            return fp8_linear(x, self.lm_head.weight, self.config.head_scales)
        return self.lm_head(x)

    def loss(self, idx, targets, **schedule) -> Float[Array, ""]:
        """Training: through the FP8 head."""
        return cross_entropy(self(idx, training=True, **schedule), targets)

    def eval_loss(self, idx, targets, **schedule) -> Float[Array, ""]:
        """Validation: through the bf16 head (`self.lm_head(x)` when not training)."""
        return cross_entropy(self(idx, **schedule), targets)


def casted_linear_uniform(key: jax.Array, out_f: int, in_f: int) -> Linear:
    """#19's `CastedLinear.reset_parameters`: U(-b, b), b = sqrt(3) * 0.5 / sqrt(in_features)."""
    bound = math.sqrt(3) * 0.5 / math.sqrt(in_f)
    return Linear(jax.random.uniform(key, (out_f, in_f), jnp.float32, -bound, bound))


def reinit_linears(blocks, key: jax.Array):
    """Every non-zero-initialised block linear (c_q, c_k, c_v, mlp.c_fc) redrawn with #19's init."""
    keys = iter(jax.random.split(key, 4 * len(blocks)))

    def fresh(lin: Linear) -> Linear:
        return casted_linear_uniform(next(keys), *lin.weight.shape)

    out = []
    for b in blocks:
        attn = b.attn
        if attn is not None:
            attn = dataclasses.replace(attn, c_q=fresh(attn.c_q), c_k=fresh(attn.c_k), c_v=fresh(attn.c_v))
        out.append(dataclasses.replace(b, attn=attn, mlp=dataclasses.replace(b.mlp, c_fc=fresh(b.mlp.c_fc))))
    return tuple(out)


def init(config: Config, key: jax.Array) -> GPT:
    k_base, k_lin = jax.random.split(key)
    base = s9_sparse_value_embeds.init(
        s9_sparse_value_embeds.Config(config.vocab_size, config.n_layer, config.n_head, config.n_embd,
                                      rope_dtype="float32"), k_base)
    return GPT(base.embed, reinit_linears(base.blocks, k_lin), base.value_embeds, base.lm_head,
               base.skip_weights, config)


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    vocab, dim = shapes["embed.weight"]
    return dataclasses.replace(base, vocab_size=vocab, n_layer=count_layers(shapes, "blocks."), n_embd=dim)


__all__ = ["Config", "GPT", "RECORDS", "casted_linear_uniform", "config_from_shapes", "init",
           "sigmoid_logits"]
