"""S38 — record #77 "Replace partitioned hyperconnections with single saved activation"
(2026-03-06 SimplifyHC, 1.435 min). Branched from #75 (S37).

The diff to S37 (#74-#76):
- **One residual stream again.** Lane 1 is gone: from layer 8 on, attention reads the stream
  saved after layer 7 (`x_backout`, the one the backout subtracts), the MLPs read the stream.
  Layers 0-7 read the stream.
- `post_lambdas` (L, [attention, MLP]), ones: every attention's output is scaled again,
  `x = r_a x + p_a attn + inject`, and `x = r_m x + p_m mlp(x)`.
- The skip (3 -> 6) is taken after layer 3's MLP (#73-#76: after its attention). The model
  returns the per-token losses and the loop sums them (the same loss).

Record #78 "Tighten bounds on fa3 max_num_docs to match fineweb distribution" (2026-03-22, 1.426
min) trains this model with NorMuon's beta2 at 0.9 and `cu_seqlens` 64, 96 and 128 long by
stage (`PackedData.max_num_docs`).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jnano.nn import rms_norm
from jnano.nn.precision import scaled
from jnano.stages import s37_flattened_forward
from jnano.stages.base import recast
from jnano.stages.s23_partial_key_offset import BACKOUT_BLOCK, SKIP_FROM, SKIP_TO
from jnano.stages.s37_flattened_forward import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("77", "78")


class StreamStart(NamedTuple):
    x: Float[Array, "batch seq dim"]  # the stream entering layer 0 (the first bigram injection in it)
    x0: Float[Array, "batch seq dim"]  # the x0 that the injections and the skip gate read
    bigram: Float[Array, "batch seq bigram_dim"]  # the bigram embedding
    inject: Callable  # (i, x) -> layer i's attention sum plus its x0 and bigram injections


class GPT(s37_flattened_forward.GPT):
    post_lambdas: Float[Array, "layers sublayer"]

    def stream_start(self, idx) -> StreamStart:
        """The stream entering layer 0 and what the layers add to it (#83 changes all of it)."""
        n = self.config.n_layer
        x0_lambdas, bigram_lambdas = self.x0_lambdas, self.bigram_lambdas
        x0 = rms_norm(self.token_embeddings(idx))
        bigram = self.bigram_embeddings(idx)
        injected = [scaled(x0_lambdas[0], x0)] + [scaled(x0_lambdas[i], x0) + scaled(bigram_lambdas[i], bigram)
                                                  for i in range(1, n)]
        return StreamStart(x0 + scaled(bigram_lambdas[0], bigram), x0, bigram, lambda i, x: x + injected[i])

    def lanes(self, idx, window):
        n = self.config.n_layer
        sa_lambdas = self.scalars[:2 * n].reshape(n, 2)
        resid, post = self.resid_lambdas, self.post_lambdas
        values, masks = self.layer_values(idx), self.layer_masks(idx, window)
        x, x0, _, inject = self.stream_start(idx)
        skip, saved = None, None
        for i, block in enumerate(self.blocks):
            if i == SKIP_TO:
                x = x + self.skipped(skip, x0)
            if block.attn is not None:
                out = block.attn.mixed(rms_norm(x if saved is None else saved), values[i], sa_lambdas[i], masks[i])
                x = inject(i, scaled(resid[i, 0], x) + scaled(post[i, 0], out))
            x = scaled(resid[i, 1], x) + scaled(post[i, 1], block.mlp(rms_norm(x)))
            if i == SKIP_FROM:
                skip = x
            if i == BACKOUT_BLOCK:
                saved = x
        return x - scaled(self.tail_scalar(1), saved)

def init(config: Config, key: jax.Array) -> GPT:
    base = s37_flattened_forward.init(config, key)
    return recast(base, GPT, post_lambdas=jnp.ones((config.n_layer, 2), jnp.float32))


__all__ = ["Config", "GPT", "RECORDS", "StreamStart", "config_from_shapes", "init"]
