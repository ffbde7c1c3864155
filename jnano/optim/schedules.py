"""Learning-rate multipliers as traced functions of the step (no recompiles per step)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jnano.hparams import CooldownToFloor, CosineWithWarmup, Schedule, StageCooldown, StagedCooldown, Trapezoid, stage_at


def _staged_host(s: StagedCooldown, step: int) -> float:
    if step > s.num_iterations:
        return s.floor
    x = step / s.num_iterations
    peak = 1.0
    for threshold, value in s.peaks:
        if x > threshold:
            peak = value
    if x >= 1 - s.cooldown_frac:
        w = (1 - x) / s.cooldown_frac
        return peak * w + (1 - w) * s.floor
    return peak


def _stage_host(s: StageCooldown, step: int) -> float:
    i, _ = stage_at(step, s.num_iterations, s.extension)
    lr = s.lr_muls[i] if i < len(s.lr_muls) else 1.0  # the extension's own (unused: t is 1 there)
    cd_start = int(s.num_iterations * (1 - s.cooldown_frac))
    if step >= cd_start:
        denom = s.num_iterations - cd_start  # #72's guard: no cooldown steps, the floor at once
        t = 1.0 if denom <= 0 else min(1.0, (step - cd_start) / denom)
        lr = lr * (1 - t) + s.floor * t
    return lr


def _first_step(n: int, holds) -> int:
    """The first step s in 0..n with `holds(s / n)` in float64 (upstream's comparisons), n + 1
    if none: thresholds compared on the host, so float32 cannot move a boundary."""
    return next((s for s in range(n + 1) if holds(s / n)), n + 1)


def host_multiplier(schedule: Schedule, step: int) -> float:
    """`multiplier` in float64 on the host, as upstream's Python `get_lr` computes it
    (CooldownToFloor records, for #42's float64 Adam step sizes)."""
    if isinstance(schedule, StagedCooldown):
        return _staged_host(schedule, step)
    if isinstance(schedule, StageCooldown):
        return _stage_host(schedule, step)
    if not isinstance(schedule, CooldownToFloor):
        raise TypeError(f"no host form for schedule {schedule!r}")
    x = step / (schedule.steps if schedule.extension_cools else schedule.num_iterations)
    if schedule.extension:
        x = min(0.9999, x)
    w = min((1 - x) / schedule.cooldown_frac, 1.0)
    return w + (1 - w) * schedule.floor


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
    if isinstance(schedule, CooldownToFloor):
        # #18-#25; float32 here, float64 upstream (Python floats): they agree to ~1e-7.
        x = it / (schedule.steps if schedule.extension_cools else schedule.num_iterations)
        if schedule.extension:  # #35 on clamp x below 1 for the steps past num_iterations
            x = jnp.minimum(x, 0.9999)
        w = jnp.minimum((1.0 - x) / schedule.cooldown_frac, 1.0)
        return w + (1.0 - w) * schedule.floor
    if isinstance(schedule, StagedCooldown):
        n = schedule.num_iterations
        peak = jnp.float32(1.0)
        for threshold, value in schedule.peaks:
            peak = jnp.where(it >= _first_step(n, lambda x, t=threshold: x > t), jnp.float32(value), peak)
        w = (1.0 - it / n) / schedule.cooldown_frac
        cooling = it >= _first_step(n, lambda x: x >= 1 - schedule.cooldown_frac)
        out = jnp.where(cooling, peak * w + (1.0 - w) * schedule.floor, peak)
        return jnp.where(it > n, jnp.float32(schedule.floor), out)
    if isinstance(schedule, StageCooldown):
        # #65: upstream's Python floats, tabulated on the host and rounded once
        table = np.asarray([_stage_host(schedule, s) for s in range(schedule.steps + 1)], np.float32)
        return jnp.asarray(table)[jnp.clip(jnp.asarray(step, jnp.int32), 0, schedule.steps)]
    raise TypeError(f"unknown schedule {schedule!r}")


def stage_transitions(schedule: StagedCooldown, stages: int = 3) -> list[int]:
    """The steps where #46-#52's window and batch size change: `int(stages * (step / N))` steps
    up (upstream's `get_ws` / `get_bs`, in float64), and step N, where the extension's final
    window starts. #52's `is_transition`."""
    if not isinstance(schedule, StagedCooldown):
        raise TypeError(f"stage transitions need a StagedCooldown schedule, not {schedule!r}")
    n = schedule.num_iterations
    index = [int(stages * (s / n)) for s in range(n)]
    return [s for s in range(1, n) if index[s] != index[s - 1]] + ([n] if schedule.extension else [])


def frozen_steps(schedule: StagedCooldown, length: int) -> np.ndarray:
    """True at the steps 0..steps within `length` steps from a stage transition (#52)."""
    frozen = np.zeros(schedule.steps + 1, bool)
    for t in stage_transitions(schedule):
        frozen[t:t + length] = True
    return frozen
