"""Tokenize your own text into shards, the way upstream's `data/fineweb.py` fills them.

Every document becomes `[<|endoftext|>] + encode_ordinary(text)` (uint16). Shards are filled to
`shard_size` tokens in document order; a document that does not fit is split, its remainder
opening the next shard; the first shard is validation (`<name>_val_000000.bin`), the rest train
(`<name>_train_000001.bin`, ...); the last shard holds what is left. As in fineweb.py, a document
that lands exactly on the boundary closes the shard.

Inputs: a `.txt` file (one document), a `.jsonl` file (one document per line, its "text"
field), or a directory of those (files in sorted order).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from train.data.shards import write_shard
from train.data.tokenizer import encode_document


class PrepareError(ValueError):
    pass


def documents(inputs: Iterable[os.PathLike | str]) -> Iterator[tuple[str, str]]:
    """(where, text) for each document in the inputs, in order."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".txt", ".jsonl") and p.is_file())
            if not files:
                raise PrepareError(f"{path}: no .txt or .jsonl files in this directory")
            yield from documents(files)
        elif not path.is_file():
            raise PrepareError(f"{path}: no such file or directory")
        elif path.suffix == ".jsonl":
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        text = json.loads(line)["text"]
                    except (json.JSONDecodeError, KeyError, TypeError):
                        raise PrepareError(f"{path}:{n}: each line must be a JSON object with a \"text\" field") from None
                    yield f"{path}:{n}", text
        else:
            yield str(path), path.read_text(encoding="utf-8")


def fill_shards(token_docs: Iterable[np.ndarray], shard_size: int) -> Iterator[np.ndarray]:
    """fineweb.py's shard filling: yield full shards of `shard_size`, then the remainder."""
    if shard_size <= 0:
        raise PrepareError(f"shard size must be positive, got {shard_size}")
    buffer = np.empty(shard_size, dtype=np.uint16)
    count = 0
    for tokens in token_docs:
        while count + len(tokens) >= shard_size:  # fineweb.py: `< shard_size` appends, else splits
            take = shard_size - count
            buffer[count:] = tokens[:take]
            yield buffer.copy()
            tokens, count = tokens[take:], 0
        buffer[count:count + len(tokens)] = tokens
        count += len(tokens)
    if count:
        yield buffer[:count].copy()


def prepare(inputs: Iterable[os.PathLike | str], out: os.PathLike | str, shard_size: int = 10**8,
            name: str = "data", progress: bool = True) -> list[Path]:
    """Tokenize `inputs` into `out/<name>_{val,train}_NNNNNN.bin`; return the files written."""
    out = Path(out)
    tokenized = (np.asarray(encode_document(text), dtype=np.uint16) for _, text in documents(inputs))
    if progress:
        from tqdm.auto import tqdm

        tokenized = tqdm(tokenized, unit="doc", desc="tokenizing")
    written = []
    for index, shard in enumerate(fill_shards(tokenized, shard_size)):
        split = "val" if index == 0 else "train"
        written.append(write_shard(out / f"{name}_{split}_{index:06d}.bin", shard))
    if not written:
        raise PrepareError("the inputs hold no documents")
    return written
