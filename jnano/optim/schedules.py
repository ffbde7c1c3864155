"""Learning-rate multipliers as traced functions of the step (no recompiles per step)."""

from __future__ import annotations

import jax.numpy as jnp

from jnano.hparams import CosineWithWarmup, Schedule, Trapezoid


def multiplier(schedule: Schedule, step) -> jnp.ndarray:
    """The factor on each group's base lr at `step` (0-based, the step being taken)."""
    it = jnp.asarray(step, jnp.float32)
    if isinstance(schedule, CosineWithWarmup):
        warm = (it + 1) / max(schedule.warmup, 1)
        ratio = (it - schedule.warmup) / (schedule.num_iterations - schedule.warmup)
        f = schedule.final_frac
        cosine = f + 0.5 * (1.0 + jnp.cos(jnp.pi * ratio)) * (1.0 - f)
        after = jnp.where(it > schedule.num_iterations, f, cosine)
        return jnp.where(it < schedule.warmup, warm, after)
    if isinstance(schedule, Trapezoid):
        warm = (it + 1) / max(schedule.warmup, 1)
        down = (schedule.num_iterations - it) / max(schedule.warmdown, 1)
        flat_until = schedule.num_iterations - schedule.warmdown
        return jnp.where(it < schedule.warmup, warm, jnp.where(it < flat_until, 1.0, down))
    raise TypeError(f"unknown schedule {schedule!r}")
