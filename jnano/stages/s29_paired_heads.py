"""S29 — record #58 "Paired Head Attention" (2026-01-07 PairedHeadAttention, 1.820 min).

The diff to S28 (#57):
- **Interleaved RoPE.** Lanes (2m, 2m+1) of a head rotate together by the m-th frequency,
  `factor1 x + factor2 swap_pairs(x)` (`jnano.nn.rotary.apply_rotary_interleaved`); the first
  half of the head rotates, the second half is position-free (the half split paired m with
  m + D/2 and left the quarters [D/4, D/2) and [3D/4, D) fixed).
- **Paired heads** on layers 0, 2, 5 and 9 (all short-window): q and k of heads (2j, 2j+1) are
  rotated as one 2D-lane vector whose halves sit at positions 2t and 2t + 1; then q, k and v
  are read as a sequence twice as long with half the heads (a row-major view: position 2t
  holds heads 0..H/2-1, position 2t + 1 heads H/2..H-1), attended there causally within each
  document under the layer's window, not doubled (`jnano.nn.masks.paired_document_causal`),
  and read back as (T, H) heads. A head of either half can thus attend to the other half's
  keys at earlier positions.
- The partial key offset of the long layers still shifts the quarters [D/4, D/2) and
  [3D/4, D), which under the new layout are half rotating, half fixed: upstream's bug through
  #61, reproduced (#62 shifts [D/2, D)).

Outside the function: the paired layers' YaRN tables span twice the positions and step with the
window as the others do (the same frequencies and attention scale). 1735 + 40 steps.

Record #59 "Fused triton kernel for linear relu square MLP step" (2026-01-10, 1.781 min) runs
this model: its MLP is one Triton kernel for `relu(x W1^T)^2` (the same roundings as the eager
ops) and an autograd Function around it (`ref.kernels` stands in for both).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from jnano.nn import Linear, rms_norm
from jnano.nn.masks import left_window, paired_document_causal
from jnano.nn.precision import scaled
from jnano.nn.rotary import InterleavedRope, interleaved_frequencies, interleaved_tables
from jnano.stages import s28_bf16_weights
from jnano.stages.base import recast
from jnano.stages.s3_modern import attend
from jnano.stages.s11_merged_qkv import qkv_heads
from jnano.stages.s13_packed_scalars import Block
from jnano.stages.s18_yarn import LayerAttention, yarn_frequencies
from jnano.stages.s22b_premul_out import RowBankAttention
from jnano.stages.s26_value_skip_gates import GatedValues, ValueGatedAttention
from jnano.stages.s28_bf16_weights import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("58", "59")
PAIRED_LAYERS = (0, 2, 5, 9)


class PairedHeadAttention(RowBankAttention):
    """#58's `PairedHeadCausalSelfAttention`: heads attend in pairs over the doubled row
    (`layer.mask` and `layer.rope` are the doubled row's)."""

    def heads(self, x, bank, vi, lambdas, mask, rope, scale):
        q, k, v = qkv_heads(x, scaled(lambdas[0], bank[:3].astype(x.dtype)), self.n_head)
        if vi is not None:
            v = v + vi.reshape(v.shape).astype(v.dtype)
        B, T, H, D = q.shape
        q, k = rms_norm(q), rms_norm(k)
        q, k = (rope.rotate(a.reshape(B, T, H // 2, 2 * D)) for a in (q, k))
        doubled = [a.reshape(B, 2 * T, H // 2, D) for a in (q, k, v)]
        return attend(*doubled, mask, scale).reshape(B, T, -1)


class ValueGatedPairedHeadAttention(GatedValues, PairedHeadAttention):
    value_embed_gate: Linear  # (heads, 12)


class GPT(s28_bf16_weights.GPT):
    min_heads: ClassVar[int] = 2  # heads are paired

    def rope(self, window, seq: int):
        freqs, scale = yarn_frequencies(window, self.head_dim())
        tables = interleaved_tables(jnp.arange(seq), interleaved_frequencies(freqs), self.rope_dtype())
        return InterleavedRope(*tables), scale

    def paired_rope(self, window, seq: int) -> InterleavedRope:
        """`YarnPairedHead`'s tables: row t holds positions 2t and 2t + 1, side by side."""
        freqs = interleaved_frequencies(yarn_frequencies(window, self.head_dim())[0])
        t = jnp.arange(seq)
        even, odd = (interleaved_tables(p, freqs, self.rope_dtype()) for p in (2 * t, 2 * t + 1))
        return InterleavedRope(*(jnp.concatenate(pair, axis=-1) for pair in zip(even, odd)))

    def layer_masks(self, idx, windows) -> list:
        layers = super().layer_masks(idx, windows)
        window, seq = windows[0], idx.shape[-1]
        kinds = self.layer_windows()
        if any(kinds[i] != "S" for i in PAIRED_LAYERS):
            raise ValueError(f"paired layers {PAIRED_LAYERS} are short-window layers, not {kinds}")
        mask = jax.vmap(paired_document_causal)(idx) & left_window(2 * seq, self.window_tokens(window)["S"])
        rope = self.paired_rope(window, seq)
        for i in PAIRED_LAYERS:
            layers[i] = LayerAttention(mask, rope, layers[i].scale)
        return layers


def _paired(attn):
    cls = ValueGatedPairedHeadAttention if isinstance(attn, ValueGatedAttention) else PairedHeadAttention
    return cls(**{f.name: getattr(attn, f.name) for f in dataclasses.fields(attn)})


def init(config: Config, key: jax.Array) -> GPT:
    if config.n_head % 2:
        raise ValueError(f"paired-head attention needs an even number of heads, got n_head={config.n_head}")
    base = s28_bf16_weights.init(config, key)
    blocks = tuple(Block(_paired(b.attn), b.mlp) if i in PAIRED_LAYERS else b for i, b in enumerate(base.blocks))
    return recast(base, GPT, blocks=blocks)


__all__ = ["Config", "GPT", "PAIRED_LAYERS", "PairedHeadAttention", "RECORDS", "ValueGatedPairedHeadAttention",
           "config_from_shapes", "init"]
