"""python -m train: train a record of the speedrun, as upstream ran it or shrunk by a preset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Train record N's recipe (model, optimizer, schedule, batch, data order) in JAX.

  python -m train --preset smoke                       # minutes on a CPU, on the shipped sample
  python -m train --record 4 --data data/fineweb10B    # the record as upstream ran it (8 GPUs' batch)
  python -m train --record 4 --data ... --mesh data=4,model=2 --checkpoint-every 500

Data: FineWeb shards from `python -m train.data fineweb --train-shards 9 --dir data/fineweb10B`.
A run folder (--out, default runs/record<N>-<preset>-<time>) gets config.json, log.txt
(upstream-style `step:N/M val_loss:... train_time:...ms step_avg:...ms` lines), metrics.jsonl,
loss.png and checkpoints/ (orbax). A killed run continues with the same command plus --resume.
"""


def parser(default_record: str | None = None) -> argparse.ArgumentParser:
    from jnano import records
    from train.presets import PRESETS

    p = argparse.ArgumentParser(prog="python -m train", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--record", default=default_record or records.LATEST,
                   help=f"record to train: {', '.join(records.RECORDS)} (default: the latest, {records.LATEST})")
    p.add_argument("--preset", default=None, choices=sorted(PRESETS),
                   help="; ".join(f"{k}: {v.description}" for k, v in PRESETS.items()) + " (default: record)")
    p.add_argument("--data", type=Path, default=None,
                   help="directory of *_train_*.bin / *_val_*.bin shards (default with --preset smoke: the shipped sample)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (the lr schedule is rescaled to fit)")
    p.add_argument("--val-every", type=int, default=None, help="validate every N steps (and at step 0 and the end); 0: only the end")
    p.add_argument("--val-tokens", type=int, default=None,
                   help="validation tokens from the start of the val shard (default: the record's 10,485,760)")
    p.add_argument("--out", type=Path, default=None, help="run folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the model's initialisation (the data order is upstream's)")
    p.add_argument("--mesh", default=None,
                   help="device mesh, e.g. data=4,model=2 (data parallel + FSDP x tensor parallel); default: every device on data")
    p.add_argument("--micro-batch", type=int, default=None,
                   help="sequences per device per micro-step; smaller -> gradient accumulation (default: the record's per-GPU batch)")
    p.add_argument("--checkpoint-every", type=int, default=0, help="save a checkpoint every N steps (always at the end)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")
    p.add_argument("--compile-cache", default=None, metavar="DIR",
                   help="XLA's persistent compilation cache: a rerun loads the compiled step instead of compiling "
                        "(default: $JNANO_COMPILE_CACHE or ~/.cache/jnano/xla; 'none' turns it off)")
    return p


def main(argv: list[str] | None = None, default_record: str | None = None) -> int:
    args = parser(default_record).parse_args(argv)
    from jnano import records
    from train.loop import RunArgs, TrainingError, train
    from train.stream import DataMissing

    from train import compile_cache

    compile_cache.enable(args.compile_cache or compile_cache.default_dir())
    try:
        rec = records.get(args.record).id
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    if args.resume and args.out is None:
        print("error: --resume needs --out RUN_FOLDER (the run to continue)", file=sys.stderr)
        return 2
    run = RunArgs(record=rec, preset=args.preset or "record", data=args.data, steps=args.steps,
                  val_every=args.val_every, val_tokens=args.val_tokens, out=args.out, seed=args.seed,
                  mesh=args.mesh, micro_batch=args.micro_batch, checkpoint_every=args.checkpoint_every,
                  resume=args.resume, progress=not args.no_progress)
    try:
        train(run)
    except DataMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (TrainingError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
