"""Document packing, records #29-HEAD: whole documents (cut at a max length) fill each rank's
sequence; `cu_seqlens` marks where each starts; batch size and max length can change per step.
"""

from __future__ import annotations

import os
from typing import Callable, Generator, Sequence

import numpy as np

from train.data.loaders.bigram import bigram_hash
from train.data.loaders.common import BOS_ID, Batch, ShardSequence

MaxDocs = Callable[[int], int]


def next_multiple_of(value: int, n: int) -> int:
    return -(-int(value) // n) * n if value > 0 else n


def max_num_docs_formula(local: int) -> int:
    """#29-#77 (and validation always): `next_multiple_of_n(local // 300, n=128)`."""
    return next_multiple_of(local // 300, 128)


def max_num_docs_table(table: dict[int, int]) -> MaxDocs:
    """#78 on: `TRAIN_MAX_NUM_DOCS.get(local, formula)`, e.g. {16384: 64, 32768: 96, 49152: 128}."""
    return lambda local: table.get(local, max_num_docs_formula(local))


class ShardExhausted(Exception):
    """Not enough documents left in this shard for a whole batch."""


class DocumentPacker:
    """Packs the documents of one shard, all ranks at once (`Shard.next_batch` of #65+; `BOSFinder`
    of #29-#64 does the same with the whole index up front, which is what this does)."""

    def __init__(self, tokens: np.ndarray, world: int):
        self.tokens, self.world = tokens, world
        self.bos = np.flatnonzero(np.asarray(tokens) == BOS_ID)
        self.i = 0

    def next_batch(self, local: int, max_seq_len: int) -> list[list[tuple[int, int]]]:
        """Per rank, the (start, end) segments: from the next unused BOS, each segment ends at
        the next BOS, `max_seq_len` tokens, or where the rank reaches `local + 1` tokens, the
        first of these. A truncated document's rest is skipped. Raises `ShardExhausted` (and
        consumes nothing) when the shard runs out of documents."""
        bos, n, size = self.bos, len(self.bos), len(self.tokens)
        idx, out = self.i, []
        for _ in range(self.world):
            segments, filled = [], 0
            while filled <= local:
                if idx >= n:
                    raise ShardExhausted
                start = int(bos[idx])
                idx += 1
                end = min(int(bos[idx]) if idx < n else size, start + max_seq_len, start + local - filled + 1)
                segments.append((start, end))
                filled += end - start
            out.append(segments)
        self.i = idx
        return out


def _cu_seqlens(boundaries: np.ndarray, local: int, max_docs: int) -> np.ndarray:
    """`[0, b1, b2, ..., local, local, ...]` of length `max_docs` (padding = `local`)."""
    if len(boundaries) + 1 > max_docs:
        raise ValueError(f"{len(boundaries)} document boundaries do not fit cu_seqlens of length {max_docs} "
                         "(upstream fails here too: its max_num_docs is a hard cap)")
    out = np.full(max_docs, local, dtype=np.int32)
    out[0] = 0
    out[1:len(boundaries) + 1] = boundaries
    return out


def packed_batches(files: Sequence[os.PathLike | str], num_tokens: int, max_seq_len: int, world: int,
                   max_num_docs: MaxDocs = max_num_docs_formula, bigram_modulus: int | None = None,
                   bigram_first_previous: str = "reserved", grad_accum: int = 1) -> Generator[Batch, object, None]:
    """Records #29-HEAD `distributed_data_generator(..., align_to_bos=True)`.

    Each step packs `num_tokens // world` (+1) tokens per rank (`DocumentPacker`). When the shard
    cannot fill a whole step for every rank, that step is dropped and packing restarts at the
    next shard's first BOS. One pass over the files. `cu_seqlens` holds the cumulative segment
    lengths with the last segment one shorter (its last token is only a target), padded to
    `max_num_docs(local)`. With `bigram_modulus` the batch carries `bigram_hash` of each rank's
    inputs (#62 on).

    Stage changes use the generator protocol as upstream: `gen.send((num_tokens, max_seq_len,
    grad_accum))` returns the next batch built with them (#46 on: `num_tokens` is divided by
    `grad_accum`).
    """
    if num_tokens % (world * grad_accum):
        raise ValueError(f"{num_tokens} tokens are not divisible by {world} ranks x {grad_accum} accumulation steps")
    num_tokens //= grad_accum
    shards = ShardSequence(files, wrap=False)
    tokens = shards.next()
    packer = DocumentPacker(tokens, world)
    while True:
        local = num_tokens // world
        try:
            segments = packer.next_batch(local, max_seq_len)
        except ShardExhausted:
            tokens = shards.next()
            packer = DocumentPacker(tokens, world)
            continue
        docs = max_num_docs(local)
        inputs, targets, cu, hashes = [], [], [], []
        for rank_segments in segments:
            buf = np.concatenate([np.asarray(tokens[s:e], dtype=np.int32) for s, e in rank_segments])
            lengths = np.array([e - s for s, e in rank_segments])
            lengths[-1] -= 1
            inputs.append(buf[:-1])
            targets.append(buf[1:])
            cu.append(_cu_seqlens(np.cumsum(lengths), local, docs))
            if bigram_modulus is not None:
                hashes.append(bigram_hash(buf[:-1], bigram_modulus, bigram_first_previous))
        batch = Batch(np.stack(inputs), np.stack(targets), np.stack(cu),
                      np.stack(hashes) if bigram_modulus is not None else None)
        new = yield batch
        if new is not None:
            new_num_tokens, max_seq_len, new_accum = new
            if new_num_tokens % (world * new_accum):
                raise ValueError(f"{new_num_tokens} tokens are not divisible by {world} ranks x {new_accum}")
            num_tokens = new_num_tokens // new_accum
