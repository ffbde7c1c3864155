"""CPU stand-ins for upstream's Triton kernels (record #27 on).

A record file defines its kernels at module level (`@triton.autotune(...) @triton.jit def ...`)
and launches them from small Python wrappers. On the CPU there is no Triton, so:

- `NAMESPACE` binds `triton` and `triton.language` (as `tl`) to stubs that let those
  definitions execute (decorators, `triton.Config`, `tl.constexpr` annotations); launching a
  kernel raises and names it.
- `install(module)` replaces each wrapper the record defines by a torch function computing what
  the kernel computes, in the kernel's precision: products of the inputs, accumulated in fp32
  (`tl.dot`'s accumulator), combined in fp32, rounded once to the output's dtype.
  tests/test_ref_kernels.py checks each against a dense reference.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Callable

import torch

from ref.dc import dc_post_correction


class _Kernel:
    def __init__(self, fn: Callable):
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "kernel")

    def __getitem__(self, grid):
        raise RuntimeError(f"Triton kernel {self.__name__} cannot run on the CPU and the reference has no "
                           "stand-in for the wrapper that launched it (ref/kernels.py)")


def _decorator_or_factory(*args, **kwargs):
    """`@triton.jit` and `@triton.jit(...)` alike."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return _Kernel(args[0])
    return lambda fn: _Kernel(fn)


class _Config:
    def __init__(self, *positional, **options):
        self.positional, self.options = positional, options


def _stub_language() -> ModuleType:
    tl = ModuleType("triton.language")

    class constexpr:  # noqa: N801 - upstream's annotation `tl.constexpr`
        pass

    tl.constexpr = constexpr
    tl.float32, tl.bfloat16, tl.float16, tl.int32, tl.int64 = (object() for _ in range(5))
    return tl


def _stub_triton(language: ModuleType) -> ModuleType:
    triton = ModuleType("triton")
    triton.__version__ = "cpu-stand-in"
    triton.jit = _decorator_or_factory
    triton.heuristics = lambda *a, **k: (lambda fn: fn)
    triton.autotune = lambda *a, **k: (lambda fn: fn)
    triton.Config = _Config
    triton.cdiv = lambda a, b: -(-a // b)
    triton.next_power_of_2 = lambda n: 1 << max(int(n) - 1, 0).bit_length()
    triton.language = language
    return triton


class TensorDescriptor:
    """`triton.tools.tensor_descriptor.TensorDescriptor` (#59 on): only the kernel launches that
    every stand-in replaces use it."""

    @staticmethod
    def from_tensor(*args, **kwargs):
        raise RuntimeError("TensorDescriptor: a Triton kernel launch without a CPU stand-in (ref/kernels.py)")


_TL = _stub_language()
NAMESPACE = {"triton": _stub_triton(_TL), "tl": _TL, "TensorDescriptor": TensorDescriptor}


def _f32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32)


