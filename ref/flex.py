"""CPU stand-ins for the FlexAttention-era records (#12-#25), each computing the function the CUDA
piece it replaces computes (tests/test_ref_flex.py checks each against a dense reference).

- `flex_attention`: a dense masked softmax. The token mask is the one the flex kernel applies for
  the BlockMask it is given (`dense_mask`): a kv block listed as partial is masked by `mask_mod`,
  a kv block listed as full is visible, an unlisted block is masked. Scores, softmax and P@V in
  fp32, the output in q's dtype. torch's eager CPU flex_attention is no substitute: it applies
  `mask_mod` only, ignoring the block lists that carry the window from #15 on, and it has no
  backward on the CPU.
- `create_block_mask`: torch's own, on the CPU and without compiling (the same BlockMask).
- `scaled_mm`: `torch._scaled_mm` (the FP8 head of #19+) as dequantise, fp32 matmul, scale, cast.
  torch's CPU kernel computes the same but is a slow reference kernel.
- `FlexTorchProxy`: the `torch` module as upstream's function bodies see it: `device='cuda'`
  tensors are made on the CPU, `pin_memory` is dropped, `torch.compile` is the identity, the
  hard-coded `arange(512, dtype=int32)` kv-block index of #16/#17 (it assumes 64K tokens) covers
  the sequence actually given, `torch.ops.nanogpt` resolves to this record's own custom ops.
- `FlexDistStub`: `torch.distributed` for one process: collectives are identities or copies,
  async ones return a handle whose future is already complete.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Iterator

import torch
from torch.nn.attention import flex_attention as _flex

from ref.shims import DistStub, TorchProxy

OP_NAMESPACE = "nanogpt"


# -- attention ---------------------------------------------------------------------------------

def _listed(num: torch.Tensor, indices: torch.Tensor, n_kv_blocks: int) -> torch.Tensor:
    """(q_blocks, kv_blocks) bool: block (r, c) is among the first num[r] entries of indices[r]."""
    rows, width = indices.shape
    num = num.to(torch.int64).clamp(min=0, max=width)  # #20+ may pass a count of -1: nothing listed
    valid = torch.arange(width)[None, :] < num[:, None]
    out = torch.zeros(rows, n_kv_blocks + 1, dtype=torch.bool)
    cols = torch.where(valid, indices.to(torch.int64).clamp(0, n_kv_blocks - 1), n_kv_blocks)
    out.scatter_(1, cols, valid)
    return out[:, :n_kv_blocks]


def dense_mask(block_mask, q_len: int, kv_len: int) -> torch.Tensor:
    """The (q_len, kv_len) token mask the flex kernel applies for `block_mask` (batch 0, head 0)."""
    q_block, kv_block = block_mask.BLOCK_SIZE
    n_kv_blocks = -(-kv_len // kv_block)
    n_q_blocks = -(-q_len // q_block)
    partial = _listed(block_mask.kv_num_blocks[0, 0], block_mask.kv_indices[0, 0], n_kv_blocks)[:n_q_blocks]
    full = torch.zeros_like(partial)
    if block_mask.full_kv_num_blocks is not None:
        full = _listed(block_mask.full_kv_num_blocks[0, 0], block_mask.full_kv_indices[0, 0], n_kv_blocks)[:n_q_blocks]

    def tokens(blocks: torch.Tensor) -> torch.Tensor:
        return blocks.repeat_interleave(q_block, 0)[:q_len].repeat_interleave(kv_block, 1)[:, :kv_len]

    q_idx, kv_idx = torch.arange(q_len)[:, None], torch.arange(kv_len)[None, :]
    zero = torch.zeros((), dtype=torch.int64)
    mod = block_mask.mask_mod(zero, zero, q_idx, kv_idx)
    mod = torch.as_tensor(mod, dtype=torch.bool).expand(q_len, kv_len)
    return tokens(full) | (tokens(partial) & mod)


def flex_attention(query, key, value, score_mod=None, block_mask=None, scale=None, enable_gqa=False,
                   return_lse=False, kernel_options=None, **_):
    """Dense stand-in for `torch.nn.attention.flex_attention.flex_attention` (B, H, T, D)."""
    if score_mod is not None or return_lse:
        raise NotImplementedError("the dense flex stand-in covers block masks only (no score_mod, no lse)")
    q_len, kv_len, dim = query.size(-2), key.size(-2), query.size(-1)
    if enable_gqa and key.size(-3) != query.size(-3):
        groups = query.size(-3) // key.size(-3)
        key, value = key.repeat_interleave(groups, -3), value.repeat_interleave(groups, -3)
    scores = (query.float() @ key.float().transpose(-1, -2)) * (dim ** -0.5 if scale is None else scale)
    if block_mask is not None:
        mask = getattr(block_mask, "_jnano_dense", None)
        if mask is None or mask.shape != (q_len, kv_len):
            mask = dense_mask(block_mask, q_len, kv_len)
            try:
                block_mask._jnano_dense = mask  # one BlockMask serves every layer of a forward
            except AttributeError:
                pass
        scores = scores.masked_fill(~mask, float("-inf"))
    return (scores.softmax(-1) @ value.float()).to(query.dtype)


def create_block_mask(mask_mod, B, H, Q_LEN, KV_LEN, device=None, BLOCK_SIZE=128, _compile=False, **_):
    """torch's `create_block_mask`, built on the CPU without compiling (#12-#14 ask for cuda)."""
    return _flex.create_block_mask(mask_mod, B, H, Q_LEN, KV_LEN, device="cpu", BLOCK_SIZE=BLOCK_SIZE,
                                   _compile=False)


