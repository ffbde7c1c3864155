"""Synthetic FineWeb-like shards for loader parity: documents (BOS + tokens) of mixed lengths,
some longer than any max length, packed into shards as fineweb.py packs them (documents straddle
shard boundaries). Drawn from a seed with `parity.rng`, so the bytes never change."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parity.rng import integers, uniform
from train.data.loaders.common import BOS_ID
from train.data.prepare import fill_shards
from train.data.shards import write_shard


def documents(seed: int, total_tokens: int, mean_len: int, long_len: int) -> list[np.ndarray]:
    """Documents until `total_tokens`: lengths uniform in [1, 2*mean_len], one in 16 uniform in
    [long_len, 2*long_len]; tokens uniform in [0, 50256) after the BOS."""
    docs, count, i = [], 0, 0
    while count < total_tokens:
        u = uniform(seed, f"doc{i}", (2,))
        n = int(long_len + u[1] * long_len) if u[0] < 1 / 16 else int(1 + u[1] * 2 * mean_len)
        body = integers(seed, f"tok{i}", (n,), BOS_ID)
        docs.append(np.concatenate([[BOS_ID], body]).astype(np.uint16))
        count += n + 1
        i += 1
    return docs


def write_split(directory: Path, seed: int, shards: int, shard_tokens: int, mean_len: int, long_len: int,
                name: str = "synth") -> list[Path]:
    """`shards` train shards of `shard_tokens` (+ a val shard before them), like fineweb.py."""
    docs = documents(seed, (shards + 1) * shard_tokens, mean_len, long_len)
    paths = []
    for index, tokens in enumerate(fill_shards(docs, shard_tokens)):
        if index > shards:
            break
        split = "val" if index == 0 else "train"
        paths.append(write_shard(directory / f"{name}_{split}_{index:06d}.bin", tokens))
    return paths
