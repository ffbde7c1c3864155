"""The `.bin` token shard format of llm.c and modded-nanogpt.

A header of 256 little-endian int32 (1024 bytes): magic 20240520, version 1, token count; then
the tokens as little-endian uint16 (GPT-2 ids, < 65536). history.md §6.1; llm.c
`dev/data/data_common.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MAGIC = 20240520
VERSION = 1
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
TOKEN_DTYPE = np.dtype("<u2")


class ShardError(ValueError):
    """A shard that cannot be read as-is; the message names the file and what is wrong."""

    def __init__(self, path: os.PathLike | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = Path(path), problem


def read_header(path: os.PathLike | str) -> int:
    """Validate a shard's header against its size; return its token count."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw = f.read(HEADER_BYTES)
    except FileNotFoundError:
        raise ShardError(path, "no such file") from None
    except IsADirectoryError:
        raise ShardError(path, "is a directory, not a shard") from None
    if len(raw) < HEADER_BYTES:
        raise ShardError(path, f"truncated header: {len(raw)} of {HEADER_BYTES} bytes "
                               "(an empty or partially downloaded file?)")
    header = np.frombuffer(raw, dtype="<i4")
    if header[0] != MAGIC:
        raise ShardError(path, f"wrong magic number {int(header[0])} (expected {MAGIC}): not a "
                               "GPT-2 token shard (llama-3 shards use 20240801; re-run the download or prepare)")
    if header[1] != VERSION:
        raise ShardError(path, f"unsupported version {int(header[1])} (expected {VERSION})")
    ntok = int(header[2])
    if ntok < 0:
        raise ShardError(path, f"negative token count {ntok} in the header")
    expected = HEADER_BYTES + 2 * ntok
    if size != expected:
        what = "truncated" if size < expected else "has trailing bytes"
        raise ShardError(path, f"{what}: the header says {ntok:,} tokens ({expected:,} bytes) but the "
                               f"file has {size:,} bytes; delete it and download or prepare it again")
    return ntok


def read_shard(path: os.PathLike | str, mmap: bool = True) -> np.ndarray:
    """The shard's tokens as a read-only uint16 array, memory-mapped (validated first)."""
    ntok = read_header(path)
    if mmap:
        if ntok == 0:
            return np.zeros(0, TOKEN_DTYPE)
        return np.memmap(path, dtype=TOKEN_DTYPE, mode="r", offset=HEADER_BYTES, shape=(ntok,))
    with open(path, "rb") as f:
        f.seek(HEADER_BYTES)
        return np.frombuffer(f.read(2 * ntok), dtype=TOKEN_DTYPE)


def write_shard(path: os.PathLike | str, tokens) -> Path:
    """Write tokens (ints in [0, 65536)) as a shard, atomically (temp file, then rename)."""
    path = Path(path)
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= 2**16):
        raise ValueError(f"token ids must lie in [0, 65536) for uint16 shards: got {tokens.min()}..{tokens.max()}")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:3] = (MAGIC, VERSION, tokens.size)
    os.makedirs(path.parent, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.astype(TOKEN_DTYPE).tobytes())
    tmp.replace(path)
    return path


def shard_files(directory: os.PathLike | str, split: str) -> list[Path]:
    """`*_<split>_*.bin` in `directory`, sorted by name as upstream's `sorted(glob(...))`."""
    return sorted(Path(directory).glob(f"*_{split}_*.bin"))
