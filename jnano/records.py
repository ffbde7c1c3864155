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

# --- records #5-#11: shared shapes and optimizer layouts -------------------------------------------

MODERN = _frozen(vocab_size=50304, n_layer=12, n_head=6, n_embd=768)
MODERN_UNTIED = MODERN
# #6/#7: each rank scales its matrices' updates in a bf16 buffer, then all-reduces it (the sum
# is exact: one non-zero contributor per element); QKV split gone (no fused matrix since #5).
MUON_DISTRIBUTED_6 = Muon(lr=0.1 * 0.0036, ns_normalize="rounded", qkv_split=False, update_dtype="bfloat16")
# #8: lr as a literal, scale sqrt(max(1, rows/cols))
MUON_8 = Muon(lr=0.02, ns_normalize="rounded", qkv_split=False, scale="max1_ratio", update_dtype="bfloat16")


def _log(path: str) -> Upstream:
    return Upstream(MODDED, MODDED_HEAD, f"records/track_1_short/{path}")


def _training(steps: int) -> Training:
    """#4-#11: 8 x 64 sequences of 1024, validation every 125 steps; prefetch + reset repeats the
    first batch."""
    return Training(batch_tokens=524_288, seq_len=1024, device_batch=64, num_iterations=steps,
                    val_every=125, data=StrideData(first_batch_twice=True))


def _tied_adam_muon(steps: int, warmdown: int, muon: Muon) -> OptimizerRecipe:
    """#4-#7: AdamW (weight decay 0) on the tied embedding/head, Muon on every block matrix."""
    return OptimizerRecipe(
        groups=(
            Group("adamw", Select(("transformer.wte.weight",)), AdamW(lr=0.0036)),
            Group("muon", Select(("transformer.h.*",)), muon),
        ),
        schedule=Trapezoid(warmup=0, warmdown=warmdown, num_iterations=steps),
    )


def _shortcut_groups(steps, warmdown, lr_embed, lr_head, lr_muon, lr_scalars, ns_form="record3",
                     scalars=("transformer.h.*",)) -> OptimizerRecipe:
    """#9-#11: Adam on embedding, head and scalars; Muon (momentum 0.85 -> 0.95 over 500 steps)
    on the block matrices."""
    muon = Muon(lr=lr_muon, ns_normalize="rounded", ns_form=ns_form, qkv_split=False, scale="max1_ratio",
                update_dtype="bfloat16", momentum_warmup=(0.85, 0.95, 500))
    return OptimizerRecipe(
        groups=(
            Group("embed", Select(("transformer.wte.weight",)), AdamW(lr=lr_embed)),
            Group("head", Select(("lm_head.weight",)), AdamW(lr=lr_head)),
            Group("muon", Select(("transformer.h.*",), min_ndim=2), muon),
            Group("scalars", Select(scalars, max_ndim=1), AdamW(lr=lr_scalars)),
        ),
        schedule=Trapezoid(warmup=0, warmdown=warmdown, num_iterations=steps),
    )


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
        training=_training(6200),
        optimizer=_tied_adam_muon(6200, 1800, Muon(lr=0.1 * 0.0036)),
        upstream=_log("2024-10-10_Muon/eb5659d0-fb6a-49e5-a311-f1f89412f726.txt"),
    ),
    Record(
        id="5",
        date="2024-10-14",
        time="15.2 minutes",
        description="Pad embeddings, ReLU², zero-init projections, QK-norm",
        stage="s3_modern",
        model=_frozen(**MODERN, qk_norm_before_rope=False),
        training=_training(5100),
        optimizer=_tied_adam_muon(5100, 1450, Muon(lr=0.1 * 0.0036, ns_normalize="rounded")),
        upstream=_log("2024-10-14_ModernArch/dabaaddd-237c-4ec9-939d-6608a9ed5e27.txt"),
    ),
    Record(
        id="6",
        date="2024-10-18",
        time="13.1 minutes",
        description="Distributed the overhead of Muon",
        stage="s3_modern",
        model=MODERN,
        training=_training(5100),
        optimizer=_tied_adam_muon(5100, 1450, MUON_DISTRIBUTED_6),
        upstream=_log("2024-10-17_DistributedMuon/22d24867-eb5a-4fcc-ae2c-263d0277dfd1.txt"),
        notes="QK-norm moves before RoPE; Muon's scaled update is gathered in a bf16 buffer.",
    ),
    Record(
        id="7",
        date="2024-10-18",
        time="12.0 minutes",
        description="Upgraded PyTorch 2.5.0",
        stage="s3_modern",
        model=MODERN,
        training=_training(5100),
        optimizer=_tied_adam_muon(5100, 1450, MUON_DISTRIBUTED_6),
        upstream=_log("2024-10-18_PyTorch25/d4bfb25f-688d-4da5-8743-33926fad4842.txt"),
        notes="#6's code, byte for byte, on PyTorch 2.5.",
    ),
    Record(
        id="8",
        date="2024-11-03",
        time="10.8 minutes",
        description="Untied embedding and head",
        stage="s4_untied",
        model=MODERN_UNTIED,
        training=_training(4578),
        optimizer=OptimizerRecipe(
            groups=(
                Group("embed", Select(("transformer.wte.weight",)), AdamW(lr=0.3)),
                Group("head", Select(("lm_head.weight",)), AdamW(lr=0.002)),
                Group("muon", Select(("transformer.h.*",)), MUON_8),
            ),
            schedule=Trapezoid(warmup=0, warmdown=1308, num_iterations=4578),
        ),
        upstream=_log("2024-11-03_UntieEmbed/d6b50d71-f419-4d26-bb39-a60d55ae7a04.txt"),
    ),
    Record(
        id="9",
        date="2024-11-06",
        time="8.2 minutes",
        description="Value and embedding skip connections, momentum warmup, logit softcap",
        stage="s5_shortcuts",
        model=MODERN_UNTIED,
        training=_training(3200),
        optimizer=_shortcut_groups(3200, 914, 0.3, 0.002, 0.02, 0.02),
        upstream=_log("2024-11-06_ShortcutsTweaks/dd7304a6-cc43-4d5e-adb8-c070111464a1.txt"),
    ),
    Record(
        id="10",
        date="2024-11-08",
        time="7.8 minutes",
        description="Bfloat16 activations",
        stage="s5_shortcuts",
        model=MODERN_UNTIED,
        training=_training(3242),
        optimizer=_shortcut_groups(3242, 926, 0.3, 0.002, 0.02, 0.02),
        upstream=_log("2024-11-08_CastBf16/a833bed8-2fa8-4cfe-af05-58c1cc48bc30.txt"),
        notes="#9's function in bf16: embeddings, scalars and activations bf16, linear weights fp32 "
              "masters cast per use (CastedLinear); autocast removed.",
    ),
    Record(
        id="11",
        date="2024-11-10",
        time="7.2 minutes",
        description="U-net pattern skip connections & double lr",
        stage="s6_unet",
        model=MODERN_UNTIED,
        training=_training(3000),
        optimizer=_shortcut_groups(3000, 900, 0.6, 0.008, 0.04, 0.04, ns_form="record11",
                                   scalars=("transformer.h.*", "skip_weights")),
        upstream=_log("2024-11-10_UNetDoubleLr/c87bb826-797b-4f37-98c7-d3a5dad2de74.txt"),
        notes="lm_head's lr is 4x #10's (0.008), the others double.",
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
