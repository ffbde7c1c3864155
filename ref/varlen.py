"""CPU stand-in for FlashAttention-3's `flash_attn_varlen_func` (records #29 on).

Packed rows of documents: `cu_seqlens` holds the start of each segment (and the end of the last,
then padding with that end). A query at position i of segment [s, e) sees the keys j of the same
segment with `i - window_left <= j <= i + window_right` (`-1`: unbounded), and `j <= i` when
causal. Scores, softmax and P@V in fp32, the output in q's dtype, as the kernel accumulates.
tests/test_ref_varlen.py checks it against a loop over the documents.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

BOS_ID = 50256


def segment_ids(cu_seqlens: torch.Tensor, total: int) -> torch.Tensor:
    """The segment index of every position: the number of segment starts at or before it."""
    positions = torch.arange(total, device=cu_seqlens.device)
    return torch.searchsorted(cu_seqlens.to(torch.int64), positions, right=True) - 1


def varlen_mask(cu_q: torch.Tensor, cu_k: torch.Tensor, total_q: int, total_k: int, causal: bool,
                window_size=(-1, -1)) -> torch.Tensor:
    """(total_q, total_k) bool: which keys each query sees."""
    if not torch.equal(cu_q, cu_k) or total_q != total_k:
        raise NotImplementedError("the records call the varlen kernel with identical q and k segments")
    seg = segment_ids(cu_q, total_q)
    q = torch.arange(total_q)[:, None]
    k = torch.arange(total_k)[None, :]
    mask = seg[:, None] == seg[None, :]
    left, right = window_size
    if causal:
        right = 0
    if left >= 0:
        mask &= k >= q - left
    if right >= 0:
        mask &= k <= q + right
    return mask


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q=None, max_seqlen_k=None,
                           softmax_scale=None, causal=False, window_size=(-1, -1), **_):
    """q, k, v: (total_tokens, heads, head_dim) -> (total_tokens, heads, head_dim)."""
    total, heads, dim = q.shape
    scale = dim ** -0.5 if softmax_scale is None else softmax_scale
    mask = varlen_mask(cu_seqlens_q, cu_seqlens_k, total, k.shape[0], causal, tuple(window_size))
    qf, kf, vf = (t.float().transpose(0, 1) for t in (q, k, v))  # (heads, tokens, dim)
    scores = (qf @ kf.transpose(-2, -1)) * scale
    scores = scores.masked_fill(~mask, float("-inf"))
    out = torch.softmax(scores, dim=-1) @ vf
    return out.transpose(0, 1).to(q.dtype).contiguous()  # FA3 returns a fresh (tokens, heads, dim) tensor


def cu_seqlens_of(inputs: torch.Tensor, bos_id: int, max_num_docs: int) -> torch.Tensor:
    """The `cu_seqlens` upstream's loader gives a row of tokens whose documents start at each
    BOS (#29 on, the validation form: `[0, BOS positions..., len, len, ...]`, `max_num_docs`
    long), int32."""
    total = inputs.numel()
    starts = torch.nonzero(inputs.reshape(-1) == bos_id)[:, 0]
    if len(starts) + 1 > max_num_docs:
        raise ValueError(f"{len(starts)} documents do not fit cu_seqlens of {max_num_docs}")
    out = torch.full((max_num_docs,), total, dtype=torch.int32)
    out[0] = 0
    out[1:len(starts) + 1] = starts.to(torch.int32)
    return out


def get_kernel(repo: str, version=None) -> SimpleNamespace:
    """#38 on fetch FA3 from the Hugging Face kernel hub
    (`kernels.get_kernel('varunneal/flash-attention-3').flash_attn_interface`; #83 on
    `get_kernel('kernels-community/flash-attn3', version=1)`): this stand-in."""
    del version
    if "flash-attention" not in repo and "flash-attn" not in repo:
        raise ImportError(f"the reference has no CPU stand-in for the hub kernel {repo!r}")
    return SimpleNamespace(flash_attn_interface=SimpleNamespace(flash_attn_varlen_func=flash_attn_varlen_func))


__all__ = ["BOS_ID", "cu_seqlens_of", "flash_attn_varlen_func", "get_kernel", "segment_ids", "varlen_mask"]