def ns_line_1(A: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """#27 `ns_line_1_kernel`: `out = A @ A^T` (batched over a leading axis)."""
    a = _f32(A)
    out.copy_(a @ a.mT)
    return out


def ns_line_2(A: torch.Tensor, alpha: float, beta: float, out: torch.Tensor) -> torch.Tensor:
    """#27 `ns_line_2_kernel`: `out = alpha * (A @ A^T) + beta * A` for square A, in fp32."""
    a = _f32(A)
    out.copy_(alpha * (a @ a.mT) + beta * a)
    return out


def xtx(A: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """#74 `XTX_kernel`: `out = A^T @ A` (batched over a leading axis), accumulated in fp32."""
    a = _f32(A)
    out.copy_(a.mT @ a)
    return out


def transpose_copy(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """#74 `transpose_copy`: `dst = src^T` (exact)."""
    dst.copy_(src.T)
    return dst


def transpose_add(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """#74 `transpose_add`: `dst += src^T`, in the tensors' dtype (the kernel adds the loaded values
    and stores them rounded, as torch's add does)."""
    dst.add_(src.T)
    return dst


def linear_relu_square(a: torch.Tensor, b: torch.Tensor, aux: torch.Tensor | None = None):
    """#59 `linear_relu_square_kernel`: `c = a @ b^T` accumulated in fp32 and rounded to a's dtype;
    forward (`aux` None): `(c, relu(c)^2)`, the square of the rounded c rounded once; backward
    (`aux` = the forward's c): `2 c relu(aux)`, rounded once. `b` (a bf16 weight from #57) is
    read in a's dtype, as the kernel reads both operands in the activations' bf16."""
    c = (_f32(a) @ _f32(b).mT).to(a.dtype)
    if aux is None:
        relu = torch.clamp_min(_f32(c), 0)
        return c, (relu * relu).to(a.dtype)
    return (2 * _f32(c) * torch.clamp_min(_f32(aux), 0)).to(a.dtype)


class FusedLinearReLUSquareFunction(torch.autograd.Function):
    """#59's `FusedLinearReLUSquareFunction` (`relu(x W1^T)^2 W2`, its backward from the saved
    pre- and post-activations), with the weights read in the activations' dtype. Upstream feeds
    its bf16 weights to the kernel and to `post @ W2` as they are, which needs bf16 activations
    (the record's); read in the activations' dtype, fp32 parity runs the same function in fp32.
    The weights' gradients come back in the activations' dtype and autograd rounds them to the
    weights' (bf16), as `.type_as` did before #59."""

    @staticmethod
    def forward(ctx, x, W1, W2):
        w1, w2 = W1.to(x.dtype), W2.to(x.dtype)
        pre, post = linear_relu_square(x.view((-1, x.shape[-1])), w1)
        x3 = post @ w2
        ctx.save_for_backward(x, w1, w2, pre, post)
        return x3.view(x.shape)

    @staticmethod
    def backward(ctx, grad_output):
        x, w1, w2, pre, post = ctx.saved_tensors
        dW2 = post.T @ grad_output.view(-1, grad_output.shape[-1])
        dpre = linear_relu_square(grad_output.view((-1, grad_output.shape[-1])), w2, aux=pre)
        dW1 = dpre.T @ x.view(-1, x.shape[-1])
        dx = dpre @ w1
        return dx.view(x.shape), dW1, dW2


def _dynamic_fp8_pre(x, w1_f8, dequant_scale, x_f8):
    """#84's FP8 forward of the kernel: the e4m3 operands' fp32 product times the dequantisation
    scalar, rounded to x's dtype (a CPU stand-in for the `USE_FP8` path)."""
    return ((_f32(x_f8) @ _f32(w1_f8).mT) * dequant_scale.float()).to(x.dtype)


class FP8UpFusedLinearReLUSquareFunction(torch.autograd.Function):
    """#84's `FusedLinearReLUSquareFunction(x, W1, W2, W1_f8, dequant_scale, x_f8)`: with the FP8
    copies given, the pre-activation comes from them (`_dynamic_fp8_pre`) and the post-activation is
    its rounded `relu^2`; the rest, and the backward, is #59's."""

    @staticmethod
    def forward(ctx, hidden, up, down, up_e4m3=None, dequant=None, hidden_e4m3=None):
        up, down = up.to(hidden.dtype), down.to(hidden.dtype)
        rows = hidden.view((-1, hidden.shape[-1]))
        if up_e4m3 is None:
            pre, post = linear_relu_square(rows, up)
        else:
            pre = _dynamic_fp8_pre(rows, up_e4m3, dequant, hidden_e4m3.view((-1, hidden_e4m3.shape[-1])))
            post = torch.clamp_min(_f32(pre), 0).square().to(hidden.dtype)
        ctx.save_for_backward(hidden, up, down, pre, post)
        return (post @ down).view(hidden.shape)

    @staticmethod
    def backward(ctx, out_grad):
        # #59's backward, and no gradient for the three FP8 inputs
        return (*FusedLinearReLUSquareFunction.backward(ctx, out_grad), None, None, None)


def _softcapped_losses(logits: torch.Tensor, targets, weights: torch.Tensor, A, B, C):
    """#60's forward kernel: per row `sum_k w_k (lse(z) - z[y_{row+k}])` over the rows that have
    a k-th target and positive weights, `z = A sigmoid((x + B) / C)` in float32; and the lse."""
    z = A * torch.sigmoid((_f32(logits) + B) / C)
    lse = torch.logsumexp(z, dim=-1)
    n = logits.shape[0]
    losses = torch.zeros(n, dtype=torch.float32)
    for k, w in enumerate(weights.tolist()):
        if w > 0 and k < n:
            picked = z[: n - k].gather(1, targets[k:].long()[:, None])[:, 0]
            losses[: n - k] += w * (lse[: n - k] - picked)
    return z, losses, lse


def _softcapped_logit_grad(logits: torch.Tensor, targets, weights: torch.Tensor, lse, grad_output, A, B, C):
    """#60's backward kernel before its final cast: the exact float32 gradient of the losses
    with respect to the logits."""
    n = logits.shape[0]
    sig = torch.sigmoid((_f32(logits) + B) / C)
    z = A * sig
    rows = torch.arange(n)
    s_w = sum(torch.where(rows + k < n, w, 0.0) for k, w in enumerate(weights.tolist()))
    grad_z = s_w[:, None] * torch.exp(z - lse[:, None])
    for k, w in enumerate(weights.tolist()):
        grad_z[rows[: n - k], targets[k:].long()] -= w
    return grad_output[:, None] * grad_z * ((1.0 / C) * z * (1.0 - sig))


def _softcapped_cross_entropy(capture: Callable[[], object], precision: str = "fp32") -> type:
    """#60's `FusedSoftcappedCrossEntropy` (the Triton forward and backward kernels); `capture()`
    is the driver's logit recorder while it runs a forward, which gets the softcapped logits the
    kernel computes (what the cross entropy sees, as `F.cross_entropy`'s input before #60)."""

    class FusedSoftcappedCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, logits, targets, mtp_weights, A=23.0, B=5.0, C=7.5):
            weights = _f32(torch.tensor([1.0]) if mtp_weights is None else mtp_weights)
            z, losses, lse = _softcapped_losses(logits, targets, weights, A, B, C)
            recorder = capture()
            if recorder is not None:
                recorder.logits = z
            ctx.save_for_backward(logits, targets, weights, lse)
            ctx.params = (A, B, C)
            return losses

        @staticmethod
        def backward(ctx, grad_output):
            logits, targets, weights, lse = ctx.saved_tensors
            grad = _softcapped_logit_grad(logits, targets, weights, lse, grad_output, *ctx.params)
            # the kernel writes bf16 (the record's logits are bf16): the logits' dtype here
            return grad.to(logits.dtype), None, None, None, None, None

    return FusedSoftcappedCrossEntropy


def _fp8_head(x, lm_head_weight, x_s, w_s, precision: str):
    """#67's FP8 head inside the loss: (bf16 logits, the e4m3 operands or None at fp32, where
    it is the plain float32 matmul)."""
    if precision == "fp32":
        return x @ lm_head_weight.to(x.dtype), ()
    x_f8, w_f8 = (torch.div(t, scale).to(dtype=torch.float8_e4m3fn) for t, scale in ((x, x_s), (lm_head_weight, w_s)))
    scale = torch.tensor(x_s, dtype=torch.float32) * torch.tensor(w_s, dtype=torch.float32)
    return ((_f32(x_f8) @ _f32(w_f8)) * scale).bfloat16(), (x_f8, w_f8)


def _fp8_head_grads(grad, x, w, f8, x_s, w_s, grad_s):
    """The head's backward from the float32 logit gradient: at fp32 the plain matmuls; else the
    gradient divided by `grad_s`, cast to e5m2, and the two scaled matmuls."""
    if not f8:
        return grad @ w.to(grad.dtype).T, (x.T @ grad).to(w.dtype)
    x_f8, w_f8 = f8
    g_f8 = (grad / grad_s).to(torch.float8_e5m2)
    g_scale, w_scale = torch.tensor(grad_s, dtype=torch.float32), torch.tensor(w_s, dtype=torch.float32)
    grad_x = ((_f32(g_f8) @ _f32(w_f8).T) * (g_scale * w_scale)).bfloat16()
    grad_w = (_f32(x_f8).T @ _f32(g_f8)) * (torch.tensor(x_s, dtype=torch.float32) * g_scale)
    return grad_x, grad_w


def _fp8_softcapped_cross_entropy(capture: Callable[[], object], precision: str = "fp32") -> type:
    """#67's `FusedSoftcappedCrossEntropy(x, targets, mtp_weights, W, x_s, w_s, grad_s)`: the FP8
    head (`x / x_s`, `W / w_s` to e4m3, one `_scaled_mm` to bf16 logits) and #60's kernels, whose
    backward divides the float32 logit gradient by `grad_s` and casts it to e5m2 for the two
    scaled matmuls. At fp32 precision the head is the plain float32 matmul (`x @ W`, the weight
    read in float32), as the FP8 head is replaced everywhere in fp32 parity."""

    class FusedSoftcappedCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, targets, mtp_weights, lm_head_weight, x_s, w_s, grad_s, A=23.0, B=5.0, C=7.5):
            weights = _f32(torch.tensor([1.0]) if mtp_weights is None else mtp_weights)
            logits, f8 = _fp8_head(x, lm_head_weight, x_s, w_s, precision)
            z, losses, lse = _softcapped_losses(logits, targets, weights, A, B, C)
            recorder = capture()
            if recorder is not None:
                recorder.logits = z
            ctx.save_for_backward(logits, targets, weights, lse, x, lm_head_weight, *f8)
            ctx.params = (A, B, C, x_s, w_s, grad_s)
            return losses

        @staticmethod
        def backward(ctx, grad_output):
            logits, targets, weights, lse, x, w, *f8 = ctx.saved_tensors
            A, B, C, x_s, w_s, grad_s = ctx.params
            grad = _softcapped_logit_grad(logits, targets, weights, lse, grad_output, A, B, C)
            grad_x, grad_w = _fp8_head_grads(grad, x, w, f8, x_s, w_s, grad_s)
            return grad_x, None, None, grad_w, None, None, None

    return FusedSoftcappedCrossEntropy


def _cuda_softcapped_cross_entropy(capture: Callable[[], object], precision: str = "fp32") -> type:
    """#79's `FusedSoftcappedCrossEntropy(x, targets, mtp_weights, W, x_s, w_s, grad_s,
    grad_scale)`: #67's FP8 head, then the CUDA kernel `ce_fwd_bwd`, which writes the losses and
    the logits' gradient in one pass: `s = sigmoid(x / C + B / C)` stored in bf16 (at record
    precision; float32 here at fp32), `z = A s`; the gradient `grad_scale (A / C) (sum_k w_k p -
    sum_k w_k [j = y_{r+k}]) s (1 - s)`, with every weight in the first sum on every row (the last
    rows' gradient is not their loss's) and `grad_scale` in place of the incoming gradient (the
    loop's `loss.sum() * grad_scale`). Returns a gradient for each of its 8 inputs (upstream's
    7 pass only under torch.compile)."""

    class CudaFusedLossStandIn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, hidden, target_ids, horizon_weights, head_weight, x_scale, w_scale, g_scale, loss_grad_scale,
                    A=23.0, B=5.0, C=7.5):
            weights = _f32(horizon_weights)
            logits, f8 = _fp8_head(hidden, head_weight, x_scale, w_scale, precision)
            inv = 1.0 / C
            s = torch.sigmoid(_f32(logits) * inv + B * inv)
            if precision != "fp32":
                s = _f32(s.bfloat16())
            z = A * s
            lse = torch.logsumexp(z, dim=-1)
            n = z.shape[0]
            losses = torch.zeros(n, dtype=torch.float32)
            picked_weights = torch.zeros_like(z)
            rows = torch.arange(n)
            for k, w in enumerate(weights.tolist()):
                if k < n:
                    t = target_ids[k:].long()
                    losses[: n - k] += w * (lse[: n - k] - z[: n - k].gather(1, t[:, None])[:, 0])
                    picked_weights[rows[: n - k], t] += w
            grad = loss_grad_scale * (A * inv) * (weights.sum() * torch.exp(z - lse[:, None]) - picked_weights) * s * (1 - s)
            recorder = capture()
            if recorder is not None:
                recorder.logits = z
            ctx.save_for_backward(grad, hidden, head_weight, *f8)
            ctx.params = (x_scale, w_scale, g_scale)
            return losses

        @staticmethod
        def backward(ctx, _unused_incoming_grad):
            grad, x, w, *f8 = ctx.saved_tensors
            grad_x, grad_w = _fp8_head_grads(grad, x, w, f8, *ctx.params)
            return grad_x, None, None, grad_w, None, None, None, None

    return CudaFusedLossStandIn


# #38 renames the two wrappers (`XXT`, `ba_plus_cAA`): the same kernels
STAND_INS: dict[str, Callable] = {"ns_line_1": ns_line_1, "ns_line_2": ns_line_2, "XXT": ns_line_1,
                                  "ba_plus_cAA": ns_line_2, "linear_relu_square": linear_relu_square, "XTX": xtx,
                                  "transpose_copy": transpose_copy, "transpose_add": transpose_add,
                                  # #85's wrapper, imported by main from `dc_triton_kernels`
                                  "dc_attention_postonly_nodd_correction_add_base_triton": dc_post_correction}
# autograd Functions replaced whole, by the parameters of their `forward` (a later record's
# Function of another signature is refused rather than run with the wrong stand-in); each entry
# makes the stand-in given the driver's logit recorder
FUNCTIONS: dict[str, dict[tuple[str, ...], Callable[..., type]]] = {
    "FusedLinearReLUSquareFunction": {
        ("ctx", "x", "W1", "W2"): lambda capture, precision: FusedLinearReLUSquareFunction,
        ("ctx", "x", "W1", "W2", "W1_f8", "dequant_scale", "x_f8"):
            lambda capture, precision: FP8UpFusedLinearReLUSquareFunction,
    },
    "FusedSoftcappedCrossEntropy": {
        ("ctx", "logits", "targets", "mtp_weights", "A", "B", "C"): _softcapped_cross_entropy,
        ("ctx", "x", "targets", "mtp_weights", "lm_head_weight", "x_s", "w_s", "grad_s", "A", "B", "C"):
            _fp8_softcapped_cross_entropy,
        ("ctx", "x", "targets", "mtp_weights", "lm_head_weight", "x_s", "w_s", "grad_s", "grad_scale", "A", "B", "C"):
            _cuda_softcapped_cross_entropy,
    },
}


def install(module: ModuleType, capture: Callable[[], object] = lambda: None, precision: str = "fp32") -> list[str]:
    """Bind the stand-in of every kernel wrapper and fused autograd Function `module` defines;
    returns their names. `capture()`: where a loss stand-in records the logits it sees;
    `precision`: the driver's ("fp32" runs the FP8 pieces as float32 matmuls)."""
    names = [n for n in STAND_INS if n in vars(module)]
    for n in names:
        setattr(module, n, STAND_INS[n])
    for name, versions in FUNCTIONS.items():
        theirs = vars(module).get(name)
        if theirs is None:
            continue
        signature = tuple(inspect.signature(theirs.forward).parameters)
        if signature not in versions:
            raise NotImplementedError(f"{name}.forward{signature}: the reference has stand-ins for "
                                      f"{sorted(versions)} only (ref/kernels.py)")
        setattr(module, name, versions[signature](capture, precision))
        names.append(name)
    return names


__all__ = ["FUNCTIONS", "FusedLinearReLUSquareFunction", "NAMESPACE", "STAND_INS", "install", "linear_relu_square",
           "ns_line_1", "ns_line_2"]
