"""What a parity run uses for record N: shapes, a shortened schedule, and upstream's arguments."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from jnano import hparams as hp
from jnano import records
from jnano.stages import get_stage
from jnano.stages.base import fit_heads
from ref.manifest import entry_for

STEPS = 10  # length of the compared trajectory

# Small enough for CI (seconds per record), large enough that every matrix is non-square and
# the fused QKV (rows = 3 x cols) takes record #4's split path.
SMALL = dict(vocab_size=256, n_layer=2, n_head=4, n_embd=64, block_size=64)
SMALL_BATCH = dict(batch=2, seq=32)
# #12 on (one packed row per GPU, FlexAttention): the vocabulary stays the record's (50256 is
# the document separator upstream hard-codes) and so do the 12 layers (#17 on need exactly 12:
# value-embedding layout, block 7, the 12-entry mask list); one 128-dim head keeps the head
# size #21 on hard-code. 512 tokens = 4 blocks of 128, enough for block windows of 1-3.
FLEX_SMALL = dict(n_head=1, n_embd=128)
# #83 on: the bigram reaches the stream's first 192 of 768 channels; a quarter of 128 here (the
# stages whose Config has the field take it, and upstream gets it as `args.bigram_dim`)
FLEX_SMALL_BIGRAM = dict(bigram_dim=32)
FLEX_SMALL_BATCH = dict(batch=1, seq=512)
# fp32 parity runs upstream in fp32 throughout: its `.bfloat16()` casts off (ref's fp32 mode)
# and the FP8 head replaced by the plain matmul it computes in evaluation; #84's FP8 MLP
# up-projection off (upstream's until `quantize_weights_fp8`, which ref runs at record precision).
FP32_OVERRIDES = dict(rope_dtype="float32", head_fp8=None, mlp_up_fp8=False)
PROBE_STEP = 1  # the step whose window the logits/gradient checks run at


def is_flex(record: str) -> bool:
    """Records #12 on: one packed sequence per GPU and a `window` argument (or #12's fixed one)."""
    return "window" in config_fields(record)


def config_fields(record: str) -> set[str]:
    return {f.name for f in dataclasses.fields(get_stage(records.get(record).stage).Config)}


def shape(record: str, size: str = "small") -> dict:
    """Model Config overrides for `size` ("small" for CI, "full" for the record's own shapes);
    fp32 settings of the flex-era configs are part of it."""
    if size not in ("small", "full"):
        raise ValueError(f"unknown parity size {size!r}; use 'small' or 'full'")
    fields = config_fields(record)
    out = {k: v for k, v in FP32_OVERRIDES.items() if k in fields}
    if size == "small":
        small = {**FLEX_SMALL, **FLEX_SMALL_BIGRAM} if is_flex(record) else SMALL
        out.update({k: v for k, v in small.items() if k in fields})
        # #58 on pair the heads: two 64-dim heads in the same 128 dims; #85 on: six 16-dim heads
        out = fit_heads(out, get_stage(records.get(record).stage).GPT)
    return out


def batch_geometry(record: str, size: str = "small") -> dict:
    if is_flex(record):
        return dict(FLEX_SMALL_BATCH) if size == "small" else dict(batch=1, seq=1024)
    if size == "small":
        return dict(SMALL_BATCH)
    return dict(batch=1, seq=min(records.get(record).training.seq_len, 1024))


# our Config fields that upstream keeps in `Hyperparameters` (#62 on), by upstream's name
MODEL_ARGS = {"bigram_vocab_size": "bigram_vocab_size", "bigram_dim": "bigram_dim",
              "bigram_sign_rows": "bigram_sign_table_rows"}


def upstream_model_args(record: str, shape: dict | None = None) -> dict:
    """The model's sizes that upstream reads from `args` rather than its constructor (the bigram
    table's), at `shape` (None: the record's own), for the stages that have them."""
    import jnano

    cfg = jnano.config(record, **(shape or {}))
    return {theirs: getattr(cfg, ours) for ours, theirs in MODEL_ARGS.items() if ours in config_fields(record)}


def upstream_shape(record: str, shape: dict, seq: int) -> dict:
    """What the upstream driver builds: the flex-era drivers take the model's sizes by our
    names plus the sequence length; the earlier ones take the Config overrides themselves."""
    if not is_flex(record):
        return shape
    import jnano

    cfg = jnano.config(record, **shape)
    return dict(vocab_size=cfg.vocab_size, n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, seq_len=seq)


