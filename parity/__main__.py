"""python -m parity: compare our JAX records with upstream's PyTorch code and print a table."""

from __future__ import annotations

import argparse
import json
import sys

HELP = """\
Compare record N's JAX model and optimizer with upstream's own PyTorch code: logits, loss, every
gradient, the update of every parameter at two optimizer steps, and a 10-step training
trajectory, all in fp32 on the CPU (plus bf16 Newton-Schulz at record precision where the
record uses it). Prints one table per record; exits 1 if any row is outside its tolerance.

Without --upstream the committed goldens are used (generated from upstream by
`python -m parity.goldens`); with --upstream the genuine upstream code runs live:
  python -m parity --record 4 --upstream ~/src/modded-nanogpt --seed 7
  python -m parity --all --upstream ~/src/modded-nanogpt --upstream ~/src/llm.c
Records 2 and 3 live only in modded-nanogpt's git history (a full clone has it); record 1's
reference is llm.c's train_gpt2.py.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity", description=HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--record", action="append", metavar="N", help="record number (repeatable)")
    which.add_argument("--all", action="store_true", help="every record in the zoo")
    parser.add_argument("--upstream", action="append", metavar="PATH",
                        help="modded-nanogpt / llm.c checkout or one record .py/.txt file (repeatable); "
                             "each record uses the first path that holds its code")
    parser.add_argument("--seed", type=int, default=None,
                        help="draw weights, batches and gradients from this seed (live only; goldens use seed 0)")
    parser.add_argument("--size", choices=["small", "full"], default="small",
                        help="small: CI shapes (seconds); full: the record's own model shapes (live only, minutes)")
    parser.add_argument("--scope", choices=["full", "core"], default="full",
                        help="against the goldens: full (default) or core, the fp32 model and two optimizer steps "
                             "only (no 10-step run, no record precision; about a third of the time)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results instead of tables")
    parser.add_argument("-v", "--verbose", action="store_true", help="every tensor's error and every tolerance's reason")
    args = parser.parse_args(argv)

    import ref
    from jnano import records
    from parity import goldens, run
    from parity.allocator import keep_freed_memory

    keep_freed_memory()

    try:
        wanted = list(records.RECORDS) if args.all else [records.get(r).id for r in args.record]
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    if not args.upstream and (args.size != "small" or args.seed not in (None, run.GOLDEN_SEED)):
        print("error: goldens exist for seed 0 at the small shape only; pass --upstream PATH to "
              "compare other seeds or the full shape live against upstream's code", file=sys.stderr)
        return 2
    if args.upstream and args.scope != "full":
        print("error: --scope applies to the goldens; a live run always compares everything", file=sys.stderr)
        return 2

    reports, errors = [], []
    for rec in wanted:
        try:
            if args.upstream:
                reference = _load(ref, rec, args.upstream)
                report = run.run_live(rec, reference, run.GOLDEN_SEED if args.seed is None else args.seed, args.size)
            else:
                report = run.run_golden(rec, goldens.load(rec), args.scope)
        except (ref.SourceError, FileNotFoundError) as e:
            errors.append(f"record {rec}: {e}")
            print(f"error: record {rec}: {e}", file=sys.stderr)
            continue
        reports.append(report)
        if not args.json:
            print(report.table(args.verbose), flush=True)
    if args.json:
        print(json.dumps({"ok": not errors and all(r.ok for r in reports), "errors": errors,
                          "records": [r.as_json() for r in reports]}, indent=1))
    elif len(wanted) > 1:
        passed = sum(r.ok for r in reports)
        print(f"\n{passed}/{len(wanted)} records pass" + (f"; {len(errors)} could not run" if errors else ""))
    return 0 if reports and not errors and all(r.ok for r in reports) else 1


def _load(ref, record: str, paths: list[str]):
    problems = []
    for p in paths:
        try:
            return ref.load(record, p)
        except ref.SourceError as e:
            problems.append(str(e))
    raise ref.SourceError(" | ".join(problems))


if __name__ == "__main__":
    raise SystemExit(main())
