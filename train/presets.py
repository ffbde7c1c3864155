"""Run presets: the record as upstream ran it, or shrunk so a laptop CPU finishes in minutes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from jnano import hparams as hp
from jnano.records import Record
from jnano.stages import get_stage
from jnano.stages.base import fit_heads


@dataclass(frozen=True)
class Preset:
    """What a preset changes: model shape overrides and the batch/run geometry.

    The optimizer, its hyperparameters and the loader era stay the record's; the schedule is
    rescaled to the new number of steps (warmup/warmdown keep their fraction of the run).
    """

    name: str
    description: str
    model: dict
    seq_len: int | None = None
    device_batch: int | None = None  # sequences per rank
    steps: int | None = None
    val_every: int | None = None
    val_steps: int | None = None  # validation batches (of world * device_batch * seq_len tokens)
    sample_data: bool = False  # train on the shipped Shakespeare sample
    # packed-sequence records (#12 on) keep their 12 layers and 128-wide heads and one row per rank
    packed_model: dict | None = None
    packed_seq_len: int | None = None


PRESETS = {
    "record": Preset("record", "the record's own shapes, batch, steps and validation", {}),
    "smoke": Preset(
        "smoke", "4 layers x 128 wide, 16 x 128-token sequences a step (packed records #12 on: their "
        "12 layers x 128 wide, 8 rows of 256 tokens), 150 steps on the shipped Shakespeare sample: "
        "minutes on a laptop CPU",
        dict(n_layer=4, n_embd=128, n_head=4), seq_len=128, device_batch=2, steps=150, val_every=50,
        val_steps=4, sample_data=True, packed_model=dict(n_embd=128, n_head=1), packed_seq_len=256),
}


def rescale_schedule(schedule: hp.Schedule, steps: int) -> hp.Schedule:
    """The record's schedule stretched to `steps`: phase lengths keep their fraction."""
    n = schedule.steps
    scale = lambda k: round(k * steps / n)  # noqa: E731
    if isinstance(schedule, hp.CosineWithWarmup):
        return dataclasses.replace(schedule, warmup=scale(schedule.warmup), num_iterations=steps)
    if isinstance(schedule, hp.Trapezoid):
        return dataclasses.replace(schedule, warmup=scale(schedule.warmup), warmdown=max(1, scale(schedule.warmdown)),
                                   num_iterations=steps)
    if isinstance(schedule, (hp.CooldownToFloor, hp.StagedCooldown, hp.StageCooldown)):
        extension = round(schedule.extension * steps / schedule.steps)
        return dataclasses.replace(schedule, num_iterations=steps - extension, extension=extension)
    raise TypeError(f"cannot rescale schedule {schedule!r}")


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, resolved from record + preset + command-line overrides."""

    record: Record
    preset: Preset
    model: dict  # Config overrides
    training: hp.Training
    optimizer: hp.OptimizerRecipe
    val_steps: int

    @property
    def local_tokens(self) -> int:
        """Tokens per rank per step (upstream: per GPU)."""
        return self.training.device_batch * self.training.seq_len

    @property
    def batch_sequences(self) -> int:
        return self.training.world * self.training.device_batch


def make_plan(record: Record, preset: str = "record", steps: int | None = None, val_every: int | None = None,
              val_tokens: int | None = None) -> Plan:
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    p = PRESETS[preset]
    t = record.training
    packed = "window" in _config_fields(record)
    seq_len = (p.packed_seq_len if packed else p.seq_len) or t.seq_len
    device_batch = (1 if packed else p.device_batch) or t.device_batch
    val_seq_len = t.val_seq_len if seq_len == t.seq_len else None
    num_steps = steps or p.steps or t.num_iterations
    batch_tokens = t.world * device_batch * seq_len
    # #46 on: the stages keep their ratios to the first one (the record's `batch_tokens`)
    stages = t.batch_stages and t.batch_stages.scaled(batch_tokens / t.batch_tokens)
    training = dataclasses.replace(
        t, seq_len=seq_len, device_batch=device_batch, batch_tokens=batch_tokens, batch_stages=stages,
        num_iterations=num_steps, val_every=val_every if val_every is not None else (p.val_every or t.val_every),
        val_seq_len=val_seq_len,
    )
    local = device_batch * (val_seq_len or seq_len)
    if val_tokens is not None:
        if val_tokens % (t.world * local):
            raise ValueError(f"--val-tokens must be a multiple of {t.world * local} (ranks x tokens per rank)")
        val_steps = val_tokens // (t.world * local)
    elif p.val_steps is not None:
        val_steps = p.val_steps
    else:
        val_steps = t.val_tokens // (t.world * local)
    optimizer = record.optimizer
    if num_steps != optimizer.schedule.steps:
        optimizer = optimizer.with_schedule(rescale_schedule(optimizer.schedule, num_steps))
    model = dict(p.packed_model if packed and p.packed_model is not None else p.model)
    if "n_head" in model:  # #58 on pair the heads, #85 has six
        model = fit_heads(model, get_stage(record.stage).GPT)
    if "n_embd" in model and "bigram_dim" in _config_fields(record):  # #83 on: the record's share of the width
        own = get_stage(record.stage).Config(**record.model)  # (#83: 192 of 768, #85: all of it)
        model.setdefault("bigram_dim", own.bigram_dim * model["n_embd"] // own.n_embd)
    if "block_size" in _config_fields(record) and seq_len > record.model.get("block_size", seq_len):
        raise ValueError(f"seq_len {seq_len} exceeds record {record.id}'s block_size")
    if "block_size" in _config_fields(record) and p.model:
        model.setdefault("block_size", seq_len)
    return Plan(record, p, model, training, optimizer, val_steps)


def _config_fields(record: Record) -> set[str]:
    return {f.name for f in dataclasses.fields(get_stage(record.stage).Config)}
