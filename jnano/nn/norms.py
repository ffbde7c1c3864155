"""Normalisations, one function per era's exact semantics."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


class LayerNorm(eqx.Module):
    """`torch.nn.LayerNorm(dim)` with weight and bias (llm.c GPT-2, record #1): biased variance."""

    weight: Float[Array, " dim"]
    bias: Float[Array, " dim"]
    eps: float = eqx.field(static=True, default=1e-5)

    @staticmethod
    def init(dim: int) -> "LayerNorm":
        return LayerNorm(jnp.ones((dim,), jnp.float32), jnp.zeros((dim,), jnp.float32))

    def __call__(self, x: Float[Array, "... dim"]) -> Float[Array, "... dim"]:
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + self.eps) * self.weight + self.bias


def rms_norm_eps(x: Float[Array, "... dim"], eps: float = 1e-6) -> Float[Array, "... dim"]:
    """Records #2-#4 `rmsnorm(x0, eps=1e-6)`: computed in fp32, cast back to the input dtype."""
    x32 = x.astype(jnp.float32)
    y = x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + eps)
    return y.astype(x.dtype)


def rms_norm(x: Float[Array, "... dim"]) -> Float[Array, "... dim"]:
    """`F.rms_norm(x, (dim,))` with `eps=None` (record #5 on).

    torch then uses the machine epsilon of the *computation* dtype: fp32 math for fp32 and bf16
    inputs alike, so eps = finfo(float32).eps = 1.19e-7 (history.md §2.0, checked on torch 2.13).
    """
    x32 = x.astype(jnp.float32)
    eps = jnp.finfo(jnp.float32).eps
    y = x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + eps)
    return y.astype(x.dtype)
