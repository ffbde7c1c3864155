"""What a parity run uses for record N: shapes, a shortened schedule, and upstream's arguments."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from jnano import hparams as hp
from jnano import records
from jnano.stages import get_stage
from ref.manifest import entry_for

STEPS = 10  # length of the compared trajectory

# Small enough for CI (seconds per record), large enough that every matrix is non-square and
# the fused QKV (rows = 3 x cols) takes record #4's split path.
SMALL = dict(vocab_size=256, n_layer=2, n_head=4, n_embd=64, block_size=64)
SMALL_BATCH = dict(batch=2, seq=32)


def shape(record: str, size: str = "small") -> dict:
    """Model Config overrides for `size` ("small" for CI, "full" for the record's own shapes)."""
    if size == "full":
        return {}
    if size != "small":
        raise ValueError(f"unknown parity size {size!r}; use 'small' or 'full'")
    fields = {f.name for f in dataclasses.fields(get_stage(records.get(record).stage).Config)}
    return {k: v for k, v in SMALL.items() if k in fields}


def batch_geometry(record: str, size: str = "small") -> dict:
    if size == "small":
        return dict(SMALL_BATCH)
    return dict(batch=1, seq=min(records.get(record).training.seq_len, 1024))


def short_schedule(schedule: hp.Schedule) -> hp.Schedule:
    """The record's schedule squeezed into 12 steps, so a 10-step trajectory crosses warmup,
    plateau and decay (where the record has them) instead of sitting at step 0's warmup lr."""
    if isinstance(schedule, hp.CosineWithWarmup):
        return dataclasses.replace(schedule, warmup=3, num_iterations=12)
    if isinstance(schedule, hp.Trapezoid):
        return dataclasses.replace(schedule, warmup=2 if schedule.warmup else 0, warmdown=5, num_iterations=12)
    raise TypeError(f"no short form for schedule {schedule!r}")


def recipe(record: str, ns_dtype: str) -> hp.OptimizerRecipe:
    """The record's optimizer on the short schedule, Newton-Schulz (and the buffer its updates
    are gathered in, #6 on) in `ns_dtype`: float32 for fp32 parity, bfloat16 as recorded."""
    r = records.get(record).optimizer
    r = r.with_schedule(short_schedule(r.schedule)).with_rules(ns_dtype=ns_dtype)
    groups = tuple(dataclasses.replace(g, rule=dataclasses.replace(g.rule, update_dtype=ns_dtype))
                   if getattr(g.rule, "update_dtype", None) else g for g in r.groups)
    return dataclasses.replace(r, groups=groups)


def _adam_rule(rec: hp.OptimizerRecipe, group: str | None = None) -> hp.AdamW:
    rules = [g.rule for g in rec.groups if isinstance(g.rule, hp.AdamW) and (group is None or g.name == group)]
    return rules[0]


def upstream_args(record: str, rec: hp.OptimizerRecipe) -> SimpleNamespace:
    """Our record table written in upstream's argument names, for the upstream driver."""
    family = entry_for(record).family
    s = rec.schedule
    if family == "toplevel":
        # upstream's own Hyperparameters() and optimizer lines supply every number; only the
        # schedule's length is shortened (the driver replaces these fields)
        return SimpleNamespace(num_iterations=s.num_iterations, warmup_iters=s.warmup, warmdown_iters=s.warmdown)
    if family == "llmc":
        decay = _adam_rule(rec, "decay")
        clip = next(t for t in rec.grad_transforms if isinstance(t, hp.ClipGlobalNorm))
        return SimpleNamespace(
            learning_rate=decay.lr, weight_decay=decay.weight_decay, grad_clip=clip.max_norm,
            warmup_iters=s.warmup, num_iterations=s.num_iterations,
            learning_rate_decay_frac=s.final_frac,
        )
    adam = _adam_rule(rec)
    common = dict(learning_rate=adam.lr, warmup_iters=s.warmup, warmdown_iters=s.warmdown,
                  num_iterations=s.num_iterations)
    if family == "train_gpt2_adamw":
        return SimpleNamespace(**common, weight_decay=adam.weight_decay)
    if family == "train_gpt2_orthogonal_nesterov":
        return SimpleNamespace(**common, weight_decay=adam.weight_decay, accumulation=1)
    raise KeyError(f"no argument translation for upstream family {family!r}")


def table_args(record: str) -> dict:
    """Our record table (full schedule and batch geometry) in upstream's argument names, to
    check against what upstream itself declares (`ref.declared`)."""
    rec = records.get(record)
    t = rec.training
    out = vars(upstream_args(record, rec.optimizer)).copy()
    out.update(sequence_length=t.seq_len, val_loss_every=t.val_every)
    family = entry_for(record).family
    if family == "train_gpt2_orthogonal_nesterov":
        # #3's configure_optimizers takes weight_decay (run.sh: 0.1) but hands AdamW 0: unused
        del out["weight_decay"]
    if family == "toplevel":
        adams = [g.rule for g in rec.optimizer.groups if isinstance(g.rule, hp.AdamW)]
        out.update(batch_size=t.batch_tokens // t.seq_len, device_batch_size=t.device_batch,
                   val_tokens=t.val_tokens, learning_rate=adams[0].lr, weight_decay=adams[0].weight_decay)
    else:
        out.update(batch_size=t.device_batch, total_batch_size=t.batch_tokens)
    return out
