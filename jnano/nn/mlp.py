"""Feed-forward blocks: `c_proj(act(c_fc(x)))` with each era's activation."""

from __future__ import annotations

import math
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn.linear import Linear


def gelu_tanh(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """llm.c `NewGELU`: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`."""
    return 0.5 * x * (1.0 + jnp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def gelu_exact(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """`F.gelu` (erf form), records #2-#4."""
    return jax.nn.gelu(x, approximate=False)


def relu_squared(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """`F.relu(x).square()` (record #5 on)."""
    return jnp.square(jax.nn.relu(x))


class MLP(eqx.Module):
    c_fc: Linear
    c_proj: Linear
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __call__(self, x: Float[Array, "... dim"]) -> Float[Array, "... dim"]:
        return self.c_proj(self.activation(self.c_fc(x)))
