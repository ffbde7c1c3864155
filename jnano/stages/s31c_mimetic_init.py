"""S31c — record #64 "Tuned nonzero Attn V and O init" (2026-01-30 MimeticValueOutput, 1.630 min).

The diff to S31b (#63) is the attention bank's initialisation ("mimetic", Trockman & Kolter
2023): each head's W_V block starts at sqrt(b) I and its W_O block at -sqrt(b) I (b = 0.05),
plus N(0, 0.01) noise on all of W_V and W_O, so that V O^T is near -b I and attention contributes
from the first step (#63: V uniform, O zero). Q and K keep their uniform draw. The function is
#63's. 1515 + 40 steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnano.stages import s31b_untied_value_embeds
from jnano.stages.base import recast
from jnano.stages.s31b_untied_value_embeds import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("64",)
MIMETIC_BETA, MIMETIC_NOISE = 0.05, 0.01


def mimetic_value_output(bank: jax.Array, key: jax.Array, beta: float = MIMETIC_BETA,
                         noise: float = MIMETIC_NOISE) -> jax.Array:
    """`mimetic_vo_init`: rows [2d, 3d) (W_V) and [3d, 4d) (W_O) of every layer's (4d, d) bank
    become +-sqrt(beta) times the identity (upstream writes it head block by head block, which
    is the identity), plus N(0, noise^2)."""
    layers, rows, dim = bank.shape
    d = rows // 4
    eye = jnp.eye(d, dim, dtype=jnp.float32)
    draws = noise * jax.random.normal(key, (layers, 2, d, dim), jnp.float32)
    v = beta ** 0.5 * eye + draws[:, 0]
    o = -(beta ** 0.5) * eye + draws[:, 1]
    return bank.at[:, 2 * d:3 * d].set(v.astype(bank.dtype)).at[:, 3 * d:].set(o.astype(bank.dtype))


class GPT(s31b_untied_value_embeds.GPT):
    """#63's model."""


def init(config: Config, key: jax.Array) -> GPT:
    base = s31b_untied_value_embeds.init(config, key)
    bank = mimetic_value_output(base.attn_bank, jax.random.fold_in(key, 64))
    return recast(base, GPT, attn_bank=bank)


__all__ = ["Config", "GPT", "MIMETIC_BETA", "MIMETIC_NOISE", "RECORDS", "config_from_shapes", "init",
           "mimetic_value_output"]
