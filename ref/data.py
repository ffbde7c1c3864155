"""Upstream's data loaders on the CPU: a record's loader definitions, with stand-ins for pinned
memory, CUDA copies and `torch.distributed` (one process plays every rank in turn).

    up = ref.data.load(62, "~/src/modded-nanogpt")
    with up.as_rank(3):
        gen = up.module.distributed_data_generator(pattern, 8 * 16384, 2048)
        inputs, targets, cu_seqlens, bigram = next(gen)
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import torch

from ref.extract import execute
from ref.manifest import Entry, entry_for
from ref.shims import DistStub
from ref.source import Source, locate

# What a record's data pipeline is made of, across all eras (history.md §6, loaders research).
LOADER_NAMES = {
    "_peek_data_shard", "_load_data_shard", "DistributedDataLoader", "distributed_data_generator",
    "find_batch_starts", "BOSFinder", "DataPreloader", "Shard", "get_bigram_hash", "next_multiple_of_n",
    "BOS_ID", "TRAIN_MAX_NUM_DOCS", "Hyperparameters", "args", "print0",
}


def _on_cpu(device):
    return "cpu" if device is not None and "cuda" in str(device) else device


@contextlib.contextmanager
def cpu_tensors() -> Iterator[None]:
    """Pinned host buffers become plain ones and `.to("cuda")` / `.cuda()` stay on the CPU.

    Loaders from #15 on read shards into `torch.empty(..., pin_memory=True)` and copy batches to
    the GPU with `.to(device="cuda", dtype=..., non_blocking=True)`; on a CPU-only torch both
    fail. The values are the same either way.
    """
    empty, empty_like, to, cuda = torch.empty, torch.empty_like, torch.Tensor.to, torch.Tensor.cuda

    def no_pin(fn):
        def wrapped(*args, **kwargs):
            kwargs.pop("pin_memory", None)
            return fn(*args, **kwargs)
        return wrapped

    def to_cpu(self, *args, **kwargs):
        if "device" in kwargs:
            kwargs["device"] = _on_cpu(kwargs["device"])
        args = tuple(_on_cpu(a) if isinstance(a, (str, torch.device)) else a for a in args)
        return to(self, *args, **kwargs)

    torch.empty, torch.empty_like = no_pin(empty), no_pin(empty_like)
    torch.Tensor.to, torch.Tensor.cuda = to_cpu, lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.empty, torch.empty_like, torch.Tensor.to, torch.Tensor.cuda = empty, empty_like, to, cuda


@dataclass
class DataReference:
    record: str
    entry: Entry
    source: Source
    module: object
    dist: DistStub

    @contextlib.contextmanager
    def as_rank(self, rank: int) -> Iterator[None]:
        """Run upstream loader code as `rank` (dist stub and RANK/WORLD_SIZE, which #18 reads)."""
        saved = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE")}
        self.dist.rank = rank
        os.environ["RANK"], os.environ["WORLD_SIZE"] = str(rank), str(self.dist.world_size)
        try:
            with cpu_tensors():
                yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def load(record: str | int, path: str | os.PathLike, world_size: int = 8) -> DataReference:
    """Record `record`'s data loader definitions from `path` (checkout or record file)."""
    entry = entry_for(record)
    source = locate(entry.record, path)
    module = execute(source.main, source.origin, namespace={}, only=LOADER_NAMES)
    dist = DistStub(world_size)
    module.dist = dist
    return DataReference(entry.record, entry, source, module, dist)
