"""S46 — record #86 "Algebraic rewrite of XSA, same math faster execution" (2026-05-27 README
date, 1.266 min, PR #317). No log: the root `train_gpt.py` at upstream commit 003ff3e2, which
imports #85's two kernel modules unchanged.

The diff to S45 (#85): XSA divides by the value's squared norm instead of normalising it first,
`y - tanh(alpha) (y . v / max(|v|^2, 1e-8)) v`. The same function in exact arithmetic (for
|v| >= 1e-4: #85's `F.normalize` clamps the norm there, this clamps its square at 1e-8); in bf16
it rounds at other points: the product `y v` and `v^2` per element, their sums once each, the
quotient, `alpha` times it, times v. 1285 + 15 steps.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.stages import s45_mudd_gates_dc as s45
from jnano.stages.base import recast
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s45_mudd_gates_dc import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("86",)
SQUARED_NORM_FLOOR = 1e-8


def without_value_component(y: Float[Array, "batch seq heads dim"], v: Float[Array, "batch seq heads dim"],
                            alpha: Float[Array, "batch seq heads"]) -> Float[Array, "batch seq heads dim"]:
    """`y - tanh(alpha) ((y . v) / max(v . v, 1e-8)) v` per head, in y's dtype, as torch's bf16 ops
    round it (each elementwise product stored, each sum accumulated in float32 and stored once)."""
    dot = jnp.sum((y * v).astype(jnp.float32), axis=-1, keepdims=True).astype(y.dtype)
    denom = jnp.sum(jnp.square(v).astype(jnp.float32), axis=-1, keepdims=True).astype(v.dtype)
    denom = jnp.maximum(denom, jnp.asarray(SQUARED_NORM_FLOOR, v.dtype))
    share = jnp.tanh(alpha).astype(y.dtype)[..., None]
    return y - share * (dot / denom) * v


class TokenGatedAttention(s45.TokenGatedAttention):
    own_value_removed: ClassVar = staticmethod(without_value_component)


class ComposedAttention(s45.ComposedAttention):
    own_value_removed: ClassVar = staticmethod(without_value_component)


REWRITTEN = {s45.TokenGatedAttention: TokenGatedAttention, s45.ComposedAttention: ComposedAttention}


class GPT(s45.GPT):
    pass


def _rewritten(block: Block) -> Block:
    cls = REWRITTEN.get(type(block.attn))
    if cls is None:  # no attention (layer 6), or paired heads (never XSA)
        return block
    fields = {f.name: getattr(block.attn, f.name) for f in dataclasses.fields(block.attn)}
    return Block(cls(**fields), block.mlp)


def init(config: Config, key: jax.Array) -> GPT:
    base = s45.init(config, key)
    return recast(base, GPT, blocks=tuple(_rewritten(b) for b in base.blocks))


__all__ = ["ComposedAttention", "Config", "GPT", "RECORDS", "TokenGatedAttention",
           "config_from_shapes", "init", "without_value_component"]