# -- FP8 ---------------------------------------------------------------------------------------

def scaled_mm(a, b, scale_a=None, scale_b=None, bias=None, scale_result=None, out_dtype=None,
              use_fast_accum=False, **_):
    """`torch._scaled_mm`: (a @ b) with fp32 accumulation, times scale_a * scale_b, cast."""
    if bias is not None or scale_result is not None:
        raise NotImplementedError("scaled_mm stand-in: no bias / scale_result")
    out = a.float() @ b.float()
    scale = torch.ones((), dtype=torch.float32)
    if scale_a is not None:
        scale = scale * scale_a.float()
    if scale_b is not None:
        scale = scale * scale_b.float()
    return (out * scale).to(out_dtype or a.dtype)


def op_namespace(source: str) -> str:
    """Where a record's `nanogpt::*` custom ops are registered: one namespace per source text, so
    records loaded side by side (#19's and #21c's `nanogpt::mm` differ) keep their own ops."""
    return f"{OP_NAMESPACE}_{hashlib.sha256(source.encode()).hexdigest()[:12]}"


@contextlib.contextmanager
def own_op_namespace(source: str) -> Iterator[None]:
    """While upstream's definitions execute, `torch.library.custom_op("nanogpt::x")` registers
    `<op_namespace(source)>::x` (the op itself is upstream's)."""
    real = torch.library.custom_op
    namespace = op_namespace(source)

    def custom_op(name, *args, **kwargs):
        if isinstance(name, str) and name.startswith(OP_NAMESPACE + "::"):
            name = namespace + name[len(OP_NAMESPACE):]
        return real(name, *args, **kwargs)

    torch.library.custom_op = custom_op
    try:
        yield
    finally:
        torch.library.custom_op = real


class _Ops:
    def __init__(self, namespace: str):
        self._namespace = namespace

    def __getattr__(self, name):
        if name == OP_NAMESPACE:
            return getattr(torch.ops, self._namespace)
        return getattr(torch.ops, name)


# -- torch and torch.distributed -----------------------------------------------------------------

_FACTORIES = ("empty", "zeros", "ones", "full", "tensor", "arange", "randint", "randn", "rand",
              "linspace", "empty_like")  # (#71: `torch.empty_like(x, pin_memory=True)`)


class FlexTorchProxy(TorchProxy):
    """`torch` for upstream's function bodies on the CPU (see the module docstring).

    `buffer_dtype` (fp32 parity): floating `device='cuda'` buffers upstream makes in bf16 (Muon's
    update buffers) are made in this dtype instead. `kv_blocks`: the sequence's number of
    128-token blocks, for the hard-coded `arange(512, dtype=int32)`."""

    def __init__(self, real, namespace: str | None = None):
        super().__init__(real)
        self.kv_blocks: int | None = None
        self.capture: CaptureFunctional | None = None  # set while the driver runs a forward
        self.ops = _Ops(namespace) if namespace else real.ops
        self._scaled_mm = scaled_mm
        for name in _FACTORIES:
            setattr(self, name, self._factory(getattr(real, name), name))

    def _factory(self, fn, name):
        def make(*args, **kwargs):
            kwargs.pop("pin_memory", None)
            device = kwargs.get("device")
            if device is not None and "cuda" in str(device):
                kwargs["device"] = "cpu"
                dtype = kwargs.get("dtype")
                if self.buffer_dtype is not None and dtype is not None and dtype.is_floating_point:
                    kwargs["dtype"] = self.buffer_dtype
            if (name == "arange" and self.kv_blocks is not None and args == (512,)
                    and kwargs.get("dtype") == torch.int32):
                args = (self.kv_blocks,)
            return fn(*args, **kwargs)

        return make

    def logsumexp(self, logits, *args, **kwargs):
        """#53's multi-token loss takes `torch.logsumexp` of the logits instead of a cross entropy."""
        if self.capture is not None:
            self.capture.logits = logits
        return torch.logsumexp(logits, *args, **kwargs)

    @staticmethod
    def compile(fn=None, *args, **kwargs):
        return (lambda f: f) if fn is None else fn


