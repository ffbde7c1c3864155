"""The FP8 `lm_head` matmul of records #19-#25 (upstream `nanogpt::mm`), CPU-emulated in JAX.

Record #19 ("FP8 head", 2025-01-13) moved the 768 -> 50304 head matmul to FP8 on H100: activations and
weights are scaled and cast to e4m3, multiplied by `torch._scaled_mm` with fp32 accumulation and rescaled;
the backward casts the incoming gradient to e5m2 and runs two more scaled matmuls. Record #21
(2025-01-26) retuned the scales; record #21c (2025-05-24 re-timing) switched to dividing by the scales
("divide" convention) with scales derived from the fp8 range (448). Records #22-#25 keep #21c's op.

Every rounding point of the upstream op is reproduced, because each one changes the numbers:

* the scaled activation `x * x_s` (or `x / x_s`) is a bf16 op in eager torch: computed in fp32 and
  rounded to bf16 *before* the fp8 cast (exact for x_s = 2; a real double rounding for #21c's scales);
* the scaled weight `W * w_s` (or `W / w_s`) is an fp32 op, then cast to e4m3;
* the incoming gradient `g` is bf16 (the head output is bf16), scaled in bf16, then cast to e5m2;
* the three matmuls multiply fp8 values exactly and accumulate in fp32; the fp32 accumulator is
  multiplied by the fp32 product of the two `_scaled_mm` scales and rounded once to the output dtype
  (bf16 for `out` and `grad_x`, fp32 for `grad_W`).

Cast semantics (checked against torch 2.13 CPU in tests/test_fp8.py): round-to-nearest-even in both
formats; e5m2 overflows to +-inf. e4m3fn has no inf; torch 2.13 eager *saturates* finite overflow and
+-inf to +-448 (pytorch PR #178817; Triton's compiled cast, which the record runs used, saturated already,
pytorch/ao#1912; whether Triton's e5m2 cast also saturated on H100 is not checked here),
while ml_dtypes/XLA's plain `astype` rounds anything above 464 to NaN (as eager torch <= 2.8 did). The
default `saturate=True` clips to +-448 before the cast to match torch 2.13; `saturate=False` keeps the
NaN behaviour.

Division: XLA rewrites `a / broadcast(s)` into `a * (1/s)`, which is not the correctly rounded quotient
(about a third of fp32 elements differ for s = 24/448). Torch's eager CPU `div` by a Python scalar is the
IEEE fp32 quotient, so the divide convention divides by a full-shaped operand that XLA cannot rewrite.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jnano.hparams import FP8_SCALES_19, FP8_SCALES_21, FP8_SCALES_21C, Convention, FP8Scales, fp8_scales_21c
from jnano.nn.precision import rounded

E4M3_MAX = 448.0
E5M2_MAX = 57344.0



# --- casts --------------------------------------------------------------------------------------


def to_e4m3fn(v: jax.Array, saturate: bool = True) -> jax.Array:
    """`v.to(torch.float8_e4m3fn)` (torch 2.13): RNE, NaN stays NaN, overflow and +-inf -> +-448.

    With `saturate=False` it is XLA's cast: magnitudes above 464 (and +-inf) become NaN (464 ties to 448).
    The value is widened to fp32 first (exact from bf16) so there is a single rounding into fp8.
    """
    v = v.astype(jnp.float32)
    if saturate:
        v = jnp.clip(v, -E4M3_MAX, E4M3_MAX)  # max/min propagate NaN
    return v.astype(jnp.float8_e4m3fn)


def to_e5m2(v: jax.Array) -> jax.Array:
    """`v.to(torch.float8_e5m2)`: RNE, magnitudes >= 61440 become +-inf (the same in torch and XLA)."""
    return v.astype(jnp.float32).astype(jnp.float8_e5m2)


def _f32(s: float) -> np.float32:
    return np.float32(s)


def _scale_in(v: jax.Array, s: float, convention: Convention, dtype) -> jax.Array:
    """Eager torch's `v.mul(s)` / `v.div(s)` for a Python scalar s: fp32 opmath, result rounded to `dtype`."""
    v32 = v.astype(jnp.float32)
    if convention == "multiply":
        r = v32 * _f32(s)
    else:
        # The divisor is full-shaped (and NaN where v is NaN, which leaves NaN/NaN = NaN as v/s would),
        # so XLA's `a / broadcast(s) -> a * (1/s)` rewrite does not apply and the quotient is the IEEE one.
        r = v32 / jnp.where(jnp.isnan(v32), v32, _f32(s))
    return r.astype(dtype)


# --- scales -------------------------------------------------------------------------------------


