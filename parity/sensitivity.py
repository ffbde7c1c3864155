"""How far our own results move when the initial weights move by one rounding.

    python -m parity.sensitivity --record 12 --record 16     # or --all

Two JAX runs of a record at the parity shape: the parity weights, and the same weights times
`1 + 1e-7 z` (z ~ N(0, 1), about one fp32 ulp). Their gap, measured with the parity checks'
own metrics, is the floor under any comparison with upstream: upstream's code rounds
differently everywhere (other BLAS, other libm), so it cannot be expected to agree with us
better than we agree with ourselves after one rounding. The packed-sequence records (#12 on)
amplify such a perturbation far more over a 10-step trajectory than records #1-#11 do (#12:
final logits 5e-3 apart); `parity.checks.FLEX_FP32` states tolerances from these figures.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from jnano import records
from parity import checks, run
from parity.rng import normal

PERTURBATION = 1e-7


def perturbed(inp: run.Inputs, seed: int) -> run.Inputs:
    sd = dict(inp.state_dict)
    for name in inp.param_shapes:
        noise = normal(seed, f"perturb/{name}", sd[name].shape) * PERTURBATION
        sd[name] = (sd[name] * (1 + noise)).astype(np.float32)
    return run.Inputs(inp.size, inp.shape, sd, inp.batches, inp.synthetic, inp.param_shapes)


def measure(record: str, seed: int = run.GOLDEN_SEED) -> dict[str, float]:
    """Worst gap per check (gradients: worst tensor) between the two runs."""
    inp = run.inputs(record, seed, "small")
    a = run.ours(record, inp, "float32")
    b = run.ours(record, perturbed(inp, seed), "float32")
    grads = [checks.relative(a[k], b[k]) for k in a if k.startswith("grad/")]
    tables = [checks.relative(a[k], b[k]) for k in a if k.startswith("untied/")]  # #53 on
    return {
        "logits": checks.relative(a["logits"], b["logits"]),
        "gradient": max(grads),
        "10-step losses": checks.relative(a["trajectory"], b["trajectory"], elementwise=True),
        "logits after 10 steps": checks.relative(a["final_logits"], b["final_logits"]),
        "head and embedding after 10 steps": max(tables, default=float("nan")),
        "embedding less head after 10 steps": checks.relative(a["split"], b["split"]) if "split" in a else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity.sensitivity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--record", action="append", metavar="N")
    which.add_argument("--all", action="store_true")
    parser.add_argument("--seed", type=int, default=run.GOLDEN_SEED)
    args = parser.parse_args(argv)
    wanted = list(records.RECORDS) if args.all else [records.get(r).id for r in args.record]
    print(f"{'record':<8}{'logits':>10}{'gradient':>10}{'10-step':>10}{'final':>10}{'tables':>10}{'split':>10}   (seed {args.seed}, "
          f"weights x (1 + {PERTURBATION:g} z))")
    for rec in wanted:
        m = measure(rec, args.seed)
        print(f"{rec:<8}" + "".join(f"{v:>10.2e}" for v in m.values()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
