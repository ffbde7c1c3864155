"""S22b — record #48 "Speed up Muon, additional pre-multiply lambda, reshape matrices, update lr,
update NorMuon axis" (2025-12-11), as its "NorMuon Fixes and PreMul-O" files submit it.

The diff to S22 (#47): the matrices are stored with their output features as rows. The
attention bank is (4 d, hdim), rows [Wq; Wk; Wv; Wo] (#36 viewed a (hdim, 4 d) tensor as
(4, hdim, d)); c_fc and c_proj are both (hidden, d), used as `x @ c_fc.T` and `h @ c_proj`.
The attention's second lambda moves from the value embedding onto W_O: `v + ve`, then
`y @ (lambda_1 W_O)^T`; it starts at 1.0 (lambda_0 at 0.5).

Outside the function (`jnano.records`, #48): every bank and MLP matrix is now tall, so its
Muon scale is sqrt(4) = 2; c_proj instead of c_fc takes lr x2; NorMuon normalises in one fused
pass, the gates per row; the MLP's Polar Express rounds `B X` before adding `a X`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn.mlp import relu_squared
from jnano.nn.precision import scaled
from jnano.stages import s22_lambda_on_weights
from jnano.stages.s11_merged_qkv import qkv_heads, rope_attention
from jnano.stages.s19b_flat_qkvo_bank import BANK
from jnano.stages.s22_lambda_on_weights import Config, config_from_shapes  # noqa: F401 - the stage's contract
from jnano.stages.s22_lambda_on_weights import WeightLambdaAttention

RECORDS = ("48",)
SA_LAMBDA_INIT = (0.5, 1.0)


class RowBankAttention(WeightLambdaAttention):
    qkvo_w: Float[Array, "four_dim hdim"]

    def bank(self):
        rows, cols = self.qkvo_w.shape
        return self.qkvo_w.reshape(BANK, rows // BANK, cols)

    def heads(self, x, bank, vi, lambdas, mask, **attention):
        q, k, v = qkv_heads(x, scaled(lambdas[0], bank[:3].astype(x.dtype)), self.n_head)
        if vi is not None:
            v = v + vi.reshape(v.shape).astype(v.dtype)
        return self.attended(rope_attention(q, k, v, mask, **attention), v)

    def attended(self, y, v):
        """The heads' output `y` (B, T, hdim) given the values `v` (B, T, H, D) they attended:
        `y` itself (#82's XSA takes out its part along each value)."""
        del v
        return y

    def output_weight(self, bank, lambdas, dtype):
        return scaled(lambdas[1], bank[3].astype(dtype))


class RowMLP(eqx.Module):
    """`relu(x @ c_fc.T)^2 @ c_proj`, both matrices stored (hidden, dim)."""

    c_fc: Float[Array, "hidden dim"]
    c_proj: Float[Array, "hidden dim"]

    def __call__(self, x: Float[Array, "... dim"]) -> Float[Array, "... dim"]:
        h = relu_squared(x @ self.c_fc.astype(x.dtype).T)
        return h @ self.c_proj.astype(h.dtype)


class GPT(s22_lambda_on_weights.GPT):
    """#47's model over row-stacked matrices, lambda_1 on W_O."""


def _rows(block):
    """#47's block, the same draws, stored as #48 stores them."""
    attn, mlp = block.attn, block.mlp
    if attn is not None:
        attn = RowBankAttention(attn.bank().reshape(-1, attn.bank().shape[-1]), attn.n_head, attn.attn_gate)
    if mlp is not None:
        mlp = RowMLP(mlp.c_fc.T, mlp.c_proj.T)
    return type(block)(attn, mlp)


def init(config: Config, key: jax.Array) -> GPT:
    base = s22_lambda_on_weights.init(config, key)
    n = config.n_layer
    scalars = base.scalars.at[3 * n: 5 * n].set(jnp.tile(jnp.asarray(SA_LAMBDA_INIT, jnp.float32), n))
    return GPT(base.embed, base.value_embeds, tuple(_rows(b) for b in base.blocks), base.lm_head, scalars, config,
               smear_gate=base.smear_gate)


__all__ = ["Config", "GPT", "RECORDS", "RowBankAttention", "RowMLP", "SA_LAMBDA_INIT", "config_from_shapes", "init"]