@contextlib.contextmanager
def fp32_casts() -> Iterator[None]:
    """Within the block, `tensor.to(torch.bfloat16)` (by position or `dtype=`) leaves a float32
    tensor as it is: from #32 the forward casts its activations and RoPE tables that way, and
    fp32 parity runs upstream in fp32 throughout. Other casts are untouched."""
    original = torch.Tensor.to

    def to(self, *args, **kwargs):
        wants_bf16 = kwargs.get("dtype") is torch.bfloat16 or any(a is torch.bfloat16 for a in args)
        if wants_bf16 and self.dtype == torch.float32:
            rest = [a for a in args if a is not torch.bfloat16]
            kwargs.pop("dtype", None)
            return original(self, *rest, **kwargs) if rest or kwargs else self
        return original(self, *args, **kwargs)

    torch.Tensor.to = to  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.to = original  # type: ignore[method-assign]


class _Done:
    """The handle of an async collective that has already happened."""

    def wait(self, *_, **__):
        return True

    def is_completed(self):
        return True

    def get_future(self):
        future = torch.futures.Future()
        future.set_result(None)
        return future


class FlexDistStub(DistStub):
    """`torch.distributed` for one process (world size 1): every collective is an identity or a copy."""

    def __init__(self):
        super().__init__(world_size=1, rank=0)

    @staticmethod
    def _done(async_op):
        return _Done() if async_op else None

    def barrier(self, *_, **__):
        return None

    def all_reduce(self, tensor, op=None, async_op=False, **_):
        return self._done(async_op)

    def all_reduce_coalesced(self, tensors, op=None, async_op=False, **_):
        return self._done(async_op)

    def broadcast(self, tensor, src=0, async_op=False, **_):
        return self._done(async_op)

    def all_gather(self, tensor_list, tensor, async_op=False, **_):
        if tensor_list[0].data_ptr() != tensor.data_ptr():
            tensor_list[0].copy_(tensor.view_as(tensor_list[0]))
        return self._done(async_op)

    def all_gather_into_tensor(self, output, tensor, async_op=False, **_):
        if output.data_ptr() != tensor.data_ptr():
            output.view(-1).copy_(tensor.reshape(-1))
        return self._done(async_op)

    def reduce_scatter(self, output, input_list, op=None, async_op=False, **_):
        if output.data_ptr() != input_list[0].data_ptr():
            output.copy_(input_list[0])
        return self._done(async_op)

    def reduce_scatter_tensor(self, output, tensor, op=None, async_op=False, **_):
        if output.data_ptr() != tensor.data_ptr():
            output.copy_(tensor.reshape(output.shape))
        return self._done(async_op)


def split_by_rank(optimizer, world_size: int = 8) -> None:
    """Stand-in for the 8-GPU split of #36's Muon on one process.

    From #36 (MuonCustomSizing) Muon stacks each group, gives rank r the r-th chunk of
    ceil(n / world_size) parameters, and reshapes the whole chunk by its *first* parameter's
    module (an attention bank: four (hdim, dim) blocks). Run as one rank, the chunk is the whole
    group, and MLP matrices sharing a group with attention banks would be cut in four too. Each
    rank's chunk as a group of its own computes at world size 1 what the 8 ranks compute."""
    split = []
    for g in optimizer.param_groups:
        members = g["params"]
        chunk = max(1, -(-len(members) // world_size))
        parts = [members[i:i + chunk] for i in range(0, len(members), chunk)]
        # #42 keeps each group's chunk size in the group: one rank's chunk is the whole group
        split += [{**g, "params": part, **({"chunk_size": len(part)} if "chunk_size" in g else {})} for part in parts]
    optimizer.param_groups = split


@contextlib.contextmanager
def on_cpu() -> Iterator[None]:
    """`tensor.cuda()` / `module.cuda()` are the identity within the block (the `@lru_cache`d
    window helpers of #19+ end in `.cuda(non_blocking=True)`; `main`'s casts in `model.cuda()`)."""
    tensor_cuda, module_cuda = torch.Tensor.cuda, torch.nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    torch.nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = tensor_cuda, module_cuda  # type: ignore[method-assign]


class CaptureFunctional:
    """`torch.nn.functional` with `cross_entropy` recording the logits it is given and, for a
    record run under CUDA bf16 autocast (#24), `linear` casting both operands to bf16 as CUDA
    autocast does (CPU autocast's op lists differ, and it would also cast the stand-ins)."""

    def __init__(self, autocast_linear: bool = False):
        self.logits = None
        self._autocast_linear = autocast_linear

    def __getattr__(self, name):
        return getattr(torch.nn.functional, name)

    def cross_entropy(self, logits, *args, **kwargs):
        self.logits = logits
        return torch.nn.functional.cross_entropy(logits, *args, **kwargs)

    def linear(self, x, w, b=None):
        if self._autocast_linear:
            x, w, b = x.bfloat16(), w.bfloat16(), None if b is None else b.bfloat16()
        return torch.nn.functional.linear(x, w, b)
