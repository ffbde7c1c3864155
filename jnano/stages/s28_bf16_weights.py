"""S28 — record #57 "Bfloat16 attn/mlp weights, mixed precision Muon, interweave Adam/Muon, finer-grain
Adam beta" (2026-01-04 MixedPrecisionInterweavedOptimizer, 1.878 min).

The diff to S27 (#56): the attention banks and the MLP matrices are stored in bfloat16 (drawn in
it), in every precision: a float32 forward reads them widened, and their gradients arrive
rounded to bf16. The function is otherwise #56's.

Outside it (`jnano.records`, #57): NorMuon keeps a uint16 "mantissa" per weight, so that the
bf16 weight and its mantissa are the bits of a float32 master; the update is formed in float32
on that master and the weight is its upper half (`jnano.optim.master`). Its momentum is float32.
One DistAdam trains every other parameter, betas per table; the scalars join it. 1800 + 40 steps.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from jnano.stages import s27_gate_banks
from jnano.stages.base import recast
from jnano.stages.s27_gate_banks import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("57",)
WEIGHT_DTYPE = jnp.bfloat16


class GPT(s27_gate_banks.GPT):
    """#56's model over bf16 matrices."""


def _bf16_matrices(block):
    if block.attn is not None:
        block = eqx.tree_at(lambda b: b.attn.qkvo_w, block, block.attn.qkvo_w.astype(WEIGHT_DTYPE))
    return eqx.tree_at(lambda b: (b.mlp.c_fc, b.mlp.c_proj), block,
                       (block.mlp.c_fc.astype(WEIGHT_DTYPE), block.mlp.c_proj.astype(WEIGHT_DTYPE)))


def init(config: Config, key: jax.Array) -> GPT:
    base = s27_gate_banks.init(config, key)
    return recast(base, GPT, blocks=tuple(_bf16_matrices(b) for b in base.blocks))


__all__ = ["Config", "GPT", "RECORDS", "WEIGHT_DTYPE", "config_from_shapes", "init"]
