"""Newton-Schulz orthogonalisation as records #3-#37 compute it, and #38's Polar Express."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

# Quintic coefficients "selected to maximize the slope at zero" (records #3 on, until #38).
NS5_COEFFS = (3.4445, -4.7750, 2.0315)


def newton_schulz5(
    G: Float[Array, "rows cols"], steps: int = 5, eps: float = 1e-7, dtype=jnp.bfloat16,
    normalize: str = "input", form: str = "record3", coefficients: tuple | None = None,
    scalar_semantics: str = "cuda",
) -> Float[Array, "rows cols"]:
    """`zeropower_via_newtonschulz5`, as records #3-#37 compute it.

    normalize: "input" (#3/#4: `X = G.bf16() / (||G|| + eps)`, the norm of G in fp32) or
    "rounded" (#5 on: `X = G.bf16(); X /= (||X|| + eps)`, the norm of the rounded X, in `dtype`)
    or "polar38" (#38: `X / (||X|| * 1.02 + 1e-6)`, each op rounded to `dtype`).
    coefficients: one (a, b, c) per iteration (#38: `jnano.hparams.POLAR_EXPRESS_COEFFS`); None: `steps`
    iterations of `NS5_COEFFS`.
    form: "record3" (`A = X X^T; B = A X; X = a X + b B + (c A) B`; `c * A @ B` is `(c*A) @ B`),
    "record11" (#11 on: `A = X X^T; B = b A + (c A) A; X = a X + B X`) or "triton27" (#27
    2025-07-18 TritonMuon on: the same algebra in fused kernels, each line rounded once:
    `B = c (A A) + b A` accumulates in fp32 (the Triton kernel's `alpha * acc + beta * A`), and
    `X = a X + B X` is one `baddbmm`/`addmm`) or "split48" (#48 2025-12-11 on the MLP matrices:
    `B X` rounded on its own, then `+ a X` rounded once more; `scalar_semantics="cpu"`: `a`
    rounded to `dtype` first, as eager CPU torch's `add_(X, alpha=a)` does). Tall matrices are
    transposed first.

    Every operation rounds to `dtype` where torch's eager bf16 kernels round: scalars multiply in
    fp32 (torch's opmath; a JAX weak-typed scalar would first round 3.4445 to bf16's 3.4375),
    matmuls accumulate in fp32 and round once. Step for step this equals eager PyTorch bit for
    bit; whole iterations can still differ where two BLAS libraries sum in a different order,
    and one flipped bf16 rounding grows by up to a^5 ~ 490 in small singular directions.
    """
    f32 = jnp.float32

    def matmul(x, y):
        return jnp.matmul(x, y, preferred_element_type=f32).astype(dtype)

    def scale(s, x):
        return (s * x.astype(f32)).astype(dtype)

    def add(x, y):
        return (x.astype(f32) + y.astype(f32)).astype(dtype)

    def fused(alpha, x, y, beta, z):  # alpha (x @ y) + beta z, one rounding
        acc = jnp.matmul(x, y, preferred_element_type=f32)
        return (alpha * acc + beta * z.astype(f32)).astype(dtype)

    if normalize == "input":
        norm = jnp.sqrt(jnp.sum(jnp.square(G.astype(f32))))
        X = (G.astype(dtype).astype(f32) / (norm + eps)).astype(dtype)
    elif normalize == "rounded":
        X = G.astype(dtype)
        norm = jnp.sqrt(jnp.sum(jnp.square(X.astype(f32)))).astype(dtype)  # torch: bf16 norm of bf16
        X = (X.astype(f32) / (norm + jnp.asarray(eps, dtype)).astype(f32)).astype(dtype)
    elif normalize == "polar38":
        # scalars in fp32 (CUDA's opmath); `+ 1e-6` cannot move a bf16 norm above ~1e-4
        X = G.astype(dtype)
        norm = jnp.sqrt(jnp.sum(jnp.square(X.astype(f32)))).astype(dtype)
        denom = ((norm.astype(f32) * (1 + 0.02)).astype(dtype).astype(f32) + 1e-6).astype(dtype)
        X = (X.astype(f32) / denom.astype(f32)).astype(dtype)
    else:
        raise ValueError(f"unknown normalize {normalize!r}")
    tall = G.shape[0] > G.shape[1]
    if tall:
        X = X.T
    for a, b, c in coefficients or (NS5_COEFFS,) * steps:
        A = matmul(X, X.T)
        if form == "record3":
            B = matmul(A, X)
            X = add(add(scale(a, X), scale(b, B)), matmul(scale(c, A), B))
        elif form == "record11":
            B = add(scale(b, A), matmul(scale(c, A), A))
            X = add(scale(a, X), matmul(B, X))
        elif form == "triton27":
            B = fused(c, A, A, b, A)
            X = fused(1.0, B, X, a, X)
        elif form == "split48":  # #48's MLP matrices: `C = B @ X` rounded, then `C.add_(X, alpha=a)`
            B = fused(c, A, A, b, A)
            alpha = float(np.asarray(a, dtype)) if scalar_semantics == "cpu" else a
            X = (matmul(B, X).astype(f32) + alpha * X.astype(f32)).astype(dtype)
        else:
            raise ValueError(f"unknown form {form!r}")
    if tall:
        X = X.T
    return X.astype(G.dtype)
