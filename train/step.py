"""The jitted training and evaluation steps.

One optimizer step = the mean loss over the global batch (every rank of the record run), its
gradient (summed over micro-batches when the devices cannot hold the batch at once: equal-size
micro-batches, so the mean of their means is the global mean upstream's DDP averages to), then
the optimizer update. Parameters and optimizer state are donated; the step counter that drives
the schedules lives in the optimizer state, and per-step model arguments (`schedule`, e.g. the
attention window of #13 on) are traced values, so every step runs the same compiled program.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax


def make_train_step(static, opt: optax.GradientTransformation, n_micro: int, batch_sharding=None,
                    micro_sharding=None):
    """`step(params, opt_state, inputs, targets, schedule) -> (params, opt_state, loss)` (not yet
    jitted); `schedule` is a dict of the model's per-step arguments (`{}` for most records)."""

    def loss_of(params, x, y, schedule):
        return eqx.combine(params, static).loss(x, y, **schedule)

    grad_fn = jax.value_and_grad(loss_of)

    def step(params, opt_state, inputs, targets, schedule):
        if batch_sharding is not None:
            inputs = jax.lax.with_sharding_constraint(inputs, batch_sharding)
            targets = jax.lax.with_sharding_constraint(targets, batch_sharding)
        if n_micro == 1:
            loss, grads = grad_fn(params, inputs, targets, schedule)
        else:
            xs = inputs.reshape(n_micro, -1, inputs.shape[-1])
            ys = targets.reshape(n_micro, -1, targets.shape[-1])
            if micro_sharding is not None:
                xs = jax.lax.with_sharding_constraint(xs, micro_sharding)
                ys = jax.lax.with_sharding_constraint(ys, micro_sharding)

            def accumulate(carry, xy):
                loss_sum, grad_sum = carry
                loss, grads = grad_fn(params, *xy, schedule)
                return (loss_sum + loss, jax.tree.map(jnp.add, grad_sum, grads)), None

            zeros = jax.tree.map(jnp.zeros_like, params)
            (loss_sum, grad_sum), _ = jax.lax.scan(accumulate, (jnp.zeros((), jnp.float32), zeros), (xs, ys))
            loss = loss_sum / n_micro
            grads = jax.tree.map(lambda g: g / n_micro, grad_sum)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def make_eval_step(static):
    """`eval(params, inputs, targets, schedule) -> mean loss` of one validation batch, as the
    record validates (`eval_loss`: e.g. #19 on without the FP8 head, #21c on the mean)."""

    def evaluate(params, inputs, targets, schedule):
        return eqx.combine(params, static).eval_loss(inputs, targets, **schedule)

    return evaluate