def record_shape(record: str, size: str = "small") -> dict:
    """`shape` as the record runs it: no fp32 overrides (bf16 RoPE tables, the FP8 head)."""
    return {k: v for k, v in shape(record, size).items() if k not in FP32_OVERRIDES}


def schedule_at(record: str, step: int) -> dict:
    """The per-step model arguments at `step` of the short schedule (`Record.model_args`):
    `{"window": n}` from #13, #53's `mtp_weights` and `untied`."""
    rec = records.get(record)
    return rec.model_args(step, short_schedule(rec.optimizer.schedule))


def short_schedule(schedule: hp.Schedule) -> hp.Schedule:
    """The record's schedule squeezed into 12 steps, so a 10-step trajectory crosses warmup,
    plateau and decay (where the record has them) instead of sitting at step 0's warmup lr."""
    if isinstance(schedule, hp.CosineWithWarmup):
        return dataclasses.replace(schedule, warmup=3, num_iterations=12)
    if isinstance(schedule, hp.Trapezoid):
        return dataclasses.replace(schedule, warmup=2 if schedule.warmup else 0, warmdown=5, num_iterations=12)
    if isinstance(schedule, hp.CooldownToFloor) and schedule.extension:  # (extension_cools kept)
        # #35 on: 8 + 2 extension steps, so the trajectory ends on them and the final logits
        # run at the final validation's windows
        return dataclasses.replace(schedule, num_iterations=8, extension=2)
    if isinstance(schedule, hp.CooldownToFloor):
        return dataclasses.replace(schedule, num_iterations=12)
    if isinstance(schedule, (hp.StagedCooldown, hp.StageCooldown)):  # #46: peaks from steps 3 and 6, cooling from 4
        return dataclasses.replace(schedule, num_iterations=8, extension=2)
    raise TypeError(f"no short form for schedule {schedule!r}")


def recipe(record: str, ns_dtype: str) -> hp.OptimizerRecipe:
    """The record's optimizer on the short schedule, Newton-Schulz (and the buffer its updates
    are gathered in, #6 on) in `ns_dtype`: float32 for fp32 parity, bfloat16 as recorded."""
    r = records.get(record).optimizer
    # the reference is eager CPU torch: its scalar rounding in bf16 ops (jnano.hparams.DistAdam)
    r = r.with_schedule(short_schedule(r.schedule)).with_rules(ns_dtype=ns_dtype, scalar_semantics="cpu")
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
    if family == "flex":
        # upstream names the warmdown `warmdown_iters` (#12) or `cooldown_iters` (#13-#17); from
        # #18 the cooldown is a fraction and only the length changes
        out = dict(num_iterations=s.num_iterations, iteration_extension=s.extension,
                   num_scheduled_iterations=s.num_iterations, num_extension_iterations=s.extension)
        if isinstance(s, hp.Trapezoid):
            out.update(warmup_iters=s.warmup, warmdown_iters=s.warmdown, cooldown_iters=s.warmdown)
        return SimpleNamespace(**out)
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


def for_declared(args: dict, declared) -> dict:
    """`upstream_args` limited to the names the record declares. From #41 `num_iterations` is
    `num_scheduled_iterations + num_extension_iterations`, a class attribute computed once at
    definition: replacing the parts does not update it, so it is set too."""
    out = {k: v for k, v in args.items() if k in declared}
    if "num_scheduled_iterations" in declared and "num_iterations" in declared:  # (#65 computes it elsewhere)
        out["num_iterations"] = args["num_scheduled_iterations"] + args["num_extension_iterations"]
    return out


def table_args(record: str) -> dict:
    """Our record table (full schedule and batch geometry) in upstream's argument names, to
    check against what upstream itself declares (`ref.declared`)."""
    rec = records.get(record)
    t = rec.training
    out = vars(upstream_args(record, rec.optimizer)).copy()
    if entry_for(record).family == "flex":
        s = rec.optimizer.schedule
        if isinstance(s, (hp.CooldownToFloor, hp.StagedCooldown, hp.StageCooldown)):
            out.update(cooldown_frac=s.cooldown_frac, batch_size=t.batch_tokens)  # tokens, #18 on
        else:
            out.update(batch_size=t.batch_tokens // t.seq_len, device_batch_size=t.device_batch)  # rows
        out.update(sequence_length=t.seq_len, seq_len=t.seq_len, train_seq_len=t.seq_len,
                   val_loss_every=t.val_every, val_tokens=t.val_tokens)
        if t.batch_stages is not None:  # #46
            out.update(train_bs_schedule=t.batch_stages.stages, train_bs_extension=t.batch_stages.extension)
        return {**out, **upstream_model_args(record)}
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
