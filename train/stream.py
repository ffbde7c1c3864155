"""A record's training and validation data as global batches (every rank of the record run,
stacked), from the loader of its era."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jnano import hparams as hp
from train.data.loaders import (GlobalBatchLoader, StrideLoader, StrideSwitch, bos_aligned_batches, max_num_docs_formula,
                                max_num_docs_table, packed_batches,
                                sequential_batches, validation_batches)
from train.data.sample import SAMPLE_DIR
from train.data.shards import shard_files

FINEWEB_HELP = """\
no training data: {reason}.
  FineWeb (what the records train on):  python -m train.data fineweb --train-shards 9 --dir data/fineweb10B
                                        then: --data data/fineweb10B
  your own text:                        python -m train.data prepare --input FILE --out DIR, then --data DIR
  or try the smoke run on the shipped Shakespeare sample:  python -m train --preset smoke"""


class DataMissing(FileNotFoundError):
    pass


def locate(data: Path | None, use_sample: bool) -> tuple[list[Path], Path]:
    """(train shards, val shard) of `data` (or of the shipped sample)."""
    directory = SAMPLE_DIR if data is None and use_sample else data
    if directory is None:
        raise DataMissing(FINEWEB_HELP.format(reason="pass --data DIR"))
    directory = Path(directory)
    if not directory.is_dir():
        raise DataMissing(FINEWEB_HELP.format(reason=f"{directory} is not a directory"))
    train, val = shard_files(directory, "train"), shard_files(directory, "val")
    if not train or not val:
        missing = "no *_train_*.bin" if not train else "no *_val_*.bin"
        raise DataMissing(FINEWEB_HELP.format(reason=f"{directory} has {missing} shards"))
    return train, val[0]


class TrainStream:
    """Global batches `(inputs, targets)`, each (world * device_batch, seq_len) int32, in the
    order the record's 8 GPUs consumed them. `position` counts batches handed out, so a resumed
    run replays the loader to where it stopped (`skip`)."""

    def __init__(self, training: hp.Training, files: list[Path], scheduled: int | None = None):
        """`scheduled`: the steps the batch stages divide (#46 on: the lr schedule's
        `num_iterations`, its extension excluded); unused without `training.batch_stages`."""
        spec = training.data
        self.training = training
        self.stages, self.scheduled = training.batch_stages, scheduled
        if self.stages is not None and scheduled is None:
            raise ValueError("a run with batch stages needs the number of scheduled steps")
        self._tokens = training.batch_tokens
        local = training.device_batch * training.seq_len
        self.first_batch_twice = False
        if isinstance(spec, hp.StrideData):
            switch = {"ge": StrideSwitch.GE, "ge_plus_1": StrideSwitch.GE_PLUS_1}[spec.switch]
            loader = StrideLoader(files, local, training.world, switch)
            self._next, self._reset = loader.next_batch, loader.reset
            self.first_batch_twice = spec.first_batch_twice
        elif isinstance(spec, hp.GlobalData):
            loader = GlobalBatchLoader(files, training.world)
            self._next, self._reset = (lambda: loader.next_batch(training.batch_tokens)), loader.reset
        elif isinstance(spec, hp.SequentialData):
            batches = sequential_batches(files, training.batch_tokens, training.world)
            self._next, self._reset = (lambda: next(batches)), None
        elif isinstance(spec, hp.BosAlignedData):
            batches = bos_aligned_batches(files, local, training.world)
            self._next, self._reset = (lambda: next(batches)), None
        elif isinstance(spec, hp.PackedData):
            # the model reads the documents off the BOS tokens (jnano.nn.masks): cu_seqlens stays here
            docs = max_num_docs_table(dict(spec.max_num_docs)) if spec.max_num_docs else max_num_docs_formula
            packed = packed_batches(files, training.batch_tokens, spec.max_seq_len, training.world, max_num_docs=docs)
            self._max_seq_len = spec.max_seq_len

            def next_packed():
                tokens, cut = self.tokens_at(self.position), self.max_seq_len_at(self.position)
                # upstream's loop: `send((tokens, max_seq_len, grad_accum))` when the stage changes
                same = (tokens, cut) == (self._tokens, self._max_seq_len)
                b = next(packed) if same else packed.send((tokens, cut, 1))
                self._tokens, self._max_seq_len = tokens, cut
                return b.inputs, b.targets

            self._next, self._reset = next_packed, None
        else:
            raise NotImplementedError(f"no training stream for data spec {spec!r}")
        self.position = 0

    def tokens_at(self, step: int) -> int:
        """Global tokens of the batch of `step` (#46 on: by its batch stage)."""
        if self.stages is None:
            return self.training.batch_tokens
        return self.stages.tokens(step, self.scheduled)

    def max_seq_len_at(self, step: int) -> int:
        """Where packed documents are cut at `step` (#72 on: by its batch stage)."""
        first = self.training.data.max_seq_len
        return first if self.stages is None else self.stages.max_seq_len(step, self.scheduled, first)

    def _read(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self.training.world * self.training.device_batch
        x, y = self._next()
        shape = (rows, x.size // rows)
        return x.reshape(shape), y.reshape(shape)

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        if self.first_batch_twice and self.position == 0:
            batch = self._read()
            self._reset()  # #4-#11: the prefetched batch, then a reset before the loop
        else:
            batch = self._read()
        self.position += 1
        return batch

    def skip(self, n: int) -> None:
        for _ in range(n):
            self.next()


def validation(training: hp.Training, val_file: Path, steps: int):
    """The val batches as (inputs, targets) pairs, each (world * device_batch, val_seq_len)."""
    seq = training.val_seq_len or training.seq_len
    local = training.device_batch * seq
    shape = (training.world * training.device_batch, seq)
    for b in validation_batches(val_file, local, training.world, steps):
        yield b.inputs.reshape(shape), b.targets.reshape(shape)
