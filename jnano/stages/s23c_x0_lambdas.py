"""S23c — record #52 "Smooth scalars via beta increase, decrease smear gate lr, freeze scalars
during transitions, adam all reduce" (2025-12-21 SmoothedScalars, 2.037 min).

The diff to S23b (#51): the x0 lambdas leave the packed scalars for a parameter of their own,
`x0_lambdas` (11, zero-init), so `scalars` is [resid 11 | attention pairs 22 | smear | backout |
skip | pad to 8]. The function is #51's.

Outside it (`jnano.records`, #52): `x0_lambdas` and `smear_gate` are trained by Adam (lr x5,
and x0.01 with no decay: the gate leaves NorMuon); `scalars` get an Adam of their own, betas
(0.9, 0.99), which stands still for 40 steps from every window or batch-size change.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.stages import s23b_retied_head
from jnano.stages.s18b_skip_gates import SKIP_INIT
from jnano.stages.s20_backout import BACKOUT_INIT
from jnano.stages.s21_single_skip import STREAM_LAMBDA_INIT
from jnano.stages.s22b_premul_out import SA_LAMBDA_INIT
from jnano.stages.s23b_retied_head import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("52",)


class GPT(s23b_retied_head.GPT):
    x0_lambdas: Float[Array, " layers"]

    def stream_lambdas(self):
        n = self.config.n_layer
        return self.scalars[:n], self.x0_lambdas, self.scalars[n:3 * n].reshape(n, 2)

    def tail_scalar(self, k: int):
        return self.scalars[3 * self.config.n_layer + k]


def x0_apart_scalars(n_layer: int, world_size: int) -> jax.Array:
    pad = (-n_layer * 3 - 3) % world_size
    return jnp.concatenate([
        jnp.full(n_layer, STREAM_LAMBDA_INIT), jnp.tile(jnp.asarray(SA_LAMBDA_INIT), n_layer),
        jnp.asarray([0.0, BACKOUT_INIT, SKIP_INIT]), jnp.ones(pad)]).astype(jnp.float32)


def init(config: Config, key: jax.Array) -> GPT:
    base = s23b_retied_head.init(config, key)
    return GPT(None, base.value_embeds, base.blocks, base.lm_head, x0_apart_scalars(config.n_layer, config.world_size),
               config, smear_gate=base.smear_gate, x0_lambdas=jnp.zeros(config.n_layer, jnp.float32))


__all__ = ["Config", "GPT", "RECORDS", "config_from_shapes", "init", "x0_apart_scalars"]