# `FP8Scales` and the records' presets are plain data: they live in `jnano.hparams`.


# --- matmul -------------------------------------------------------------------------------------


def _native_default() -> bool:
    """FP8 dot_general on GPUs with FP8 tensor cores (compute capability >= 8.9), emulation elsewhere."""
    if jax.default_backend() != "gpu":
        return False
    cc = getattr(jax.devices()[0], "compute_capability", None)
    try:
        return cc is not None and tuple(int(p) for p in str(cc).split(".")[:2]) >= (8, 9)
    except ValueError:
        return False


def _mm(a: jax.Array, b: jax.Array, contract: tuple[int, int], native: bool) -> jax.Array:
    """fp32-accumulated contraction of two fp8 operands over `a` axis contract[0], `b` axis contract[1].

    Emulation: dequantise to fp32 (exact) and run an fp32 matmul at full precision; the fp8 products are
    exact in fp32, so only the summation order differs from `_scaled_mm`. native: hand the fp8 arrays to
    `dot_general` so XLA can lower it to a cuBLASLt FP8 GEMM (on CPU XLA upcasts them itself).
    """
    dims = (((contract[0],), (contract[1],)), ((), ()))
    if native:
        return jax.lax.dot_general(a, b, dims, preferred_element_type=jnp.float32)
    return jax.lax.dot_general(a.astype(jnp.float32), b.astype(jnp.float32), dims,
                               precision=jax.lax.Precision.HIGHEST, preferred_element_type=jnp.float32)


def fp8_mm_forward(x: jax.Array, W: jax.Array, scales: FP8Scales, native: bool = False):
    """Upstream `nanogpt::mm` on 2-D operands: returns `(out bf16 (N, V), x_f8, w_f8)`.

    x: bf16 (N, K); W: fp32 (V, K). `out = bf16((x_f8 @ w_f8.T) * scale_x * scale_w)`.
    """
    sc = scales
    x_f8 = to_e4m3fn(_scale_in(x, sc.x_s, sc.convention, jnp.bfloat16), sc.saturate)
    w_f8 = to_e4m3fn(_scale_in(W, sc.w_s, sc.convention, jnp.float32), sc.saturate)
    acc = _mm(x_f8, w_f8, (1, 1), native)
    out = (acc * sc.rescale(sc.x_s, sc.w_s)).astype(jnp.bfloat16)
    return out, x_f8, w_f8


def fp8_mm_backward(g: jax.Array, x_f8: jax.Array, w_f8: jax.Array, scales: FP8Scales, native: bool = False,
                    float32_cotangent: bool = False):
    """Upstream `nanogpt::mm_backward`: returns `(grad_x bf16 (N, K), grad_W fp32 (V, K))`.

    `g_f8 = e5m2(bf16(g scaled by grad_s))`; `grad_x = bf16((g_f8 @ w_f8) * scale_g * scale_w)`;
    `grad_W = ((x_f8.T @ g_f8) * scale_x * scale_g).T` in fp32 (computed directly as (V, K)).
    `float32_cotangent` (#67's fused loss kernel): `g_f8 = e5m2(g / grad_s)` from the float32 `g`.
    """
    sc = scales
    if float32_cotangent:
        g_f8 = to_e5m2(_scale_in(g.astype(jnp.float32), sc.grad_s, sc.convention, jnp.float32))
    else:
        g_f8 = to_e5m2(_scale_in(g.astype(jnp.bfloat16), sc.grad_s, sc.convention, jnp.bfloat16))
    grad_x = (_mm(g_f8, w_f8, (1, 0), native) * sc.rescale(sc.grad_s, sc.w_s)).astype(jnp.bfloat16)
    grad_w = _mm(g_f8, x_f8, (0, 0), native) * sc.rescale(sc.x_s, sc.grad_s)
    return grad_x, grad_w


@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def _fp8_mm(scales, native, widened, x, W):
    out = fp8_mm_forward(x, W, scales, native)[0]
    return out.astype(jnp.float32) if widened else out


def _fp8_mm_fwd(scales, native, widened, x, W):
    out, x_f8, w_f8 = fp8_mm_forward(x, W, scales, native)
    return (out.astype(jnp.float32) if widened else out), (x_f8, w_f8)


def _fp8_mm_bwd(scales, native, widened, res, g):
    x_f8, w_f8 = res
    return fp8_mm_backward(g, x_f8, w_f8, scales, native, float32_cotangent=widened)


_fp8_mm.defvjp(_fp8_mm_fwd, _fp8_mm_bwd)


