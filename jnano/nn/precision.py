"""Mixed-precision arithmetic the way eager PyTorch does it."""

from __future__ import annotations

from jaxtyping import Array, Float


def scaled(s: Float[Array, ""], x: Float[Array, "..."]) -> Float[Array, "..."]:
    """`s * x` for a 0-dim parameter `s` (a lambda, a skip weight) and activations `x`.

    torch gives a 0-dim tensor no say in the result dtype: an fp32 lambda times bf16 activations
    is bf16, the lambda rounded to bf16 first (records #18 on keep their lambdas fp32 while the
    residual stream is bf16). JAX would promote to fp32 instead.
    """
    return s.astype(x.dtype) * x
