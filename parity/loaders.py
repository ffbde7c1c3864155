"""Loader parity: every batch-sampling era against upstream's own loader code, on synthetic
shards, all 8 ranks, byte for byte.

    python -m parity.loaders                                   # against the committed goldens
    python -m parity.loaders --upstream ~/src/modded-nanogpt   # live, upstream's code on the CPU
    python -m parity.loaders --upstream ... --write-goldens    # regenerate parity/goldens/loaders.json

Each case names the upstream record whose loader code it runs (the records where the loader's
behaviour changed: loaders research, docs/NOTES.md) and the loader of ours that reproduces it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from parity.synthetic_data import write_split
from ref.shims import quiet
from train.data import loaders as L

WORLD = 8
GOLDENS = Path(__file__).parent / "goldens" / "loaders.json"
# Two synthetic datasets (train shards + a val shard): small odd-sized shards for the stride
# eras (ranks switch shards at different reads), larger document shards for BOS/packing.
DATASETS = {
    # 28,673 = 7*4096 + 1: rank 0's 7th window ends on the last token, where #15's `+1 >=`
    # switches a read earlier than #2-#14
    "stride": dict(seed=11, shards=3, shard_tokens=28_673, mean_len=300, long_len=1500),
    "docs": dict(seed=12, shards=4, shard_tokens=400_000, mean_len=600, long_len=3000),
    "short_docs": dict(seed=13, shards=3, shard_tokens=60_000, mean_len=200, long_len=400),
    "long": dict(seed=14, shards=4, shard_tokens=1_500_000, mean_len=600, long_len=3000),
}
STRIDE_B, STRIDE_T = 2, 256  # 512 tokens per rank per step
LOCAL, MAX_LEN = 2048, 512  # packed eras: tokens per rank, max document length
HEAD_TABLE = {16384: 64, 32768: 96, 49152: 128}


@dataclass(frozen=True)
class Case:
    name: str
    record: str  # upstream record whose loader code runs
    dataset: str
    steps: int
    theirs: Callable  # (module, pattern, rank) -> iterator of tuples of arrays (one rank)
    ours: Callable  # (files) -> iterator of L.Batch (all ranks)
    sends: dict = field(default_factory=dict)  # step -> send tuple, applied to both


def _stride(switch, flat: bool, ctor):
    def theirs(m, pattern, rank):
        loader = ctor(m, pattern, rank)
        while True:
            yield loader.next_batch()

    def ours(files):
        loader = L.StrideLoader(files, STRIDE_B * STRIDE_T, WORLD, switch)
        while True:
            x, y = loader.next_batch()
            shape = (WORLD, -1) if flat else (WORLD, STRIDE_B, STRIDE_T)
            yield L.Batch(x.reshape(shape), y.reshape(shape))
    return theirs, ours


def _global18():
    def theirs(m, pattern, rank):
        loader = m.DistributedDataLoader(pattern)
        while True:
            yield loader.next_batch(WORLD * STRIDE_T)

    def ours(files):
        loader = L.GlobalBatchLoader(files, WORLD)
        while True:
            yield L.Batch(*loader.next_batch(WORLD * STRIDE_T))
    return theirs, ours


def _sequential():
    def theirs(m, pattern, rank):
        return m.distributed_data_generator(pattern, WORLD * STRIDE_T, rank, WORLD)

    def ours(files):
        for x, y in L.sequential_batches(files, WORLD * STRIDE_T, WORLD):
            yield L.Batch(x, y)
    return theirs, ours


def _bos(call):
    def ours(files):
        for x, y in L.bos_aligned_batches(files, STRIDE_B * STRIDE_T, WORLD):
            yield L.Batch(x, y)
    return call, ours


def _packed(max_docs=L.max_num_docs_formula, modulus=None, local=LOCAL, max_len=MAX_LEN):
    def theirs(m, pattern, rank):
        return m.distributed_data_generator(pattern, WORLD * local, max_len, grad_accum_steps=1)

    def ours(files):
        return L.packed_batches(files, WORLD * local, max_len, WORLD, max_docs, modulus)
    return theirs, ours


def _validation(documents=True, modulus=None, local=LOCAL, steps=5):
    def theirs(m, pattern, rank):
        return m.distributed_data_generator(pattern, WORLD * local, -1, grad_accum_steps=1, align_to_bos=False)

    def ours(files):
        return L.validation_batches(files[0], local, WORLD, steps, documents=documents, bigram_modulus=modulus)
    return theirs, ours


M62, M_HEAD = 50304 * 5 - 1, 50304 * 15 // 2 - 1
SENDS_46 = {8: (WORLD * 1024, MAX_LEN, 1), 16: (WORLD * 4096, 256, 1)}

CASES = [
    Case("stride, llm.c train_gpt2.py", "1", "stride", 30, *_stride(
        L.StrideSwitch.GE, False, lambda m, p, r: m.DistributedDataLoader(p, STRIDE_B, STRIDE_T, r, WORLD))),
    Case("stride, #2", "2", "stride", 30, *_stride(
        L.StrideSwitch.GE, False, lambda m, p, r: m.DistributedDataLoader(p, STRIDE_B, STRIDE_T, r, WORLD))),
    Case("stride, #4-#11", "4", "stride", 30, *_stride(
        L.StrideSwitch.GE, False, lambda m, p, r: m.DistributedDataLoader(p, STRIDE_B, STRIDE_T, r, WORLD))),
    Case("stride >=, #12-#13", "12", "stride", 30, *_stride(
        L.StrideSwitch.GE, True, lambda m, p, r: m.DistributedDataLoader(p, 1, STRIDE_B * STRIDE_T, r, WORLD))),
    Case("stride >=, #14", "14", "stride", 30, *_stride(
        L.StrideSwitch.GE, True, lambda m, p, r: m.DistributedDataLoader(p, STRIDE_B * STRIDE_T, r, WORLD))),
    Case("stride +1 >=, #15-#17", "15", "stride", 30, *_stride(
        L.StrideSwitch.GE_PLUS_1, True, lambda m, p, r: m.DistributedDataLoader(p, STRIDE_B * STRIDE_T, r, WORLD))),
    Case("global position, #18", "18", "stride", 30, *_global18()),
    Case("generator, #19-#20", "19", "stride", 18, *_sequential()),
    Case("generator, #21c-#25", "21c", "stride", 18, *_sequential()),
    Case("BOS-aligned, #26", "26", "short_docs", 30, *_bos(
        lambda m, p, r: m.distributed_data_generator(p, WORLD * STRIDE_B * STRIDE_T, align_to_bos=True))),
    Case("BOS-aligned, #27-#28", "27", "short_docs", 30, *_bos(
        lambda m, p, r: m.distributed_data_generator(p, STRIDE_B * STRIDE_T, 1, align_to_bos=True))),
    Case("packed, #29-#32", "29", "docs", 40, *_packed()),
    Case("validation, #29-#61", "29", "docs", 5, *_validation()),
    Case("packed + async index, #33-#45", "33", "docs", 40, *_packed()),
    Case("packed + send(), #46-#61", "46", "docs", 24, *_packed(), sends=SENDS_46),
    Case("packed + bigram, #62-#64", "62", "docs", 24, *_packed(modulus=M62), sends=SENDS_46),
    Case("validation + bigram, #62-#85", "62", "docs", 5, *_validation(modulus=M62)),
    Case("Shard, #65-#70", "65", "docs", 24, *_packed(modulus=M62), sends=SENDS_46),
    Case("GPU bigram (loader has none), #68/#73", "68", "docs", 24, *_packed(), sends=SENDS_46),
    Case("pinned bigram + numpy view, #71-#77", "71", "docs", 24, *_packed(modulus=M62), sends=SENDS_46),
    Case("TRAIN_MAX_NUM_DOCS, #78-#89", "78", "long", 10, *_packed(L.max_num_docs_table(HEAD_TABLE), M62, 16384, 2048),
         sends={3: (WORLD * 32768, 2048, 1), 6: (WORLD * 16384, 896, 1)}),
    Case("HEAD", "head", "long", 10, *_packed(L.max_num_docs_table(HEAD_TABLE), M_HEAD, 16384, 896),
         sends={3: (WORLD * 32768, 2048, 1), 6: (WORLD * 16384, 896, 1)}),
    Case("validation, HEAD", "head", "docs", 5, *_validation(modulus=M_HEAD)),
]


def case_by_name(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


@contextlib.contextmanager
def synthetic_data():
    """Both datasets in a temporary directory (cwd set there: #15-#21 glob relative to cwd)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in DATASETS.items():
            write_split(Path(tmp) / name, **spec)
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(cwd)


def _split_of(case: Case) -> str:
    return "val" if case.name.startswith("validation") else "train"


def _files(root: Path, case: Case) -> list[Path]:
    return sorted((root / case.dataset).glob(f"synth_{_split_of(case)}_*.bin"))


def _step_stream(gen, sends: dict, steps: int):
    """Drive a generator/iterator as upstream's trainer does: next() at step 0, send() after."""
    out = []
    for step in range(steps):
        if step == 0 or not hasattr(gen, "send"):
            item = next(gen)
        else:
            item = gen.send(sends.get(step))
        out.append(item)
    return out


def ours_stream(case: Case, root: Path) -> list[list[np.ndarray]]:
    """Per step, the arrays of all ranks as [inputs, targets, (cu_seqlens), (bigram)]."""
    batches = _step_stream(case.ours(_files(root, case)), case.sends, case.steps)
    return [list(b.fields().values()) for b in batches]


def theirs_stream(case: Case, root: Path, reference) -> list[list[np.ndarray]]:
    """Upstream's loader run once per rank; fields stacked over ranks like ours."""
    pattern = f"{case.dataset}/synth_{_split_of(case)}_*.bin"
    per_rank = []
    for rank in range(WORLD):
        with reference.as_rank(rank), quiet():
            items = _step_stream(case.theirs(reference.module, pattern, rank), case.sends, case.steps)
            per_rank.append([[np.asarray(t.cpu().numpy() if hasattr(t, "cpu") else t) for t in item] for item in items])
    steps = []
    for s in range(case.steps):
        fields = per_rank[0][s]
        if len(fields) == 5:  # #71+: the 5th is a numpy view of the 4th (the bigram hash)
            assert all(np.array_equal(r[s][3], r[s][4]) for r in per_rank)
            fields = fields[:4]
        steps.append([np.stack([per_rank[r][s][i] for r in range(WORLD)]) for i in range(len(fields))])
    return steps


def digest(stream: list[list[np.ndarray]]) -> list[str]:
    """sha256 per step over every field's values (int64, C order): equal values, equal digest."""
    out = []
    for fields in stream:
        h = hashlib.sha256()
        for f in fields:
            h.update(str(f.shape).encode())
            h.update(np.ascontiguousarray(f, dtype=np.int64).tobytes())
        out.append(h.hexdigest())
    return out


def compare_live(case: Case, root: Path, reference) -> str | None:
    """None if equal at every step; else where the first difference is."""
    ours, theirs = ours_stream(case, root), theirs_stream(case, root, reference)
    for s, (a, b) in enumerate(zip(ours, theirs)):
        if len(a) != len(b):
            return f"step {s}: {len(a)} fields vs upstream's {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if x.shape != y.shape or not np.array_equal(x, y):
                bad = "shape" if x.shape != y.shape else f"{int((x != y).sum())} values"
                return f"step {s}, field {i}: {bad} differ"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity.loaders", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", action="append", metavar="PATH",
                        help="modded-nanogpt checkout (with history) and/or llm.c checkout; repeatable")
    parser.add_argument("--write-goldens", action="store_true", help=f"(with --upstream) rewrite {GOLDENS.name}")
    parser.add_argument("--case", action="append", help="run only these cases (by name)")
    args = parser.parse_args(argv)

    import ref
    import ref.data

    cases = [c for c in CASES if not args.case or c.name in args.case]
    goldens = json.loads(GOLDENS.read_text()) if GOLDENS.is_file() else {}
    new_goldens, failures = {}, 0
    with synthetic_data() as root:
        for case in cases:
            if args.upstream:
                reference = None
                for p in args.upstream:
                    with contextlib.suppress(ref.SourceError):
                        reference = ref.data.load(case.record, Path(p).expanduser().resolve())
                        break
                if reference is None:
                    print(f"{case.name:<42} SKIP  no --upstream path holds record {case.record}'s code")
                    continue
                problem = compare_live(case, root, reference)
                new_goldens[case.name] = {"record": case.record, "steps": digest(theirs_stream(case, root, reference))}
                mode = "live"
            else:
                if case.name not in goldens:
                    print(f"{case.name:<42} SKIP  no golden (generate with --upstream ... --write-goldens)")
                    continue
                got = digest(ours_stream(case, root))
                want = goldens[case.name]["steps"]
                bad = [s for s, (a, b) in enumerate(zip(got, want)) if a != b]
                problem = f"step {bad[0]} differs from upstream's golden" if bad or len(got) != len(want) else None
                mode = "golden"
            failures += problem is not None
            print(f"{case.name:<42} {'ok' if problem is None else 'FAIL'}  #{case.record}, {case.steps} steps x "
                  f"{WORLD} ranks ({mode})" + (f": {problem}" if problem else ""), flush=True)
    if args.write_goldens:
        if not args.upstream:
            parser.error("--write-goldens needs --upstream")
        spec = {"datasets": DATASETS, "world": WORLD}
        GOLDENS.write_text(json.dumps({"spec": spec, **goldens, **new_goldens}, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDENS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
