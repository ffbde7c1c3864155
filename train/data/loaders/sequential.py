"""Global-position loaders of records #18-#28: the whole 8-rank batch moves through a shard as
one, each rank taking its slice.
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np

from train.data.loaders.common import BOS_ID, ShardSequence


def _split(windows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    w = np.stack([np.asarray(x, dtype=np.int32) for x in windows])
    return w[:, :-1], w[:, 1:]


class GlobalBatchLoader:
    """Record #18 `DistributedDataLoader(pattern).next_batch(batch_size)`: before each read, if
    `pos + batch + 1 >= n` move to the next shard (wrapping) at 0; rank r reads
    `tokens[pos + r*local : +local+1]`; `pos += batch`."""

    def __init__(self, files: Sequence[os.PathLike | str], world: int):
        self.shards = ShardSequence(files, wrap=True)
        self.world = world
        self.reset()

    def reset(self) -> None:
        self.shards.index = -1
        self.tokens, self.pos = self.shards.next(), 0

    def next_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        if batch_size % self.world:
            raise ValueError(f"batch size {batch_size} is not divisible by {self.world} ranks")
        local = batch_size // self.world
        if self.pos + batch_size + 1 >= len(self.tokens):
            self.tokens, self.pos = self.shards.next(), 0
        windows = [self.tokens[self.pos + r * local:][:local + 1] for r in range(self.world)]
        self.pos += batch_size
        return _split(windows)


def sequential_batches(files: Sequence[os.PathLike | str], batch_size: int, world: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Records #19-#25 `distributed_data_generator`: as #18 but one pass over the files (the
    next shard is needed when `pos + batch + 1 >= n`); `DataExhausted` after the last one."""
    if batch_size % world:
        raise ValueError(f"batch size {batch_size} is not divisible by {world} ranks")
    local = batch_size // world
    shards = ShardSequence(files, wrap=False)
    tokens, pos = shards.next(), 0
    while True:
        if len(tokens) <= pos + batch_size + 1:  # not enough left for every rank's window + 1
            tokens, pos = shards.next(), 0
        yield _split([tokens[pos + r * local:][:local + 1] for r in range(world)])
        pos += batch_size


def find_batch_starts(tokens: np.ndarray, pos: int, local: int, window: int, world: int) -> tuple[list[int], int]:
    """Record #26's greedy chain: rank 0 starts at the first BOS at or after `pos`; each next
    rank at the first BOS at least `local` tokens after the previous start; the BOS after the
    last rank's start + local ends the batch. Returns (starts, tokens consumed from `pos`).
    Only BOS inside `tokens[pos : pos + window]` are seen."""
    bos = np.flatnonzero(np.asarray(tokens[pos:pos + window]) == BOS_ID) + pos
    if len(bos) == 0:
        raise ValueError(f"no BOS token in the {window}-token window at {pos}: is this GPT-2 FineWeb data?")
    starts, start = [], int(bos[0])
    for end in bos[1:]:
        if end - start >= local:
            starts.append(start)
            if len(starts) == world:
                return starts, int(end) - pos
            start = int(end)
    raise ValueError(f"fewer than {world} document starts {local} tokens apart in the {window}-token "
                     f"window at {pos} (upstream asserts here too)")


def bos_aligned_batches(files: Sequence[os.PathLike | str], local: int, world: int,
                        grad_accum: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Records #26-#28: every rank's `local+1`-token window starts at a document's BOS.

    Per outer step the search window is `grad_accum * 2 * world * local` tokens (#27's
    `token_window`; #26 is grad_accum = 1); if `pos + window + 1 >= n` the next shard starts at
    0. Each micro-step finds `world` starts in the remaining window, and `pos` moves to the BOS
    that ends the last rank's window. One pass over the files.
    """
    shards = ShardSequence(files, wrap=False)
    tokens, pos = shards.next(), 0
    batch = local * world
    while True:
        window = grad_accum * 2 * batch
        if pos + window + 1 >= len(tokens):
            tokens, pos = shards.next(), 0
        for _ in range(grad_accum):
            starts, consumed = find_batch_starts(tokens, pos, local, window, world)
            yield _split([tokens[s:][:local + 1] for s in starts])
            pos += consumed
            window -= consumed