def fp8_linear(x: jax.Array, W: jax.Array, scales: FP8Scales, native: bool | None = None,
               float32_cotangent: bool = False) -> jax.Array:
    """The training-mode FP8 head: `CastedLinear(use_fp8=True)` / `lm_head_fp8` of #19-#25.

    x: (..., K), rounded to bf16 first (upstream's activation is always bf16); W: (V, K) fp32 master
    weight. Returns bf16 (..., V). The VJP is upstream's backward formula (not autodiff of the roundings);
    the cotangents come back in x's and W's own dtypes. `native=None` uses FP8 dot_general on
    FP8-capable GPUs and the fp32 emulation elsewhere. `float32_cotangent` (#67, the FP8 head fused
    into the loss kernel): the bf16 logits come back widened to float32, and the loss's float32
    gradient goes to e5m2 without a bf16 rounding first.
    """
    if native is None:
        native = _native_default()
    lead, k = x.shape[:-1], x.shape[-1]
    if W.ndim != 2 or W.shape[1] != k:
        raise ValueError(f"W must be (V, {k}), got {W.shape}")
    out = _fp8_mm(scales, bool(native), bool(float32_cotangent), x.reshape(-1, k).astype(jnp.bfloat16),
                  W.astype(jnp.float32))
    return out.reshape(*lead, W.shape[0])


def bf16_linear(x: jax.Array, W: jax.Array) -> jax.Array:
    """The eval-mode head `F.linear(x, W.type_as(x))`: W cast to x's dtype (bf16), products accumulated
    in fp32, rounded once to x's dtype."""
    y = jax.lax.dot_general(x, W.astype(x.dtype), (((x.ndim - 1,), (1,)), ((), ())),
                            preferred_element_type=jnp.float32)
    return y.astype(x.dtype)


def _dynamic_fp8_up(x: jax.Array, W: jax.Array) -> jax.Array:
    """#84's forward. The activations are scaled per tensor by their own amax, the weight matrix by
    its (`quantize_weights_fp8`), both to e4m3; the fp32 product times `s_w amax / 448`, rounded to
    x's dtype. Every scale is rounded where upstream's tensors round it: the amaxes and `448 / amax`
    in x's / W's dtype (bf16), the dequantisation factor in float32."""
    amax = jnp.maximum(jnp.max(jnp.abs(x)), 1e-12).astype(x.dtype)
    # `448.0 / amax` is torch's `amax.reciprocal() * 448.0`: two roundings in bf16
    # (`rounded`: a bf16 result kept float32, which XLA cannot drop before the e4m3 cast)
    inverse = rounded(1.0 / amax.astype(jnp.float32), x.dtype)
    x_f8 = to_e4m3fn(rounded(x.astype(jnp.float32) * rounded(inverse * E4M3_MAX, x.dtype), x.dtype))
    w_scale = rounded(jnp.maximum(jnp.max(jnp.abs(W)), 1e-12).astype(jnp.float32) / E4M3_MAX, W.dtype)
    w_f8 = to_e4m3fn(rounded(W.astype(jnp.float32) / w_scale, W.dtype))
    dequant = w_scale * amax.astype(jnp.float32) / jnp.float32(E4M3_MAX)
    acc = jax.lax.dot_general(x_f8.astype(jnp.float32), w_f8.astype(jnp.float32),
                              (((x.ndim - 1,), (1,)), ((), ())), preferred_element_type=jnp.float32)
    return (acc * dequant).astype(x.dtype)


def _plain_up(x: jax.Array, W: jax.Array) -> jax.Array:
    return x @ W.astype(x.dtype).T


@jax.custom_vjp
def fp8_up_projection(x: jax.Array, W: jax.Array) -> jax.Array:
    """`x Wᵀ` with #84's FP8 forward (2026-05-21 FP8MLPUpProj: the MLP's up-projection in training)
    and the plain product's gradient: upstream's backward reads the bf16 x and W, and only the
    forward's output (the pre-activation it saves) carries the FP8 rounding."""
    return _dynamic_fp8_up(x, W)


def _fp8_up_fwd(x, W):
    return _dynamic_fp8_up(x, W), (x, W)


def _fp8_up_bwd(res, g):
    return jax.vjp(_plain_up, *res)[1](g)


fp8_up_projection.defvjp(_fp8_up_fwd, _fp8_up_bwd)


__all__ = [
    "E4M3_MAX", "E5M2_MAX", "FP8Scales", "FP8_SCALES_19", "FP8_SCALES_21", "FP8_SCALES_21C", "bf16_linear",
    "fp8_linear", "fp8_mm_backward", "fp8_mm_forward", "fp8_scales_21c", "fp8_up_projection", "to_e4m3fn",
    "to_e5m2",
]
