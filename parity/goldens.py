"""Goldens: upstream's results for every record at the CI shape, committed as small JSON files.

    python -m parity.goldens --upstream ~/src/modded-nanogpt --upstream ~/src/llm.c
    python -m parity.goldens --upstream ... --check     # regenerate in memory, compare bytes

A golden holds no upstream code, weights or inputs: the seed draws those again. It holds each
result of `parity.sides.torch_results` (scalars and loss curves as numbers, tensors as
`parity.fingerprint` summaries) and the manifest entry of the code that produced it.
Regeneration is byte-identical: torch runs single-threaded with fixed inputs, and floats are
written with Python's round-tripping repr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from jnano import records
from parity import run
from parity.fingerprint import FORMAT, READABLE, fingerprint

DIR = Path(__file__).parent / "goldens"

# Records whose change is outside the function (systems only): their golden from their own
# upstream file equals the named predecessor's, so CI checks that equality and the predecessor's
# golden instead of running the same computation twice. `python -m parity` still runs them.
# #44 moves Adam's reduce-scatters into backward hooks; #66 re-times #65's code under torch 2.10;
# #71 exchanges #69's bigram gradient sparsely between GPUs; #75 re-blocks #74's loss kernel and
# #76 re-tiles its transpose kernels (their goldens are #74's, number for number)
SYSTEMS_ONLY = {"44": "43", "66": "65", "71": "69", "75": "74", "76": "74"}


def path_for(record: str) -> Path:
    return DIR / f"record_{record}.json"


def _summarise(results: dict) -> dict:
    out = {}
    for key in sorted(results):
        value = np.asarray(results[key], np.float64)
        if value.ndim == 0:
            out[key] = float(value)
        elif key == "trajectory":
            out[key] = [float(v) for v in value]
        else:
            out[key] = fingerprint(key, value)
    return out


def generate(record: str, reference, seed: int = run.GOLDEN_SEED, size: str = "small") -> dict:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one summation order: the same bytes on every regeneration
    try:
        inp = run.inputs(record, seed, size)
        results = {p: _summarise(run.theirs(reference, record, inp, p)) for p in run.precisions(record)}
    finally:
        torch.set_num_threads(threads)
    e = reference.entry
    return {
        "record": record,
        "seed": seed,
        "size": size,
        "shape": inp.shape,
        "upstream": {"repo": e.repo, "commit": e.commit, "path": e.path, "sha256": e.sha256},
        "torch": torch.__version__,
        "fingerprint": FORMAT,
        "results": results,
    }


def dumps(golden: dict) -> str:
    return json.dumps(golden, indent=1, sort_keys=True) + "\n"


def load(record: str) -> dict:
    path = path_for(record)
    if not path.is_file():
        raise FileNotFoundError(
            f"no golden for record {record} ({path}); generate it with "
            f"`python -m parity.goldens --upstream PATH --record {record}`"
        )
    golden = json.loads(path.read_text())
    if golden.get("fingerprint", 1) not in READABLE:
        raise ValueError(
            f"{path} holds fingerprints of format {golden.get('fingerprint', 1)}, this code reads formats "
            f"{READABLE}; regenerate it with `python -m parity.goldens --upstream PATH --record {record}`"
        )
    return golden


def main(argv: list[str] | None = None) -> int:
    import ref

    parser = argparse.ArgumentParser(prog="python -m parity.goldens", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", action="append", required=True, metavar="PATH",
                        help="a modded-nanogpt and/or llm.c checkout (with git history) or record file; repeatable")
    parser.add_argument("--record", action="append", help="record(s) to generate (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory and fail unless byte-identical to the committed files")
    args = parser.parse_args(argv)
    wanted = args.record or list(records.RECORDS)
    failed = []
    for rec in wanted:
        rec = records.get(rec).id
        reference = _first_reference(ref, rec, args.upstream)
        if reference is None:
            print(f"record {rec}: none of {args.upstream} holds its code", file=sys.stderr)
            failed.append(rec)
            continue
        if not reference.source.verified:
            print(f"record {rec}: {reference.source.origin} is not the pinned code (sha256 differs)", file=sys.stderr)
            failed.append(rec)
            continue
        text = dumps(generate(rec, reference))
        path = path_for(rec)
        if args.check:
            same = path.is_file() and path.read_text() == text
            print(f"record {rec}: {'byte-identical' if same else 'DIFFERS from'} {path}")
            if not same:
                failed.append(rec)
        else:
            path.write_text(text)
            print(f"record {rec}: wrote {path} ({len(text)} bytes)")
    return 1 if failed else 0


def _first_reference(ref, record: str, paths: list[str]):
    for p in paths:
        try:
            return ref.load(record, p)
        except ref.SourceError:
            continue
    return None


if __name__ == "__main__":
    raise SystemExit(main())
