"""S24 — record #53 "Multi-token prediction, untie embed/lm_head at 2/3 training, lr update, tweak
CWD" (2025-12-22 MultiTokenPrediction, 1.988 min).

The diff to S23c (#52):
- **Multi-token prediction.** The training loss adds, for each position, the cross entropies of
  the next tokens after the target, weighted by `mtp_weights` (`jnano.hparams.MultiTokenWeights`,
  a per-step argument): `jnano.nn.losses.multi_token_cross_entropy_sum_in`.
- **Untie at 2/3.** `embed` is back as a table of its own. Until `untied` (a per-step argument,
  `jnano.hparams.UntieAt`) the tokens still take the head's rows and `embed` gets no gradient;
  from then on they take `embed`'s. Just before that step the optimizer copies the head's
  weight and Adam state into it (`jnano.optim.untie`).
- **q, k, v drawn twice as wide:** U(+-sqrt(3) / sqrt(dim)) (std dim^-0.5, was 0.5 dim^-0.5).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from jnano.nn import Embedding
from jnano.nn.losses import cross_entropy_sum_in, multi_token_cross_entropy_sum_in
from jnano.stages import s23c_x0_lambdas
from jnano.stages.s23c_x0_lambdas import Config, config_from_shapes  # noqa: F401 - the stage's contract

RECORDS = ("53",)
QKV_INIT_GAIN = 2.0  # std dim^-0.5 over #52's 0.5 dim^-0.5


class GPT(s23c_x0_lambdas.GPT):
    """#52's model with `embed` a table again, read only once `untied`."""

    def embed_tokens(self, idx):
        return self.embed(idx)

    def with_tokens_from(self, untied):
        """The model whose `embed` is the head's weight until `untied` (a traced bool): the
        gradient of the token rows reaches the head before, `embed` after."""
        return eqx.tree_at(lambda m: m.embed.weight, self, jnp.where(untied, self.embed.weight, self.lm_head.weight))

    def __call__(self, idx, window=None, final_window=None, training: bool = False, untied=False, mtp_weights=None):
        del mtp_weights  # a training-loss argument: validation and logits ignore it
        return super(GPT, self.with_tokens_from(untied)).__call__(idx, window, final_window, training)

    def loss(self, idx, targets, mtp_weights=None, **schedule):
        logits = self(idx, training=True, **schedule)
        if mtp_weights is None:
            return cross_entropy_sum_in(logits, targets) / idx.shape[0]
        # each row is one rank's tokens: the k-th targets do not run into the next row
        per_row = jax.vmap(multi_token_cross_entropy_sum_in, in_axes=(0, 0, None))(logits, targets, mtp_weights)
        return jnp.sum(per_row) / idx.shape[0]


def init(config: Config, key: jax.Array) -> GPT:
    base = s23c_x0_lambdas.init(config, key)
    d = config.n_embd

    def wider(block):
        if block.attn is None:
            return block
        return eqx.tree_at(lambda b: b.attn.qkvo_w, block, block.attn.qkvo_w.at[:3 * d].multiply(QKV_INIT_GAIN))

    # upstream draws nn.Embedding's N(0, 1); the copy at the untie overwrites it before its first use
    embed = Embedding(jax.random.normal(jax.random.fold_in(key, 53), base.lm_head.weight.shape, jnp.float32))
    return GPT(embed, base.value_embeds, tuple(wider(b) for b in base.blocks), base.lm_head, base.scalars, config,
               smear_gate=base.smear_gate, x0_lambdas=base.x0_lambdas)


__all__ = ["Config", "GPT", "QKV_INIT_GAIN", "RECORDS", "config_from_shapes", "init"]
