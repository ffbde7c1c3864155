"""Mixed-precision arithmetic the way eager PyTorch does it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def scaled(s: Float[Array, ""], x: Float[Array, "..."]) -> Float[Array, "..."]:
    """`s * x` for a 0-dim parameter `s` (a lambda, a skip weight) and activations `x`.

    torch gives a 0-dim tensor no say in the result dtype: an fp32 lambda times bf16 activations
    is bf16, the lambda rounded to bf16 first (records #18 on keep their lambdas fp32 while the
    residual stream is bf16). JAX would promote to fp32 instead.
    """
    return s.astype(x.dtype) * x


def times(x: Float[Array, "..."], c: float) -> Float[Array, "..."]:
    """`x * c` for a Python float `c`, as torch computes it: in float32 (CUDA's opmath), the
    product rounded once to `x`'s dtype. (JAX would round `c` to bf16 first.)"""
    return (x.astype(jnp.float32) * c).astype(x.dtype)


def rounded(x: Float[Array, "..."], dtype) -> Float[Array, "..."]:
    """`x` (float32) rounded to `dtype`'s precision and kept float32: one eager torch op's result
    stored in `dtype`. `reduce_precision`, not a round trip through `dtype`, which XLA may drop
    as excess precision. The identity for float32."""
    if jnp.dtype(dtype) == jnp.float32:
        return x
    info = jnp.finfo(dtype)
    return jax.lax.reduce_precision(x, exponent_bits=info.nexp, mantissa_bits=info.nmant)
