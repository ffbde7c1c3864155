"""CPU stand-in for #85's `dc_attention_postonly_nodd_correction_add_base_triton` (2026-05-27
MuddGatedAndDC, `dc_triton_kernels.py`): layer 10's dynamically composed attention added to the
FA3 output it is given.

Per query t and head h, `P_h[t, s]` is the softmax of `scaling q_h[t] . k_h[s]` over the keys s
of t's `cu_seqlens` segment with `0 <= t - s < window`; the heads' maps are mixed into one,
`a[t, s] = sum_h w1[t, h] P_h[t, s]`, and head h's output gains `sum_s (w2[t, h] a[t, s]) v_h[s]`.
The kernel's precision: scores, probabilities and `a` in float32, `w2 a` stored in v's dtype
before the product with v (accumulated in float32), plus the base, stored once in the base's
dtype. The backward is autograd's through these operations; the kernel's own backward is Triton
code accumulating in float32, so at record precision the gradients agree to bf16 rounding, not
bit for bit. tests/test_ref_kernels.py checks this against a loop over queries.
"""

from __future__ import annotations

import torch

from ref.varlen import segment_ids

KERNEL_WINDOW = 112  # the wrapper's default and #85's argument


def _segments(seq_lens: torch.Tensor | None, total: int) -> torch.Tensor:
    """The wrapper's reading of `seq_lens`: None is one segment, a single length is [0, length)."""
    if seq_lens is None:
        seq_lens = torch.tensor([0, total])
    elif seq_lens.numel() == 1:
        seq_lens = torch.tensor([0, int(seq_lens.reshape(-1)[0])])
    return segment_ids(seq_lens, total)


def dc_post_correction(base_out, q, k, v, dc_weights, softmax_lse, scaling, window=None, seq_lens=None,
                       block_m: int = 16, block_n: int = 32):
    """`base_out` (T, H, D) or (1, T, H, D) plus the composed attention of q, k, v (1, T, H, D)
    under the per-token head weights `dc_weights` = (w1, w2), each (1, T, H)."""
    del block_m, block_n  # the kernel's tiling
    if softmax_lse is not None and softmax_lse.numel():
        raise NotImplementedError("the DC stand-in computes its own softmax; #85 passes softmax_lse=None")
    w1, w2 = dc_weights
    batch, total, heads, dim = q.shape
    if batch != 1:
        raise ValueError(f"the DC kernel takes one packed row (batch 1), not {batch}")
    window = KERNEL_WINDOW if window is None else int(window)
    seg = _segments(seq_lens, total)
    t = torch.arange(total)[:, None]
    s = torch.arange(total)[None, :]
    visible = (seg[:, None] == seg[None, :]) & (t - s >= 0) & (t - s < window)
    scores = torch.einsum("thd,shd->hts", q[0].float(), k[0].float()) * scaling
    probs = torch.softmax(scores.masked_fill(~visible, float("-inf")), dim=-1)
    shared = torch.einsum("th,hts->ts", w1[0].float(), probs)
    weights = (w2[0].float().T[:, :, None] * shared[None]).to(v.dtype)
    composed = torch.einsum("hts,shd->thd", weights.float(), v[0].float())
    out = composed + base_out.float().reshape(total, heads, dim)
    return out.to(base_out.dtype).reshape(base_out.shape).contiguous()  # a fresh tensor, as the kernel's


__all__ = ["KERNEL_WINDOW", "dc_post_correction"]
