"""S36 — record #73 "Partitioned Hyperconnections" (2026-02-12 ParallelResiduals, 1.485 min).
Branched from #69 (S33c), with #67's loss and #68's hash.

The diff to S33c (#69):
- **Two lanes from layer 7.** Layers 0-6 keep one residual stream (lane 0). At layer 7 lane 1
  starts as a copy of lane 0; from there attention reads lane 0, the MLP reads lane 1, and each
  sublayer's output goes into both lanes with its own weights:
  `lane_k = resid[s] lane_k + w_post[s, k] out`. The skip (3 -> 6) adds to every live lane and
  the backout reads lane 0 after layer 7; the head reads `(lane0 + lane1) / 2` less the backout.
- **Per-sublayer lambdas**, parameters of their own (sublayer s = 2 layer for attention,
  2 layer + 1 for the MLP), cast to bf16 in the forward (`.bfloat16()`): `resid_lambda`
  (sqrt 1.1), `w_post` (2L, 2, 1) (ones; lane 1 of layers 7-10's attention 1.5), `x0_lambda`
  (zeros) and `bigram_lambda` (0.05). x0 and the bigram embedding no longer mix into the stream
  before each layer: the attention's output carries them, `out + x0_lambda[s] x0 + bigram_lambda[s]
  bigram` (the MLP sublayers' entries are never read), and layer 0's bigram share is added to
  the stream once, before layer 0. The packed `scalars` keep the attention pairs and smear,
  backout, skip: [pairs 2L | 3 | pad].
- The bigram hash is computed in the model with the true first token (#68's); the FP8 head
  sits in the loss (#67's); `grad_scale = 1` (#72's; the FP8 gradient scale 0.75/448).
- 1470 + 40 steps, cooldown 0.6 (lr floor 0.1). The new lambdas train with Adam, betas
  (0.9, 0.95), lr x1 (`resid_lambda` x5), no decay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.hparams import FP8_SCALES_55, FP8Scales, FP8ScalesByWidth
from jnano.nn import rms_norm
from jnano.nn.precision import scaled
from jnano.stages import s33_fp8_in_loss, s33c_kernel_tuning
from jnano.stages.base import recast
from jnano.stages.s22b_premul_out import SA_LAMBDA_INIT
from jnano.stages.s18b_skip_gates import SKIP_INIT
from jnano.stages.s20_backout import BACKOUT_INIT
from jnano.stages.s21_single_skip import STREAM_LAMBDA_INIT
from jnano.stages.s23_partial_key_offset import BACKOUT_BLOCK, SKIP_FROM, SKIP_TO

RECORDS = ("73",)
PARALLEL_START = 7  # the first layer with two lanes
LANE1_ATTENTION_INIT = 1.5  # w_post[2 layer, 1] from PARALLEL_START on
BIGRAM_LAMBDA_INIT = 0.05


@dataclass(frozen=True)
class Config(s33c_kernel_tuning.Config):
    head_fp8: FP8Scales | FP8ScalesByWidth | None = FP8_SCALES_55


class GPT(s33_fp8_in_loss.FP8HeadInLoss, s33c_kernel_tuning.GPT):
    config: Config = eqx.field(static=True)
    w_post: Float[Array, "sublayers lanes 1"]
    x0_lambda: Float[Array, " sublayers"]
    bigram_lambda: Float[Array, " sublayers"]
    resid_lambda: Float[Array, " sublayers"]
    train_loss_scale: ClassVar[float] = 1.0
    bigram_first_previous: ClassVar[str] = "token"

    def tail_scalar(self, k: int):
        """smear 0, backout 1, skip 2: after the attention pairs."""
        return self.scalars[2 * self.config.n_layer + k]

    def hidden(self, idx, window):
        return self.with_banked_weights().with_banked_gates().lanes(idx, window)

    def lanes(self, idx, window):
        n = self.config.n_layer
        sa_lambdas = self.scalars[:2 * n].reshape(n, 2)
        # (upstream's `.bfloat16()` of each: `scaled` casts them to the stream's dtype, bf16 at record precision)
        w_post, x0_lambda, bigram_lambda, resid = self.w_post[:, :, 0], self.x0_lambda, self.bigram_lambda, self.resid_lambda
        values, masks = self.layer_values(idx), self.layer_masks(idx, window)
        x0 = rms_norm(self.token_embeddings(idx))
        bigram = self.bigram_embeddings(idx)

        def into_lanes(s, lanes, out):
            return tuple(None if lane is None else scaled(resid[s], lane) + scaled(w_post[s, k], out)
                         for k, lane in enumerate(lanes))

        lanes, skips, backout = (x0 + scaled(bigram_lambda[0], bigram), None), [], None
        for i, block in enumerate(self.blocks):
            if i == PARALLEL_START:
                lanes = (lanes[0], lanes[0])
            if i == SKIP_TO:
                skip = self.skipped(skips.pop(), x0)
                lanes = tuple(None if lane is None else lane + skip for lane in lanes)
            if block.attn is not None:
                out = block.attn.mixed(rms_norm(lanes[0]), values[i], sa_lambdas[i], masks[i])
                carried = scaled(x0_lambda[2 * i], x0)
                if i > 0:  # (layer 0's bigram share went in before it: upstream multiplies it by 0 here)
                    carried = carried + scaled(bigram_lambda[2 * i], bigram)
                lanes = into_lanes(2 * i, lanes, out + carried)
            if i == SKIP_FROM:
                skips.append(lanes[0])
            if block.mlp is not None:
                out = block.mlp(rms_norm(lanes[0] if lanes[1] is None else lanes[1]))
                lanes = into_lanes(2 * i + 1, lanes, out)
            if i == BACKOUT_BLOCK:
                backout = lanes[0]
        x = (lanes[0] + lanes[1]) * 0.5
        return x - scaled(self.tail_scalar(1), backout)


def lane_scalars(n_layer: int, world_size: int) -> jax.Array:
    pad = (-n_layer * 2 - 3) % world_size
    return jnp.concatenate([jnp.tile(jnp.asarray(SA_LAMBDA_INIT), n_layer), jnp.asarray([0.0, BACKOUT_INIT, SKIP_INIT]),
                            jnp.ones(pad)]).astype(jnp.float32)


def init(config: Config, key: jax.Array) -> GPT:
    """#69's draws (#67's), the lambdas as upstream's constructor sets them."""
    base = s33c_kernel_tuning.init(config, key)
    n = config.n_layer
    w_post = jnp.ones((2 * n, 2, 1), jnp.float32).at[2 * PARALLEL_START::2, 1, 0].set(LANE1_ATTENTION_INIT)
    return recast(base, GPT, config=config, x0_lambdas=None, scalars=lane_scalars(n, config.world_size),
                  w_post=w_post, x0_lambda=jnp.zeros(2 * n, jnp.float32),
                  bigram_lambda=jnp.full(2 * n, BIGRAM_LAMBDA_INIT, jnp.float32),
                  resid_lambda=jnp.full(2 * n, STREAM_LAMBDA_INIT ** 0.5, jnp.float32))


def config_from_shapes(shapes: dict[str, tuple[int, ...]], base: Config) -> Config:
    return s33c_kernel_tuning.config_from_shapes(shapes, base)


__all__ = ["Config", "GPT", "PARALLEL_START", "RECORDS", "config_from_shapes", "init", "lane_scalars"]
