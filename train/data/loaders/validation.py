"""Validation batches: every era reads the val shard from its start, unaligned, a contiguous
chunk per rank: rank r at step k gets `val[k*L*W + r*L : +L+1]` (L tokens per rank, W ranks).
From #29 on the chunk also carries `cu_seqlens` (BOS positions in the inputs, padded to
`next_multiple_of_n(L // 300, 128)`) and from #62 the bigram hash.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from train.data.loaders.bigram import bigram_hash
from train.data.loaders.common import BOS_ID, Batch
from train.data.loaders.packed import _cu_seqlens, max_num_docs_formula
from train.data.shards import read_shard


def validation_batches(val_file: os.PathLike | str, local: int, world: int, steps: int, *, documents: bool = False,
                       bigram_modulus: int | None = None, bigram_first_previous: str = "reserved") -> Iterator[Batch]:
    """`steps` batches covering the first `steps * world * local` tokens of the val shard."""
    tokens = read_shard(val_file)
    need = steps * world * local + 1
    if need > len(tokens):
        raise ValueError(f"{val_file}: validation needs {need:,} tokens ({steps} steps x {world} ranks x {local}), "
                         f"the shard has {len(tokens):,}; lower --val-tokens")
    for k in range(steps):
        chunks = [np.asarray(tokens[k * world * local + r * local:][:local + 1], dtype=np.int32) for r in range(world)]
        inputs = np.stack([c[:-1] for c in chunks])
        targets = np.stack([c[1:] for c in chunks])
        cu = None
        if documents:  # the first partial document is its own segment; a BOS at 0 repeats the 0
            cu = np.stack([_cu_seqlens(np.flatnonzero(x == BOS_ID), local, max_num_docs_formula(local)) for x in inputs])
        hashes = None
        if bigram_modulus is not None:
            hashes = np.stack([bigram_hash(x, bigram_modulus, bigram_first_previous) for x in inputs])
        yield Batch(inputs, targets, cu, hashes)
