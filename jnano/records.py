"""The speedrun's record table: record id -> stage, numbers, date, time, description, upstream code.

Pure data (no JAX import). Facts come from upstream's README table, each record's code (its
`Hyperparameters`, `run.sh` or llm.c launch script) and `../shared/history.md` §1-2.

`python -m jnano.records` prints the table.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from jnano.hparams import (
    AdamW,
    ClipGlobalNorm,
    CosineWithWarmup,
    Group,
    Muon,
    NormalizeEach,
    OptimizerRecipe,
    OrthogonalNesterov,
    Select,
    StrideData,
    Training,
    Trapezoid,
    Upstream,
)

MODDED = "KellerJordan/modded-nanogpt"
MODDED_HEAD = "f411b3d346aa52d3504324ca93c230fd84c6c07f"
LLMC = "karpathy/llm.c"
LLMC_HEAD = "f1e2ace651495b74ae22d45d1723443fd00ecd3a"


@dataclass(frozen=True)
class Record:
    id: str
    date: str  # ISO date of the README row
    time: str  # README time on 8xH100
    description: str  # README description
    stage: str  # name of the architecture stage (jnano.stages)
    model: Mapping[str, Any]  # keyword arguments of the stage's Config
    training: Training
    optimizer: OptimizerRecipe
    upstream: Upstream
    notes: str = ""

    @property
    def number(self) -> int:
        return int("".join(c for c in self.id if c.isdigit()))


def _frozen(**kwargs: Any) -> Mapping[str, Any]:
    return MappingProxyType(dict(kwargs))


GPT2_SMALL = _frozen(vocab_size=50257, n_layer=12, n_head=12, n_embd=768)

_RECORDS: tuple[Record, ...] = (
    Record(
        id="1",
        date="2024-05-28",
        time="45 minutes",
        description="llm.c baseline",
        stage="s0_llmc",
        model=_frozen(**GPT2_SMALL, block_size=1024),
        # llm.c scripts/run_gpt2_124M.sh: -b 64 -t 1024 -d 524288 -v 250; the record's main.log
        # runs 19,560 steps (one epoch of the 10B-token train shards).
        training=Training(
            batch_tokens=524_288, seq_len=1024, device_batch=64, num_iterations=19_560,
            val_every=250,
        ),
        optimizer=OptimizerRecipe(
            # llm.c configure_optimizers: tensors with dim >= 2 decay, the rest do not.
            groups=(
                Group("decay", Select(min_ndim=2), AdamW(lr=6e-4, weight_decay=0.1)),
                Group("no_decay", Select(max_ndim=1), AdamW(lr=6e-4, weight_decay=0.0)),
            ),
            schedule=CosineWithWarmup(warmup=700, num_iterations=19_560, final_frac=0.0),
            grad_transforms=(ClipGlobalNorm(1.0),),
        ),
        upstream=Upstream(LLMC, LLMC_HEAD, "train_gpt2.py"),
        notes="The record ran llm.c's CUDA trainer (its C loader shuffles shards and samples); the "
              "PyTorch reference is llm.c's train_gpt2.py, whose contiguous loader we use.",
    ),
    Record(
        id="2",
        date="2024-06-06",
        time="31.4 minutes",
        description="Tuned learning rate & rotary embeddings",
        stage="s1_rotary",
        model=GPT2_SMALL,
        # run.sh @ b6b0a0d3
        training=Training(
            batch_tokens=524_288, seq_len=1024, device_batch=64, num_iterations=9536,
            val_every=128,
        ),
        optimizer=OptimizerRecipe(
            groups=(Group("adamw", Select(), AdamW(lr=0.0018, weight_decay=0.1)),),
            schedule=Trapezoid(warmup=256, warmdown=2048, num_iterations=9536),
            grad_transforms=(NormalizeEach(eps=1e-6),),
        ),
        upstream=Upstream(MODDED, "b6b0a0d36e6f1758a8d14d5fcd5f15ca5d19b891", "train_gpt2.py"),
        notes="The record's log has no code; train_gpt2.py and run.sh at b6b0a0d3 are the match.",
    ),
    Record(
        id="3",
        date="2024-10-04",
        time="24.9 minutes",
        description="Introduced the Muon optimizer",
        stage="s2_muon",
        model=GPT2_SMALL,
        # run.sh @ cd06e200 (approximate: the record has no log; a day later warmup became 0)
        training=Training(
            batch_tokens=524_288, seq_len=1024, device_batch=64, num_iterations=7000,
            val_every=128,
        ),
        optimizer=OptimizerRecipe(
            groups=(
                # AdamW on lm_head, which is the tied embedding; weight_decay=0 in code.
                Group("adamw", Select(("transformer.wte.weight",)), AdamW(lr=0.0018)),
                Group("orthogonal_nesterov", Select(("transformer.h.*",)),
                      OrthogonalNesterov(lr=0.018, momentum=0.95)),
            ),
            schedule=Trapezoid(warmup=250, warmdown=2000, num_iterations=7000),
        ),
        upstream=Upstream(MODDED, "cd06e2009cd2f88ef63b2113aa075beac09e9913", "train_gpt2.py"),
        notes="No log exists; train_gpt2.py and run.sh at cd06e200 are the closest code.",
    ),
    Record(
        id="4",
        date="2024-10-11",
        time="22.3 minutes",
        description="Muon improvements",
        stage="s2_muon",
        model=GPT2_SMALL,
        training=Training(
            batch_tokens=524_288, seq_len=1024, device_batch=64, num_iterations=6200,
            val_every=125, data=StrideData(first_batch_twice=True),
        ),
        optimizer=OptimizerRecipe(
            groups=(
                Group("adamw", Select(("transformer.wte.weight",)), AdamW(lr=0.0036)),
                Group("muon", Select(("transformer.h.*",)), Muon(lr=0.1 * 0.0036, momentum=0.95)),
            ),
            schedule=Trapezoid(warmup=0, warmdown=1800, num_iterations=6200),
        ),
        upstream=Upstream(
            MODDED, MODDED_HEAD,
            "records/track_1_short/2024-10-10_Muon/eb5659d0-fb6a-49e5-a311-f1f89412f726.txt",
        ),
    ),
)

RECORDS: Mapping[str, Record] = MappingProxyType({r.id: r for r in _RECORDS})
LATEST: str = _RECORDS[-1].id


def get(record: str | int) -> Record:
    """Record by id (`4`, `"4"`, `"#4"`, or `"latest"`); a clear error lists the valid ones."""
    key = str(record).strip().lstrip("#").lower()
    if key in ("latest", "head"):
        key = LATEST
    try:
        return RECORDS[key]
    except KeyError:
        raise KeyError(
            f"unknown record {record!r}; valid records: {', '.join(RECORDS)} (or 'latest')"
        ) from None


def table() -> str:
    rows = [("#", "date", "8xH100", "stage", "steps", "description")]
    for r in _RECORDS:
        rows.append((r.id, r.date, r.time, r.stage, str(r.training.num_iterations), r.description))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print("usage: python -m jnano.records [RECORD]\n\nWithout RECORD: the table of every "
              "record in the zoo. With RECORD: that record's full specification.")
        return 0
    if argv:
        try:
            r = get(argv[0])
        except KeyError as e:
            print(e.args[0], file=sys.stderr)
            return 2
        print(f"record #{r.id} ({r.date}, {r.time}): {r.description}")
        print(f"  stage     {r.stage}")
        print(f"  model     {dict(r.model)}")
        print(f"  training  {r.training}")
        print(f"  optimizer {r.optimizer}")
        print(f"  upstream  {r.upstream}")
        if r.notes:
            print(f"  notes     {r.notes}")
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
