"""S15 — record #27 "Transpose one of the MLP matrices + add Triton kernel for symmetric matmul"
(2025-07-18, 2.817 min).

The diff to S13 (#24-#26; S14, #26, changed only the loader): attention's output projection
joins q, k and v in one bank `attn.qkvo_w` of shape (4, hdim, dim) = [Wq, Wk, Wv, Wo] (Wo zero
at init, applied as `y @ Wo.T`), and the MLP's matrices are bare parameters of one shape
(dim, 4 dim): `c_fc` is used as `x @ c_fc` (the transpose of S13's `c_fc.weight`, same init)
and `c_proj` as `h @ c_proj.T`. Every Muon matrix is then (dim, dim) or (dim, 4 dim), so
`max(1, rows / cols)` is 1 for all of them: the MLP's first matrix loses its sqrt(4) lr factor.
Newton-Schulz moves to Triton kernels, with their own rounding points
(`jnano.optim.newton_schulz`, form "triton27").
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn.mlp import relu_squared
from jnano.stages import s13_packed_scalars
from jnano.stages.s11_merged_qkv import merged_qkv_attention
from jnano.stages.s13_packed_scalars import Block, Config, config_from_shapes

RECORDS = ("27",)


class QKVOAttention(eqx.Module):
    """S11's merged-QKV attention with the output projection as the bank's fourth matrix."""

    qkvo_w: Float[Array, "4 hdim dim"]
    n_head: int = eqx.field(static=True)

    def bank(self) -> Float[Array, "4 hdim dim"]:
        """[Wq, Wk, Wv, Wo] (#36 stores them flat and views them so)."""
        return self.qkvo_w

    def heads(self, x, bank, vi, lambdas, mask, **attention):
        """The attention's output, heads side by side, before the output projection."""
        return merged_qkv_attention(x, bank[:3], self.n_head, vi, lambdas, mask, **attention)

    def output_weight(self, bank, lambdas, dtype):
        """W_O as the output projection `y @ W_O.T` uses it."""
        return bank[3].astype(dtype)

    def mixed(self, x, vi, lambdas, mask):
        bank = self.bank()
        y = self.heads(x, bank, vi, lambdas, mask)
        return y @ self.output_weight(bank, lambdas, y.dtype).T


class TransposedMLP(eqx.Module):
    """`relu(x @ c_fc)^2 @ c_proj.T`, both matrices stored (dim, hidden)."""

    c_fc: Float[Array, "dim hidden"]
    c_proj: Float[Array, "dim hidden"]

    def __call__(self, x: Float[Array, "... dim"]) -> Float[Array, "... dim"]:
        h = relu_squared(x @ self.c_fc.astype(x.dtype))
        return h @ self.c_proj.astype(h.dtype).T


class GPT(s13_packed_scalars.GPT):
    """S13's model over blocks of `QKVOAttention` and `TransposedMLP`."""


def banked(block: Block) -> Block:
    """S13's block re-laid out, the same draws: q, k, v bounds, zero output projections, and
    c_fc's U(+-sqrt(3) * 0.5 / sqrt(dim)) transposed."""
    attn = block.attn
    if attn is not None:
        attn = QKVOAttention(jnp.concatenate([attn.qkv_w, attn.c_proj.weight[None]]), attn.n_head)
    return Block(attn, TransposedMLP(block.mlp.c_fc.weight.T, block.mlp.c_proj.weight))


def init(config: Config, key: jax.Array) -> GPT:
    base = s13_packed_scalars.init(config, key)
    return GPT(base.embed, base.value_embeds, tuple(banked(b) for b in base.blocks), base.lm_head, base.scalars,
               config)


__all__ = ["Config", "GPT", "QKVOAttention", "RECORDS", "TransposedMLP", "banked", "config_from_shapes", "init"]
