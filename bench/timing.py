"""Repeated timing with warmup: median and spread of wall-clock seconds."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Timing:
    median_s: float
    p10_s: float
    p90_s: float
    reps: int

    def as_json(self) -> dict:
        return {"median_s": self.median_s, "p10_s": self.p10_s, "p90_s": self.p90_s, "reps": self.reps}


def time_fn(fn: Callable[[], object], warmup: int, reps: int) -> Timing:
    """`fn` must block until its work is done (e.g. `jax.block_until_ready`)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    q = lambda f: samples[min(len(samples) - 1, int(f * (len(samples) - 1) + 0.5))]  # noqa: E731
    return Timing(statistics.median(samples), q(0.1), q(0.9), reps)
