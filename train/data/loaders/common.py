"""What the loaders share: the shard sequence, the batch container, the end-of-data error."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from train.data.shards import read_header, read_shard

BOS_ID = 50256  # GPT-2's <|endoftext|>, which fineweb.py puts at the start of every document


class DataExhausted(RuntimeError):
    """The run needs more training shards than the directory holds."""


@dataclass
class Batch:
    """One optimizer step's data for every rank: arrays are (world, local_tokens) (or
    (world, B, T) for the early eras). `cu_seqlens` (world, max_num_docs) and `bigram` (world,
    local) exist from #29 / #62 on."""

    inputs: np.ndarray
    targets: np.ndarray
    cu_seqlens: np.ndarray | None = None
    bigram: np.ndarray | None = None

    def fields(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in vars(self).items() if v is not None}


class ShardSequence:
    """The shards of a split in `sorted(glob)` order, read on demand.

    `wrap=True` cycles through the files (#2-#18 use `(shard + 1) % len(files)`); `wrap=False`
    makes one pass (#19 on) and raises `DataExhausted` when it needs one more.
    """

    def __init__(self, files: Sequence[os.PathLike | str], wrap: bool):
        self.files = [Path(f) for f in files]
        if not self.files:
            raise FileNotFoundError("no shard files given")
        self.wrap = wrap
        self.index = -1

    def validate(self, min_tokens: int = 0) -> None:
        """Check every header up front (#2-#17 peek all files and assert a minimum size)."""
        for f in self.files:
            n = read_header(f)
            if n < min_tokens:
                raise ValueError(f"{f}: {n:,} tokens, fewer than one step needs ({min_tokens:,})")

    def next(self) -> np.ndarray:
        if self.index + 1 >= len(self.files) and not self.wrap:
            raise DataExhausted(
                f"used all {len(self.files)} training shard(s) ({self.files[0].parent}); this record "
                "needs more: download more with `python -m train.data fineweb --train-shards N`"
            )
        self.index = (self.index + 1) % len(self.files)
        return read_shard(self.files[self.index])
