"""S27 — record #56 "Optimize and compile Adam, increase Adam buffer precision, move gates from Muon
to Adam parameter banks" (2025-12-31 GatesToCompiledAdam, 1.894 min).

The diff to S26 (#55): the attention gates and the value-embedding gates leave their layers for
two banks on the model, `attn_gate_bank` (attention layers, heads, 12) and `ve_gate_bank`
(value layers, heads, 12), zero-init; layer i's gates are the banks' rows in layer order (the
attention-less block 6 and the layers without a value table skip a row). The function is #55's.

Outside it (`jnano.records`, #56): the banks are trained by DistAdam (lr 0.008, betas 0.65/0.95,
cautious decay 0.005) instead of NorMuon; every DistAdam keeps its moments in float32 (bf16
since #32), its step compiled with the step size and decay as float32 tensors. 1785 + 40 steps.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn import Linear
from jnano.stages import s26_value_skip_gates
from jnano.stages.base import recast
from jnano.stages.s26_value_skip_gates import VALUE_LAYERS, Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("56",)


def _is_none(node) -> bool:
    return node is None


class GPT(s26_value_skip_gates.GPT):
    attn_gate_bank: Float[Array, "attention_layers heads gate"]
    ve_gate_bank: Float[Array, "value_layers heads gate"]

    def value_layers(self) -> tuple[int, ...]:
        """The layers that add a value embedding, in the order of the value gates' bank rows."""
        return VALUE_LAYERS

    def attention_layers(self) -> list[int]:
        return [i for i, b in enumerate(self.blocks) if b.attn is not None]

    def with_banked_gates(self) -> GPT:
        """The model as #55 holds it: each attention's gates are the banks' rows for its layer."""
        blocks = list(self.blocks)
        for row, i in enumerate(self.attention_layers()):
            blocks[i] = eqx.tree_at(lambda b: b.attn.attn_gate, blocks[i], Linear(self.attn_gate_bank[row]),
                                    is_leaf=_is_none)
        for row, i in enumerate(self.value_layers()):
            blocks[i] = eqx.tree_at(lambda b: b.attn.value_embed_gate, blocks[i], Linear(self.ve_gate_bank[row]),
                                    is_leaf=_is_none)
        return eqx.tree_at(lambda m: m.blocks, self, tuple(blocks))

    def hidden(self, idx, window):
        return super(GPT, self.with_banked_gates()).hidden(idx, window)


def _without_gates(block):
    if block.attn is None:
        return block
    attn = eqx.tree_at(lambda a: a.attn_gate, block.attn, None)
    if hasattr(attn, "value_embed_gate"):
        attn = eqx.tree_at(lambda a: a.value_embed_gate, attn, None)
    return eqx.tree_at(lambda b: b.attn, block, attn)


def init(config: Config, key: jax.Array) -> GPT:
    base = s26_value_skip_gates.init(config, key)
    n_attention = sum(b.attn is not None for b in base.blocks)
    bank = lambda rows: jnp.zeros((rows, config.n_head, base.skip_gate.weight.shape[-1]), jnp.float32)  # noqa: E731
    return recast(base, GPT, blocks=tuple(_without_gates(b) for b in base.blocks),
                  attn_gate_bank=bank(n_attention), ve_gate_bank=bank(len(VALUE_LAYERS)))


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init"]
