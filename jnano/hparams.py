"""Hyperparameters as plain data: schedules, optimizer rules, parameter groups, training shapes.

Everything here is a frozen dataclass of numbers and names, with no JAX import, so the records
table (`jnano.records`) stays importable anywhere (the reference loader reads it without JAX).
`jnano.optim.build` turns an `OptimizerRecipe` into an optax transformation; the trainer reads
`Training`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace


# --- learning-rate schedules: multiplier of each group's base lr as a function of the step -----


@dataclass(frozen=True)
class CosineWithWarmup:
    """llm.c `get_lr`: linear warmup `(it+1)/warmup`, then cosine from 1 to `final_frac`.

    Record #1 (llm.c baseline): warmup 700, decay to 0 (`-q 0.0`) over the whole run.
    """

    warmup: int
    num_iterations: int
    final_frac: float = 0.0


@dataclass(frozen=True)
class Trapezoid:
    """Linear warmup `(it+1)/warmup`, constant 1, linear warmdown `(N-it)/warmdown` to 0.

    Records #2-#4 (`train_gpt2.py` get_lr and the #4 LambdaLR).
    """

    warmup: int
    warmdown: int
    num_iterations: int


Schedule = CosineWithWarmup | Trapezoid


# --- per-gradient transforms applied before the optimizer rules ---------------------------------


@dataclass(frozen=True)
class ClipGlobalNorm:
    """`torch.nn.utils.clip_grad_norm_(params, max_norm)` as llm.c calls it every step."""

    max_norm: float


@dataclass(frozen=True)
class NormalizeEach:
    """Record #2: every gradient tensor becomes `g / (||g|| + eps)` before AdamW."""

    eps: float = 1e-6


GradTransform = ClipGlobalNorm | NormalizeEach


# --- optimizer rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdamW:
    """`torch.optim.AdamW` (decoupled decay: `p *= 1 - lr*wd` before the Adam step)."""

    lr: float
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.0


@dataclass(frozen=True)
class OrthogonalNesterov:
    """Record #3's optimizer: Nesterov momentum, update = NS5(g) of the whole matrix, no scaling."""

    lr: float
    momentum: float = 0.95
    ns_steps: int = 5
    ns_dtype: str = "bfloat16"


@dataclass(frozen=True)
class Muon:
    """Muon (MomentUm Orthogonalized by Newton-Schulz) as records #4-#37 run it.

    Nesterov momentum, then Newton-Schulz (`ns_*`, see `jnano.optim.newton_schulz5`) of each
    matrix, scaled, times the lr. `qkv_split`: a matrix with rows == 3*cols (#4's fused QKV) is
    orthogonalised as three square blocks scaled by sqrt(cols). `scale`: "max_dim" =
    sqrt(max(rows, cols)) (#4-#7) or "max1_ratio" = sqrt(max(1, rows/cols)) (#8 on).
    `update_dtype`: the dtype the scaled update is rounded to before the lr multiply (#6 on
    gather it in a bf16 buffer). `momentum_warmup` = (start, end, steps): the momentum goes
    linearly from start to end over the first `steps` steps (#9 on).
    """

    lr: float
    momentum: float = 0.95
    nesterov: bool = True
    ns_steps: int = 5
    ns_dtype: str = "bfloat16"
    ns_normalize: str = "input"
    ns_form: str = "record3"
    qkv_split: bool = True
    scale: str = "max_dim"
    update_dtype: str | None = None
    momentum_warmup: tuple[float, float, int] | None = None


Rule = AdamW | OrthogonalNesterov | Muon


@dataclass(frozen=True)
class Select:
    """Which parameters a group takes: state_dict names matching any glob, within an ndim range."""

    names: tuple[str, ...] = ("*",)
    min_ndim: int = 0
    max_ndim: int = 99

    def matches(self, name: str, ndim: int) -> bool:
        return self.min_ndim <= ndim <= self.max_ndim and any(
            fnmatch.fnmatchcase(name, pattern) for pattern in self.names
        )


@dataclass(frozen=True)
class Group:
    name: str
    select: Select
    rule: Rule


@dataclass(frozen=True)
class OptimizerRecipe:
    """A record's whole optimizer: gradient transforms, then one rule per parameter group.

    Each parameter belongs to the first group whose `select` matches its state_dict name.
    """

    groups: tuple[Group, ...]
    schedule: Schedule
    grad_transforms: tuple[GradTransform, ...] = ()

    def label(self, name: str, ndim: int) -> str:
        for group in self.groups:
            if group.select.matches(name, ndim):
                return group.name
        raise ValueError(
            f"parameter {name!r} (ndim {ndim}) matches no optimizer group; groups: "
            + ", ".join(f"{g.name}={g.select}" for g in self.groups)
        )

    def with_rules(self, **changes) -> "OptimizerRecipe":
        """The same recipe with a field changed in every rule that has it (e.g. `ns_dtype`)."""
        groups = []
        for g in self.groups:
            fields = {k: v for k, v in changes.items() if hasattr(g.rule, k)}
            groups.append(replace(g, rule=replace(g.rule, **fields)))
        return replace(self, groups=tuple(groups))

    def with_schedule(self, schedule: Schedule) -> "OptimizerRecipe":
        return replace(self, schedule=schedule)


# --- what a training run consumes ---------------------------------------------------------------


@dataclass(frozen=True)
class StrideData:
    """Contiguous per-rank windows (`train.data.loaders.StrideLoader`), llm.c and #2-#17.

    `switch`: "ge" (llm.c, #2-#14) or "ge_plus_1" (#15-#17), see `StrideSwitch`.
    `first_batch_twice`: #4-#11 prefetch a batch, then reset the loader before the loop, so
    steps 0 and 1 both train on the first batch.
    """

    switch: str = "ge"
    first_batch_twice: bool = False


DataSpec = StrideData


@dataclass(frozen=True)
class Training:
    """Batch geometry and run length as upstream ran it on 8 GPUs.

    `batch_tokens` is global per optimizer step; `seq_len` the sequence length; `device_batch` the
    sequences per GPU per micro-step (gradient accumulation makes up the rest).
    """

    batch_tokens: int
    seq_len: int
    device_batch: int
    num_iterations: int
    val_every: int
    val_tokens: int = 10_485_760
    world: int = 8
    data: DataSpec = StrideData()


@dataclass(frozen=True)
class Upstream:
    """Where a record's code lives: `repo` at `commit`, file `path` (a `.py`, or a `.txt` log)."""

    repo: str
    commit: str
    path: str

    def __str__(self) -> str:
        return f"{self.repo}@{self.commit[:8]}:{self.path}"


__all__ = [
    "AdamW",
    "ClipGlobalNorm",
    "CosineWithWarmup",
    "Group",
    "Muon",
    "NormalizeEach",
    "OptimizerRecipe",
    "OrthogonalNesterov",
    "Select",
    "StrideData",
    "Training",
    "Trapezoid",
    "Upstream",
]
