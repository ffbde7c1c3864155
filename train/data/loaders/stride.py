"""Contiguous per-rank windows: llm.c's `train_gpt2.py` and records #2-#17 `DistributedDataLoader`.

Rank r's k-th read in a shard is `tokens[r*L + k*L*W : +L+1]` (L = B*T tokens per rank, W
ranks), inputs `[:-1]`, targets `[1:]`. After the read the rank's *own* position (which
includes `r*L`) moves by `L*W` and is tested against the shard size; so on 10^8-token shards
ranks 6-7 switch one read before ranks 0-5 (189 vs 190 reads) and drift ahead by one read per
shard. Files wrap.
"""

from __future__ import annotations

import enum
import os
from typing import Sequence

import numpy as np

from train.data.loaders.common import ShardSequence


class StrideSwitch(enum.Enum):
    """When a rank moves to the next shard, tested after its read at its own position `pos`.

    llm.c and #2-#11 write `pos + L*W + 1 > n`, #12-#14 `pos + L*W >= n`: for integers the same
    test. #15-#17 write `pos + L*W + 1 >= n`, which switches one read earlier when the next
    window would end exactly on the shard's last token.
    """

    GE = "pos + L*W >= n"  # llm.c, #2-#14
    GE_PLUS_1 = "pos + L*W + 1 >= n"  # #15-#17

    def __call__(self, pos: int, span: int, n: int) -> bool:
        return pos + span + (self is StrideSwitch.GE_PLUS_1) >= n


class _Rank:
    def __init__(self, files, local: int, rank: int, world: int):
        self.shards = ShardSequence(files, wrap=True)
        self.local, self.rank, self.world = local, rank, world
        self.reset()

    def reset(self) -> None:
        self.shards.index = -1
        self.tokens = self.shards.next()
        self.pos = self.rank * self.local

    def read(self, switch: StrideSwitch) -> np.ndarray:
        window = np.asarray(self.tokens[self.pos:self.pos + self.local + 1], dtype=np.int32)
        self.pos += self.local * self.world
        if switch(self.pos, self.local * self.world, len(self.tokens)):
            self.tokens = self.shards.next()
            self.pos = self.rank * self.local
        return window


class StrideLoader:
    """All `world` ranks of the stride loader; `next_batch()` -> (inputs, targets), each
    (world, local) int32 (reshape to (world, B, T) for the (B, T) eras)."""

    def __init__(self, files: Sequence[os.PathLike | str], local_tokens: int, world: int, switch: StrideSwitch):
        ShardSequence(files, wrap=True).validate(min_tokens=world * local_tokens + 1)
        self.switch = switch
        self.ranks = [_Rank(files, local_tokens, r, world) for r in range(world)]

    def reset(self) -> None:
        for r in self.ranks:
            r.reset()

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        windows = np.stack([r.read(self.switch) for r in self.ranks])
        return windows[:, :-1], windows[:, 1:]

    @property
    def shard_indices(self) -> list[int]:
        """The shard each rank reads from next (they can differ: see the module docstring)."""
        return [r.shards.index for r in self.ranks]
