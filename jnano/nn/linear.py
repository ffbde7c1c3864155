"""Linear maps and embedding tables in PyTorch's layout, so state_dict tensors load unchanged."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


class Linear(eqx.Module):
    """`y = x @ W.T (+ b)` with `W` stored `(out, in)` as `torch.nn.Linear` stores it.

    The weight is cast to the input's dtype, as record #10's `CastedLinear` does (fp32 master
    weights used in bf16); for fp32 inputs that is the plain `nn.Linear`.
    """

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"] | None = None

    def __call__(self, x: Float[Array, "... in"]) -> Float[Array, "... out"]:
        y = x @ self.weight.astype(x.dtype).T
        return y if self.bias is None else y + self.bias.astype(x.dtype)


class LinearT(eqx.Module):
    """`y = x @ W` with `W` stored `(in, out)`: #61's `CastedLinearT` (the head, transposed so
    that its gradient accumulates fast), the weight cast to the input's dtype."""

    weight: Float[Array, "in out"]

    def __call__(self, x: Float[Array, "... in"]) -> Float[Array, "... out"]:
        return x @ self.weight.astype(x.dtype)


class Embedding(eqx.Module):
    weight: Float[Array, "vocab dim"]

    def __call__(self, idx: Int[Array, "..."]) -> Float[Array, "... dim"]:
        return jnp.take(self.weight, idx, axis=0)


# --- initialisers, each named after the upstream code that draws it -----------------------------


def normal(key: jax.Array, shape: tuple[int, ...], std: float) -> jax.Array:
    """`torch.nn.init.normal_(w, 0, std)` in distribution."""
    return std * jax.random.normal(key, shape, jnp.float32)


def torch_linear_default(key: jax.Array, out_features: int, in_features: int) -> jax.Array:
    """`nn.Linear`'s default weight init: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))."""
    bound = 1.0 / in_features**0.5
    return jax.random.uniform(key, (out_features, in_features), jnp.float32, -bound, bound)
