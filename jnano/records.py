"""The speedrun's record table: record id -> stage, numbers, date, time, description, upstream code.

Pure data (no JAX import). Facts come from upstream's README table, each record's code (its
`Hyperparameters`, `run.sh` or llm.c launch script) and `../shared/history.md` §1-2.

`python -m jnano.records` prints the table.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from jnano.hparams import (
    BatchStages,
    StageCooldown,
    StagedCooldown,
    StagedMultiTokenWeights,
    UntieAtStage,
    POLAR_EXPRESS_COEFFS,
    AdamW,
    BosAlignedData,
    Fixed,
    ClipGlobalNorm,
    CooldownToFloor,
    CosineWithWarmup,
    FP8_SCALES_21,
    DistAdam,
    GlobalData,
    Group,
    Muon,
    MultiTokenWeights,
    NormalizeEach,
    OptimizerRecipe,
    OrthogonalNesterov,
    PackedData,
    Select,
    SequentialData,
    StrideData,
    Training,
    Trapezoid,
    UntieAt,
    UntieWithCopy,
    Upstream,
)
from jnano.window_schedule import (BLOCKS_16, BLOCKS_18, BLOCKS_19, STAGES_65, THIRDS_29, THIRDS_31, THIRDS_33, THIRDS_42, TOKENS_13,
                                   TOKENS_15, WindowSchedule)

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
    window: WindowSchedule | None = None  # the attention window per step (#13 on), `model(idx, window=...)`
    # parameters the record keeps in bf16 (state_dict globs): `model.bfloat16()` but the linears
    # (#12-#17), the embedding tables (#18 on); the rest stay fp32 masters
    bf16_params: tuple[str, ...] = ()
    # #53 on: the training loss's per-step multi-token weights, `model.loss(..., mtp_weights=...)`
    multi_token: MultiTokenWeights | None = None

    @property
    def number(self) -> int:
        return int("".join(c for c in self.id if c.isdigit()))

    def model_args(self, step: int, schedule) -> dict[str, np.ndarray]:
        """The model's per-step arguments at `step` of the lr `schedule` (its length and
        extension, which a shortened run changes), evaluated on the host: the attention window
        (`window`, `final_window`), #53's `mtp_weights`, and `untied` where the optimizer unties
        the embedding (`OptimizerRecipe.untie`)."""
        n, ext = schedule.num_iterations, schedule.extension
        out = {k: np.int32(v) for k, v in self.window.args(step, n, ext).items()} if self.window else {}
        if self.multi_token is not None:
            out["mtp_weights"] = self.multi_token.weights(step, n, ext)
        if self.optimizer.untie is not None:
            out["untied"] = np.bool_(self.optimizer.untie.untied(step, n))
        return out


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


# --- records #12-#25: FlexAttention on one packed sequence per GPU -------------------------------

FLEX = _frozen(vocab_size=50304, n_layer=12, n_head=6, n_embd=768)


def _packed(steps: int, data, seq_len: int = 65_536, val_seq_len: int | None = None, world: int = 8) -> Training:
    """#12 on: each GPU trains on one packed row of `seq_len` tokens (documents back to back,
    split by BOS); validation every 125 steps over 10,485,760 tokens."""
    return Training(batch_tokens=seq_len * world, seq_len=seq_len, device_batch=1, num_iterations=steps,
                    val_every=125, data=data, val_seq_len=val_seq_len)


STRIDE_12 = StrideData(switch="ge")  # #12-#14
STRIDE_15 = StrideData(switch="ge_plus_1")  # #15-#17


def _short_rows(steps: int, data=SequentialData()) -> Training:
    """#21 on: 48K-token rows in training, 256K in validation, one pass over the files."""
    return _packed(steps, data, seq_len=49_152, val_seq_len=262_144)


def _flex_muon(lr: float, form: str, warmup_steps: int = 300, update_dtype: str | None = None,
               ns_form: str = "record11") -> Muon:
    return Muon(lr=lr, ns_normalize="rounded", ns_form=ns_form, qkv_split=False, scale="max1_ratio",
                update_dtype=update_dtype, momentum_warmup=(0.85, 0.95, warmup_steps), momentum_form=form)


def _flex_groups(embed: tuple[str, ...], blocks: str, scalars: tuple[str, ...], schedule, muon: Muon,
                 lr_head: float = 0.008, betas=(0.8, 0.95), eps: float = 1e-8) -> OptimizerRecipe:
    """#12-#23: Adam on the token tables (0.6), the head and the scalars (0.04); Muon on every
    block matrix."""
    return OptimizerRecipe(
        groups=(
            Group("embed", Select(embed), AdamW(lr=0.6, betas=betas, eps=eps)),
            Group("head", Select(("lm_head.weight",)), AdamW(lr=lr_head, betas=betas, eps=eps)),
            Group("muon", Select((blocks,), min_ndim=2), muon),
            Group("scalars", Select(scalars, max_ndim=1), AdamW(lr=0.04, betas=betas, eps=eps)),
        ),
        schedule=schedule,
    )


_H_NAMES = ("transformer.h.*", "skip_weights")
BF16_NOT_LINEAR_H = ("transformer.wte.weight", "transformer.vte.weight", "transformer.h.*.lambdas",
                     "transformer.h.*.attn.lamb", "transformer.h.*.attn.lambdas", "skip_weights")
BF16_NOT_LINEAR = ("embed.weight", "value_embeds.*", "blocks.*.lambdas", "blocks.*.attn.lambdas", "skip_weights")
BF16_TABLES = ("embed.weight", "value_embeds.*")
_BLOCK_NAMES = ("blocks.*", "skip_weights")
_TABLES = ("embed.weight", "value_embeds.*")


def _late_groups(steps: int, lr_head: float, eps: float, floor: float = 0.1) -> OptimizerRecipe:
    """#19-#23: one Adam (head, tables, scalars), Muon in its lerp form, cooldown to a floor."""
    return _flex_groups(_TABLES, "blocks.*", _BLOCK_NAMES, CooldownToFloor(steps, 0.4, floor),
                        _flex_muon(0.05, "lerp"), lr_head=lr_head, eps=eps)


def _dist_adam_groups(steps: int, cooldown_frac: float = 0.4, ns_form: str = "record11",
                      head_lr_mul: float = 27.5, eps: float = 1e-10,
                      state_dtype: str | None = None, muon: tuple[str, ...] = ("blocks.*",),
                      extension: int = 0, banks: tuple[str, ...] = (), muon_lr: float = 0.05,
                      polar_express: bool = False, muon_lr_muls: tuple[tuple[str, float], ...] = ()) -> OptimizerRecipe:
    """#24-#35: DistAdam at lr 0.008 times each parameter's `lr_mul` (tables 75, head 27.5 and
    from #28 1, scalars 5), Muon on the block matrices (#34: and the smear gate); #35's
    `extension` steps at the floor lr; #36's flat attention `banks`, orthogonalised as 4 blocks;
    #38's Polar Express; #42's per-parameter Muon `lr_mul`s (glob, multiplier)."""
    rule = lambda mul: DistAdam(lr=0.008 * mul, betas=(0.8, 0.95), eps=eps, state_dtype=state_dtype)  # noqa: E731
    muon_rule = _flex_muon(muon_lr, "lerp", ns_form=ns_form)
    if polar_express:
        muon_rule = replace(muon_rule, ns_normalize="polar38", ns_coefficients=POLAR_EXPRESS_COEFFS)
    bank_groups = (Group("muon_banks", Select(banks, min_ndim=2), replace(muon_rule, bank=4)),) if banks else ()
    bank_groups += tuple(Group(f"muon_x{mul:g}", Select((glob,), min_ndim=2), replace(muon_rule, lr_mul=mul))
                         for glob, mul in muon_lr_muls)
    return OptimizerRecipe(
        groups=(
            Group("embed", Select(_TABLES), rule(75.0)),
            Group("head", Select(("lm_head.weight",)), rule(head_lr_mul)),
            *bank_groups,
            Group("muon", Select(muon, min_ndim=2), muon_rule),
            Group("scalars", Select(("scalars",)), rule(5.0)),
        ),
        schedule=CooldownToFloor(steps, cooldown_frac, 0.1, extension),
    )


# #34 on: every Linear (the head, the attention and smear gates) in bf16 with the tables
BF16_SMEAR = BF16_TABLES + ("lm_head.weight", "blocks.*.attn.attn_gate.weight", "smear_gate.weight")
# #55: every nn.Linear is cast, the new gates too
BF16_GATES_55 = BF16_SMEAR + ("blocks.*.attn.value_embed_gate.weight", "skip_gate.weight")
# #56: the gate banks cast by main itself
BF16_GATE_BANKS_56 = BF16_TABLES + ("lm_head.weight", "smear_gate.weight", "skip_gate.weight", "attn_gate_bank",
                                    "ve_gate_bank")


def _rows_32k(steps: int) -> Training:
    """#39 on: 262,144-token steps, 32K per GPU; validation every 250 steps."""
    return replace(_packed(steps, PackedData(max_seq_len=2048), seq_len=32_768, val_seq_len=262_144), val_every=250)


# #38's optimizer, the base of #39's
_POLAR_EXPRESS_38 = _dist_adam_groups(1630, cooldown_frac=0.5, ns_form="triton27", head_lr_mul=1.0, eps=1e-8,
                                      state_dtype="bfloat16", muon=("blocks.*", "smear_gate.weight"), extension=40,
                                      banks=("blocks.*.attn.qkvo_w",), muon_lr=0.06, polar_express=True)

# #42's optimizer, the base of #43's
_NORMUON_42 = _dist_adam_groups(
    2245, cooldown_frac=0.5, ns_form="triton27", head_lr_mul=1.0, eps=1e-8, state_dtype="bfloat16",
    muon=("blocks.*", "smear_gate.weight"), extension=40, banks=("blocks.*.attn.qkvo_w",), muon_lr=0.03,
    polar_express=True, muon_lr_muls=(("blocks.*.mlp.c_fc", 2.0),)).with_rules(
    every=2, betas=(0.65, 0.95), momentum_warmup_form="set", momentum_cooldown=50, normuon_beta2=0.95,
    normuon_per_block=True, step_size_float64=True)
def _with_muon(recipe: OptimizerRecipe, **changes) -> OptimizerRecipe:
    """`recipe` with fields of every Muon group's rule changed (Adam's kept: #50 gives DistAdam a
    `cautious_weight_decay` of its own, which `with_rules` would set too)."""
    return replace(recipe, groups=tuple(replace(g, rule=replace(g.rule, **changes)) if isinstance(g.rule, Muon) else g
                                        for g in recipe.groups))


# #43's: cautious weight decay 1.2 on NorMuon (#44 the same)
_CAUTIOUS_43 = _with_muon(_NORMUON_42.with_schedule(CooldownToFloor(2205, 0.5, 0.1, extension=40)),
                          cautious_weight_decay=1.2)
# #46's: 131K, 262K, 393K tokens (16K, 32K, 48K per GPU) over the thirds, 393K in the extension,
# the peak lr growing with them (#47 the same)
_STAGED_BATCH_46 = replace(_rows_32k(2160), batch_tokens=131_072, seq_len=16_384,
                           batch_stages=BatchStages((131_072, 262_144, 393_216), extension=393_216))
_STAGED_46 = _with_muon(_CAUTIOUS_43, lr=0.023).with_schedule(
    StagedCooldown(2120, 0.55, 0.1, peaks=((0.33, 1.51), (0.66, 1.93)), extension=40))


def _premul_48(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#48's NorMuon over #47's groups: banks in row blocks, the MLP matrices apart (c_proj at
    lr x2 now, Polar Express with `B X` rounded before `+ a X`), the gates normalised per row,
    NorMuon fused throughout."""
    by_name = {g.name: g for g in recipe.groups}
    muon = replace(by_name["muon"].rule, normuon_form="fused")
    mlp = replace(muon, ns_form="split48")
    groups = (
        by_name["embed"], by_name["head"],
        Group("muon_banks", by_name["muon_banks"].select, replace(by_name["muon_banks"].rule, normuon_form="fused",
                                                                  bank_rows=True)),
        Group("mlp_x2", Select(("blocks.*.mlp.c_proj",), min_ndim=2), replace(mlp, lr_mul=2.0)),
        Group("mlp", Select(("blocks.*.mlp.c_fc",), min_ndim=2), mlp),
        Group("gates", by_name["muon"].select, replace(muon, normuon_axis="rows")),
        by_name["scalars"],
    )
    return replace(recipe, groups=groups)


# #49's: 2070 + 40 steps; the peaks step up past exactly a third and two thirds
_STAGED_BATCH_49 = replace(_STAGED_BATCH_46, num_iterations=2110)
_STAGED_49 = _premul_48(_STAGED_46).with_schedule(
    StagedCooldown(2070, 0.55, 0.1, peaks=((1 / 3, 1.51), (2 / 3, 1.93)), extension=40))

# #72's: #65's stages cutting documents at 896 tokens in the first (step 0 at the loader's 2048)
_SEQ_LEN_STAGES_72 = replace(_STAGED_BATCH_49.batch_stages, bounds="round", max_seq_lens=(896, 2048, 2048, 2048))

# #50's: cautious weight decay 0.005 on Adam's tables and head (the scalars' wd_mul is 0), 2050 + 40
_CAUTIOUS_ADAM_50 = replace(_STAGED_49, groups=tuple(
    replace(g, rule=replace(g.rule, cautious_weight_decay=0.005)) if g.name in ("embed", "head") else g
    for g in _STAGED_49.groups)).with_schedule(
    StagedCooldown(2050, 0.55, 0.1, peaks=((1 / 3, 1.51), (2 / 3, 1.93)), extension=40))



def _untied_53(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#53's: `embed` (back as a table) at the head's Adam (lr 0.008, cautious decay 0.005), the
    value tables at x75 in a group of their own; every DistAdam's cautious mask strict
    (`update * p > 0`); the head copied into `embed` at 2/3. 1880 + 40 steps, peaks 1.52, 1.73."""
    by_name = {g.name: g for g in recipe.groups}
    groups = (Group("embed", Select(("embed.weight",)), by_name["head"].rule),
              Group("value_embeds", Select(("value_embeds.*",)), by_name["embed"].rule)) + tuple(
        g for g in recipe.groups if g.name != "embed")
    return replace(recipe, groups=groups, untie=UntieAt()).with_rules(cautious_strict=True).with_schedule(
        StagedCooldown(1880, 0.55, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40))


def _managed_54(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#54's `TrainingManager`: the same groups and rules as #53, but the head is copied into
    `embed` where the model splits (`UntieWithCopy`), and the scalars never freeze
    (`start_transition`, which would set their 40-step `freeze_timer`, is never called).
    Cooldown 0.5, 1840 + 40 steps."""
    groups = tuple(replace(g, rule=replace(g.rule, freeze_after_transitions=0)) if g.name == "scalars" else g
                   for g in recipe.groups)
    return replace(recipe, groups=groups, untie=UntieWithCopy()).with_schedule(
        StagedCooldown(1840, 0.5, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40))


def _gated_55(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#55's: the skip gate at Adam lr x0.05 without decay (its `lr_mul`, `wd_mul = 0`); Adam's
    cautious decay scaled by `wd_mul`, x150 on `embed` and the head (0.75), x5 on the value
    tables (0.025). The value gates fall in NorMuon's gate group. 1805 + 40 steps."""
    wd_mul = {"embed": 150.0, "head": 150.0, "value_embeds": 5.0}
    groups = tuple(replace(g, rule=replace(g.rule, cautious_weight_decay=g.rule.cautious_weight_decay * wd_mul[g.name]))
                   if g.name in wd_mul else g for g in recipe.groups)
    smear = next(g.rule for g in recipe.groups if g.name == "smear")
    groups += (Group("skip_gate", Select(("skip_gate.weight",)), replace(smear, lr=0.008 * 0.05)),)
    return replace(recipe, groups=groups).with_schedule(
        StagedCooldown(1805, 0.5, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40))


def _gate_banks_56(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#56's: the gate banks on the first DistAdam (lr 0.008, betas 0.65/0.95, cautious decay
    0.005, no multipliers) instead of NorMuon's gate group; every DistAdam's moments float32.
    1785 + 40 steps."""
    head = next(g.rule for g in recipe.groups if g.name == "head")
    groups = tuple(g for g in recipe.groups if g.name != "gates") + (
        Group("gate_banks", Select(("attn_gate_bank", "ve_gate_bank")), replace(head, cautious_weight_decay=0.005)),)
    groups = tuple(replace(g, rule=replace(g.rule, state_dtype="float32")) if isinstance(g.rule, DistAdam) else g
                   for g in groups)
    return replace(recipe, groups=groups).with_schedule(
        StagedCooldown(1785, 0.5, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40))


# #57: one DistAdam with betas per table (upstream's `adam_betas`), eps 1e-10
_BETAS_57 = {"head": (0.5, 0.95), "embed": (0.5, 0.95), "value_embeds": (0.75, 0.95), "x0": (0.65, 0.95),
             "smear": (0.9, 0.99), "gate_banks": (0.9, 0.99), "skip_gate": (0.9, 0.99), "scalars": (0.9, 0.99)}


def _mixed_precision_57(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#57's: NorMuon's weights bf16 with a mantissa master (`Muon.master`); the scalars join the
    one DistAdam, which takes betas per table and eps 1e-10. 1800 + 40 steps."""
    groups = tuple(
        replace(g, rule=replace(g.rule, master="mantissa")) if isinstance(g.rule, Muon)
        else replace(g, rule=replace(g.rule, betas=_BETAS_57[g.name], eps=1e-10)) for g in recipe.groups)
    return replace(recipe, groups=groups).with_schedule(
        StagedCooldown(1800, 0.5, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40))


def _bigram_62(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#62's: the bigram table trained like the value tables (betas 0.75/0.95, lr x75, decay
    x5). 1560 + 40 steps, cooldown 0.55."""
    tables = next(g.rule for g in recipe.groups if g.name == "value_embeds")
    groups = recipe.groups + (Group("bigram", Select(("bigram_embed.weight",)), tables),)
    return replace(recipe, groups=groups).with_schedule(
        StagedCooldown(1560, 0.55, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40))


def _staged_65(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#65's `TrainingSchedule`: the lr by stage (1, 1.52, 1.73), cooling from `int(0.45 N)`,
    the split at `round(2N/3) | 1`; the value tables one parameter in Adam's value group."""
    groups = tuple(replace(g, select=Select(("value_embeds",))) if g.name == "value_embeds" else g
                   for g in recipe.groups)
    return replace(recipe, groups=groups, untie=UntieAtStage(synced_transpose=True)).with_schedule(
        StageCooldown(1535, 0.55, 0.1, (1.0, 1.52, 1.73), extension=40))


def _smoothed_scalars_52(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#52's groups: the smear gate leaves NorMuon for Adam (lr x0.01, no decay), `x0_lambdas`
    join Adam (lr x5, no decay), and the packed scalars get an Adam of their own, betas
    (0.9, 0.99), standing still for 40 steps from each stage change."""
    by_name = {g.name: g for g in recipe.groups}
    adam = replace(by_name["scalars"].rule, cautious_weight_decay=0.0)  # x5, every 2nd step, host step sizes
    groups = tuple(g for g in recipe.groups if g.name not in ("gates", "scalars")) + (
        Group("gates", Select(("blocks.*",), min_ndim=2), by_name["gates"].rule),
        Group("smear", Select(("smear_gate.weight",)), replace(adam, lr=0.008 * 0.01)),
        Group("x0", Select(("x0_lambdas",)), adam),
        Group("scalars", Select(("scalars",)), replace(adam, betas=(0.9, 0.99), freeze_after_transitions=40)),
    )
    return replace(recipe, groups=groups)


_MANAGED_54 = _managed_54(_untied_53(_smoothed_scalars_52(_CAUTIOUS_ADAM_50)))
_MIXED_57 = _mixed_precision_57(_gate_banks_56(_gated_55(_MANAGED_54)))
BF16_WEIGHTS_57 = BF16_GATE_BANKS_56 + ("blocks.*.attn.qkvo_w", "blocks.*.mlp.c_fc", "blocks.*.mlp.c_proj")
# #61: the weights in two banks (the head is bf16 from its constructor on)
BF16_BANKS_61 = BF16_GATE_BANKS_56 + ("attn_bank", "mlp_bank")
BF16_BIGRAM_62 = BF16_BANKS_61 + ("bigram_embed.weight",)


def _unified_61(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#61's `NorMuonAndAdam`: NorMuon on the two banks, each a stack of matrices (attention in
    (d, d) row blocks, the MLP's c_fc/c_proj with lr x1/x2), `eff_lr`/`eff_wd` Python products;
    Adam's groups as #57's; the embedding synced to the head's transpose until the split.
    1725 + 40 steps."""
    muon = next(g.rule for g in recipe.groups if g.name == "muon_banks")
    muon = replace(muon, master_products="float64")
    banks = (Group("attn", Select(("attn_bank",)), muon),
             Group("mlp", Select(("mlp_bank",)), replace(muon, bank=None, bank_rows=False, matrix_lr_mul=(1.0, 2.0))))
    groups = tuple(g for g in recipe.groups if not isinstance(g.rule, Muon)) + banks
    return replace(recipe, groups=groups, untie=replace(recipe.untie, synced_transpose=True)).with_schedule(
        StagedCooldown(1725, 0.5, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40))


def _lanes_73(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#73's: `x0_lambdas` gone; the per-sublayer `w_post`, `x0_lambda`, `bigram_lambda` (lr x1)
    and `resid_lambda` (lr x5) in Adam, betas (0.9, 0.95), no decay. 1470 + 40, cooldown 0.6."""
    x0 = next(g.rule for g in recipe.groups if g.name == "x0")
    lanes = replace(x0, betas=(0.9, 0.95))
    groups = tuple(g for g in recipe.groups if g.name != "x0") + (
        Group("lanes", Select(("w_post", "x0_lambda", "bigram_lambda")), replace(lanes, lr=0.008)),
        Group("resid", Select(("resid_lambda",)), replace(lanes, lr=0.008 * 5)))
    return replace(recipe, groups=groups).with_schedule(StageCooldown(1470, 0.6, 0.1, (1.0, 1.52, 1.73), extension=40))


def _layer_lambdas_74(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#74's: the lambdas by layer under new names (`post_lambdas`, `x0_lambdas`,
    `bigram_lambdas`, `resid_lambdas`), trained as #73's; NorMuon's momentum fused into its compiled
    orthogonalisation, `1 - mu` in float32. 1450 + 40, cooldown 0.6, floor 0.15."""
    groups = tuple(replace(g, select=Select(("post_lambdas", "x0_lambdas", "bigram_lambdas"))) if g.name == "lanes"
                   else replace(g, select=Select(("resid_lambdas",))) if g.name == "resid"
                   else replace(g, rule=replace(g.rule, momentum_complement="float32")) if isinstance(g.rule, Muon)
                   else g for g in recipe.groups)
    return replace(recipe, groups=groups).with_schedule(StageCooldown(1450, 0.6, 0.15, (1.0, 1.52, 1.73), extension=40))


# #74's (master after #72): the first stage's cut, 896, from step 0
_SEQ_LEN_STAGES_74 = replace(_STAGED_BATCH_49, num_iterations=1490, data=PackedData(max_seq_len=896),
                             batch_stages=_SEQ_LEN_STAGES_72)


# #74-#76's fields (one function: #75 and #76 change kernels only)
_FLATTENED_74 = dict(
    stage="s37_flattened_forward",
    model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
    training=_SEQ_LEN_STAGES_74,
    optimizer=_layer_lambdas_74(_lanes_73(_staged_65(_bigram_62(_unified_61(_MIXED_57))))),
    bf16_params=BF16_BIGRAM_62,
    window=STAGES_65,
    multi_token=StagedMultiTokenWeights(),
)

# #78's: NorMuon's second moment with beta2 0.9; cu_seqlens sized by stage
_SAVED_ACTIVATION_78 = {
    **_FLATTENED_74,
    "stage": "s38_single_saved_activation",
    "training": replace(_SEQ_LEN_STAGES_74, data=PackedData(
        max_seq_len=896, max_num_docs=((16_384, 64), (32_768, 96), (49_152, 128)))),
    "optimizer": replace(_FLATTENED_74["optimizer"], groups=tuple(
        replace(g, rule=replace(g.rule, normuon_beta2=0.9)) if isinstance(g.rule, Muon) else g
        for g in _FLATTENED_74["optimizer"].groups)),
}


_BF16_HEAD_PAIRS_80 = tuple(p for p in BF16_BIGRAM_62 if p != "attn_bank") + ("qk_bank", "vo_bank")


def _head_pair_banks_80(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#80's: NorMuon on `qk_bank` and `vo_bank`, each a stack of matrices stepped one by one
    (head-pair Q/K blocks, V and O), as the MLP bank's but for its lr x2. 1440 + 40."""
    attn = next(g.rule for g in recipe.groups if g.name == "attn")
    stack = replace(attn, bank=None, bank_rows=False, matrix_lr_mul=(1.0,))
    groups = tuple(g for g in recipe.groups if g.name != "attn") + (
        Group("qk", Select(("qk_bank",)), stack), Group("vo", Select(("vo_bank",)), stack))
    return replace(recipe, groups=groups).with_schedule(StageCooldown(1440, 0.6, 0.15, (1.0, 1.52, 1.73), extension=40))


def _mudd_81(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#81's: the MUDD tensors in Adam as the gate banks (betas 0.9/0.99, cautious decay 0.005)
    at lr x0.25, the bias without decay. 1405 + 10."""
    banks = next(g.rule for g in recipe.groups if g.name == "gate_banks")
    mudd = replace(banks, lr=banks.lr * 0.25)
    groups = recipe.groups + (Group("mudd", Select(("dense_w1", "dense_w2")), mudd),
                              Group("mudd_bias", Select(("dense_bs",)), replace(mudd, cautious_weight_decay=0.0)))
    return replace(recipe, groups=groups).with_schedule(StageCooldown(1405, 0.6, 0.15, (1.0, 1.52, 1.73), extension=10))


def _xsa_82(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#82's: `xsa_alphas` in Adam with the lambdas (betas 0.9/0.95, lr x1, no decay). 1410 + 40."""
    lanes = next(g.rule for g in recipe.groups if g.name == "lanes")
    return replace(recipe, groups=recipe.groups + (Group("xsa", Select(("xsa_alphas",)), lanes),)).with_schedule(
        StageCooldown(1410, 0.6, 0.15, (1.0, 1.52, 1.73), extension=40))


def _bigram_signs_83(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#83's: the sign table is a buffer (never stepped). 1440 + 40, as #80."""
    return replace(recipe, groups=recipe.groups + (Group("buffers", Select(("bigram_sign_table",)), Fixed()),))


_BF16_MUDD_GATES_85 = ("mudd_w1", "mudd_w2", "mudd_b2", "mudd_gate_w1", "mudd_gate_w2", "mudd_gate_b2",
                       "bigram_sign_table")


def _mudd_gates_85(recipe: OptimizerRecipe) -> OptimizerRecipe:
    """#85's: the gates and lambdas that left the model leave the table; the MUDD tensors in Adam
    as #81's (lr x0.25, the bias without decay), the MUDD gate's likewise at lr x0.1 (its bias and
    `_mudd_gate_scale` without decay); the sign table fixed. 1275 + 15."""
    banks = next(g.rule for g in recipe.groups if g.name == "gate_banks")
    gone = {"skip_gate.weight", "attn_gate_bank", "x0_lambdas", "bigram_lambdas"}
    kept = tuple(replace(g, select=replace(g.select, names=tuple(n for n in g.select.names if n not in gone)))
                 for g in recipe.groups if set(g.select.names) - gone)
    mudd, gate = replace(banks, lr=banks.lr * 0.25), replace(banks, lr=banks.lr * 0.1)
    groups = kept + (
        Group("mudd", Select(("mudd_w1", "mudd_w2")), mudd),
        Group("mudd_bias", Select(("mudd_b2",)), replace(mudd, cautious_weight_decay=0.0)),
        Group("mudd_gate", Select(("mudd_gate_w1", "mudd_gate_w2")), gate),
        Group("mudd_gate_bias", Select(("mudd_gate_b2", "_mudd_gate_scale")), replace(gate, cautious_weight_decay=0.0)),
        Group("buffers", Select(("bigram_sign_table",)), Fixed()))
    return replace(recipe, groups=groups).with_schedule(StageCooldown(1275, 0.6, 0.15, (1.0, 1.52, 1.73), extension=15))


# #85's fields (#86 changes the schedule)
_MUDD_GATES_85 = {
    **_SAVED_ACTIVATION_78, "stage": "s45_mudd_gates_dc",
    "training": replace(_SAVED_ACTIVATION_78["training"], num_iterations=1290),
    "optimizer": _mudd_gates_85(_head_pair_banks_80(_SAVED_ACTIVATION_78["optimizer"])),
    "bf16_params": _BF16_HEAD_PAIRS_80 + _BF16_MUDD_GATES_85,
}


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
    Record(
        id="12",
        date="2024-11-19",
        time="5.03 minutes",
        description="1024-ctx dense causal attention -> 64K-ctx FlexAttention",
        stage="s7_flex",
        model=FLEX,
        training=_packed(1875, STRIDE_12),
        optimizer=_flex_groups(("transformer.wte.weight",), "transformer.h.*", _H_NAMES,
                               Trapezoid(warmup=0, warmdown=562, num_iterations=1875),
                               _flex_muon(0.04, "sum", 500, "bfloat16"), betas=(0.9, 0.95)),
        bf16_params=BF16_NOT_LINEAR_H,
        upstream=_log("2024-11-19_FlexAttention/8384493d-dba9-4991-b16b-8696953f5e6d.txt"),
        notes="Window fixed at 1024 tokens (the mask_mod's q - k < 1024).",
    ),
    Record(
        id="13",
        date="2024-11-24",
        time="4.66 minutes",
        description="Attention window warmup",
        stage="s7_flex",
        model=FLEX,
        training=_packed(1750, STRIDE_12),
        optimizer=_flex_groups(("transformer.wte.weight",), "transformer.h.*", _H_NAMES,
                               Trapezoid(warmup=0, warmdown=640, num_iterations=1750),
                               _flex_muon(0.05, "sum", 300, "bfloat16")),
        bf16_params=BF16_NOT_LINEAR_H,
        upstream=_log("2024-11-24_WindowWarmup/cf9e4571-c5fc-4323-abf3-a98d862ec6c8.txt"),
        window=TOKENS_13,
    ),
    Record(
        id="14",
        date="2024-12-04",
        time="4.41 minutes",
        description="Value Embeddings",
        stage="s8_value_embeds",
        model=FLEX,
        training=_packed(1530, STRIDE_12),
        optimizer=_flex_groups(("transformer.wte.weight", "transformer.vte.weight"), "transformer.h.*", _H_NAMES,
                               Trapezoid(warmup=0, warmdown=600, num_iterations=1530),
                               _flex_muon(0.05, "sum", 300, "bfloat16")),
        bf16_params=BF16_NOT_LINEAR_H,
        upstream=_log("2024-12-04_ValueEmbed/00008ea0-21dd-442a-82ee-d12799249d0f.txt"),
        window=TOKENS_13,
    ),
    Record(
        id="15",
        date="2024-12-08",
        time="3.95 minutes",
        description="U-net pattern value embeddings, assorted code optimizations",
        stage="s8b_unet_value_embeds",
        model=FLEX,
        training=_packed(1480, STRIDE_15),
        optimizer=_flex_groups(("transformer.wte.weight", "transformer.vte.weight"), "transformer.h.*", _H_NAMES,
                               Trapezoid(warmup=0, warmdown=600, num_iterations=1480), _flex_muon(0.05, "lerp")),
        bf16_params=BF16_NOT_LINEAR_H,
        upstream=_log("2024-12-08_UNetValueEmbedsTweaks/0069607b-aa90-49fd-9766-4368bcd168c4.txt"),
        window=TOKENS_15,
    ),
    Record(
        id="16",
        date="2024-12-10",
        time="3.80 minutes",
        description="Split value embeddings, block sliding window, separate block mask",
        stage="s8c_block_window",
        model=FLEX,
        training=_packed(1480, STRIDE_15),
        optimizer=_flex_groups(_TABLES, "blocks.*", _BLOCK_NAMES,
                               Trapezoid(warmup=0, warmdown=600, num_iterations=1480), _flex_muon(0.05, "lerp")),
        bf16_params=BF16_NOT_LINEAR,
        upstream=_log("2024-12-10_MFUTweaks/04df8c70-2462-4b6c-9e49-c7589b321a81.txt"),
        window=BLOCKS_16,
    ),
    Record(
        id="17",
        date="2024-12-17",
        time="3.57 minutes",
        description="Sparsify value embeddings, improve rotary embeddings, drop an attn layer",
        stage="s9_sparse_value_embeds",
        model=_frozen(**{**FLEX, "vocab_size": 50257}),
        training=_packed(1490, STRIDE_15),
        optimizer=_flex_groups(_TABLES, "blocks.*", _BLOCK_NAMES,
                               Trapezoid(warmup=0, warmdown=600, num_iterations=1490), _flex_muon(0.05, "lerp")),
        bf16_params=BF16_NOT_LINEAR,
        upstream=_log("2024-12-17_SparsifyEmbeds/165384d5-5a41-4fba-9b79-8ecc372616ea.txt"),
        window=BLOCKS_16,
        notes="Token tables have 50257 rows, the head 50304: the 47 padding logits enter the softmax.",
    ),
    Record(
        id="18",
        date="2025-01-04",
        time="3.4 minutes",
        description="Lower logit softcap from 30 to 15",
        stage="s9_sparse_value_embeds",
        model=_frozen(**FLEX, softcap=15.0, rope_dtype="float32"),
        training=_packed(1390, GlobalData()),
        optimizer=_flex_groups(_TABLES, "blocks.*", _BLOCK_NAMES, CooldownToFloor(1390, 0.4, 0.0),
                               _flex_muon(0.05, "lerp")),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-01-04_SoftCap/31d6c427-f1f7-4d8a-91be-a67b5dcd13fd.txt"),
        window=BLOCKS_18,
        notes="Only the embeddings run in bf16 from here on (no whole-model cast); the loader reads "
              "the global batch (era B).",
    ),
    Record(
        id="19",
        date="2025-01-13",
        time="3.142 minutes",
        description="FP8 head, offset logits, lr decay to 0.1 instead of 0.0",
        stage="s10_fp8_head",
        model=_frozen(**{**FLEX, "vocab_size": 50257}),
        training=_packed(1395, SequentialData()),
        optimizer=_late_groups(1395, lr_head=0.008, eps=1e-8),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-01-13_Fp8LmHead/c51969c2-d04c-40a7-bcea-c092c3c2d11a.txt"),
        window=BLOCKS_19,
        notes="FP8 head scales x 2, w 32, grad 2**29: tuned for the mean over 65,536 tokens; below "
              "~9.4K tokens per loss the e5m2 gradient overflows.",
    ),
    Record(
        id="20",
        date="2025-01-16",
        time="2.992 minutes",
        description="Merged QKV weights, long-short attention, attention scale, lower Adam epsilon, batched Muon",
        stage="s11_merged_qkv",
        model=_frozen(**{**FLEX, "vocab_size": 50257}),
        training=_packed(1393, SequentialData()),
        optimizer=_late_groups(1393, lr_head=0.008, eps=1e-10),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-01-16_Sub3Min/1d3bd93b-a69e-4118-aeb8-8184239d7566.txt"),
        window=BLOCKS_19,
    ),
    Record(
        id="21",
        date="2025-01-26",
        time="2.933 minutes",
        description="Reduced batch size",
        stage="s11_merged_qkv",
        model=_frozen(**{**FLEX, "vocab_size": 50257}, head_fp8=FP8_SCALES_21),
        training=_short_rows(1770),
        optimizer=_late_groups(1770, lr_head=0.008, eps=1e-10),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-01-26_BatchSize/c44090cc-1b99-4c95-8624-38fb4b5834f9.txt"),
        window=BLOCKS_19,
        notes="48K tokens per GPU in training, 256K in validation; FP8 head scales x 2, w 2**9, grad 2**19.",
    ),
    Record(
        id="21b",
        date="2025-02-01",
        time="2.997 minutes",
        description="21st record with new timing",
        stage="s12_list_value_embeds",
        model=_frozen(**{**FLEX, "vocab_size": 50257}, head_fp8=FP8_SCALES_21),
        training=_short_rows(1770),
        optimizer=_late_groups(1770, lr_head=0.008, eps=1e-10),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-02-01_RuleTweak/eff63a8c-2f7e-4fc5-97ce-7f600dae0bc7.txt"),
        window=BLOCKS_19,
        notes="#21's function; value tables renamed value_embeds.{i}; 10 untimed warmup steps "
              "whose state is restored (no effect on the run).",
    ),
    Record(
        id="21c",
        date="2025-05-24",
        time="3.014 minutes",
        description="21st record with latest torch",
        stage="s12b_scaled_logits",
        model=_frozen(**{**FLEX, "vocab_size": 50257}),
        training=_short_rows(1770),
        optimizer=_late_groups(1770, lr_head=0.22, eps=1e-10),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-05-24_StableTorch/89d9f224-3b01-4581-966e-358d692335e0.txt"),
        notes="Re-timing of #21 on newer torch that changes the math: the FP8 head divides by its scales "
              "(sqrt(768)/448, 24/448, 1/448), logits 30 sigmoid(z/(7.5 sqrt(768))), the training loss is "
              "summed per rank, head lr 0.22.",
        window=BLOCKS_19,
    ),
    Record(
        id="22",
        date="2025-05-24",
        time="2.990 minutes",
        description="Faster gradient all-reduce",
        stage="s12b_scaled_logits",
        model=_frozen(**{**FLEX, "vocab_size": 50257}),
        training=_short_rows(1770),
        optimizer=_late_groups(1770, lr_head=0.22, eps=1e-10),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-05-24_FasterReduce/23f40b75-06fb-4c3f-87a8-743524769a35.txt"),
        window=BLOCKS_19,
        notes="#21c's math; gradients reduced in buckets (an identity on one device).",
    ),
    Record(
        id="23",
        date="2025-05-25",
        time="2.979 minutes",
        description="Overlap computation and gradient communication",
        stage="s12b_scaled_logits",
        model=_frozen(**{**FLEX, "vocab_size": 50257}),
        training=_short_rows(1770),
        optimizer=_late_groups(1770, lr_head=0.22, eps=1e-10),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-05-25_EvenFasterReduce/6ae86d05-5cb2-4e40-a512-63246fd08e45.txt"),
        window=BLOCKS_19,
        notes="#21c's math; gradient all-reduce started from post-accumulate-grad hooks.",
    ),
    Record(
        id="24",
        date="2025-05-30",
        time="2.966 minutes",
        description="Replace gradient all_reduce with reduce_scatter",
        stage="s13_packed_scalars",
        model=FLEX,
        training=_short_rows(1770),
        optimizer=_dist_adam_groups(1770),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-05-30_noallreduce/8054c239-3a18-499e-b0c8-dbd27cb4b3ab.txt"),
        window=BLOCKS_19,
        notes="DistAdam: eps outside the bias correction, state in the parameter dtype; forward under "
              "bf16 autocast (the same dtype flow as #21c).",
    ),
    Record(
        id="25",
        date="2025-07-13",
        time="2.896 minutes",
        description="Upgrade PyTorch to 2.9.0.dev20250713+cu126",
        stage="s13_packed_scalars",
        model=FLEX,
        training=_short_rows(1770),
        optimizer=_dist_adam_groups(1770),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-07-13_UpgradeTorch190/692f80e0-5e64-4819-97d4-0dc83b7106b9.txt"),
        window=BLOCKS_19,
    ),
    Record(
        id="26",
        date="2025-07-13",
        time="2.863 minutes",
        description="Align training batch starts with EoS, increase cooldown frac to .45",
        stage="s13_packed_scalars",
        model=FLEX,
        training=_short_rows(1750, BosAlignedData()),
        optimizer=_dist_adam_groups(1750, cooldown_frac=0.45),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-07-12_BosAlign/c1fd8a38-bb9f-45c4-8af0-d37f70c993f3.txt"),
        window=BLOCKS_19,
        notes="The model and optimizers are #25's; only the training loader changes (every rank's row "
              "starts at a BOS). The log's min lr is 0.1; the 20 validation runs used 0.05.",
    ),
    Record(
        id="27",
        date="2025-07-18",
        time="2.817 minutes",
        description="Transpose one of the MLP matrices + add Triton kernel for symmetric matmul",
        stage="s15_qkvo_bank",
        model=FLEX,
        training=_short_rows(1750, BosAlignedData()),
        optimizer=_dist_adam_groups(1750, cooldown_frac=0.45, ns_form="triton27"),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-07-18_TritonMuon/record.txt"),
        window=BLOCKS_19,
        notes="Newton-Schulz through Triton kernels: `c A A + b A` and `a X + B X` each round once. "
              "Upstream's loader gains gradient accumulation (8 // world_size), 1 on 8 GPUs.",
    ),
    Record(
        id="28",
        date="2025-08-23",
        time="2.812 minutes",
        description="Sparse attention gate",
        stage="s16_attention_gate",
        model=FLEX,
        training=_short_rows(1695, BosAlignedData()),
        optimizer=_dist_adam_groups(1695, cooldown_frac=0.45, ns_form="triton27", head_lr_mul=1.0),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-08-23_SparseAttnGate/020630eb-2191-4ba2-9ee4-4cdc94316943.txt"),
        window=BLOCKS_19,
        notes="The gate `attn.dampen` (6, 12) is 2-D and in `blocks`: Muon trains it.",
    ),
    Record(
        id="29",
        date="2025-09-03",
        time="2.731 minutes",
        description="Flash Attention 3, 2048 max_doc_len, update ws schedule",
        stage="s17_varlen",
        model=_frozen(**FLEX, window=11),
        training=_short_rows(1670, PackedData(max_seq_len=2048)),
        optimizer=_dist_adam_groups(1670, cooldown_frac=0.45, ns_form="triton27", head_lr_mul=1.0),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-09-03_FA3/44fc1276-0510-4961-92c0-730c65e5feba.txt"),
        window=THIRDS_29,
        notes="393,216 tokens per step (24 x 2048 per GPU) packed from whole documents cut at 2048; "
              "30 untimed warmup steps cycle through the window sizes (restored before training).",
    ),
    Record(
        id="30",
        date="2025-09-05",
        time="2.717 minutes",
        description="Drop first MLP layer",
        stage="s17b_no_first_mlp",
        model=_frozen(**FLEX, window=11),
        training=_short_rows(1705, PackedData(max_seq_len=2048)),
        optimizer=_dist_adam_groups(1705, cooldown_frac=0.45, ns_form="triton27", head_lr_mul=1.0),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-09-05_SkipMLPBlocks/07e7ae76-b7d0-4481-b149-01e7d81b5ad4.txt"),
        window=THIRDS_29,
    ),
    Record(
        id="31",
        date="2025-09-10",
        time="2.656 minutes",
        description="Dynamically incorporate YaRN during training and validation",
        stage="s18_yarn",
        model=_frozen(**FLEX, window=13),
        training=_short_rows(1670, PackedData(max_seq_len=2048)),
        optimizer=_dist_adam_groups(1670, cooldown_frac=0.5, ns_form="triton27", head_lr_mul=1.0),
        bf16_params=BF16_TABLES,
        upstream=_log("2025-09-10_Yarn/0ecdb695-510b-4c3b-b030-09861a162ce8.txt"),
        window=THIRDS_31,
        notes="The final validation runs at window 13 (YaRN 11 -> 13).",
    ),
    Record(
        id="32",
        date="2025-09-11",
        time="2.625 minutes",
        description="Optimize distributed training, improve skip connection gating, and enhance bfloat16 usage",
        stage="s18b_skip_gates",
        model=_frozen(**FLEX, window=13),
        training=_short_rows(1670, PackedData(max_seq_len=2048)),
        optimizer=_dist_adam_groups(1670, cooldown_frac=0.5, ns_form="triton27", head_lr_mul=1.0, eps=1e-8,
                                    state_dtype="bfloat16"),
        bf16_params=BF16_TABLES + ("lm_head.weight", "blocks.*.attn.attn_gate.weight"),
        upstream=_log("2025-09-11_VectSigmoidBFloat16/0d0d9882-c34f-4d82-b961-a17d5659c988.txt"),
        window=THIRDS_31,
        notes="Adam's moments are bf16 (also at fp32 parity: upstream makes them so explicitly).",
    ),
    Record(
        id="33",
        date="2025-09-15",
        time="2.565 minutes",
        description="Asynchronously fetch and index data batches, extend final layer attention window for validation",
        stage="s18c_final_layer_window",
        model=_frozen(**FLEX, window=13),
        training=_short_rows(1660, PackedData(max_seq_len=2048)),
        optimizer=_dist_adam_groups(1660, cooldown_frac=0.5, ns_form="triton27", head_lr_mul=1.0, eps=1e-8,
                                    state_dtype="bfloat16"),
        bf16_params=BF16_TABLES + ("lm_head.weight", "blocks.*.attn.attn_gate.weight"),
        upstream=_log("2025-09-15_AsyncDataLoadAttnFinalWindow/25db37c7-2bab-4ef4-ae63-d593590ef823.txt"),
        window=THIRDS_33,
        notes="The final validation runs the last layer at 20 blocks (the others at 13, YaRN for 13).",
    ),
    Record(
        id="34",
        date="2025-09-18",
        time="2.547 minutes",
        description="Smear token embeddings 1 position forward",
        stage="s18d_smear",
        model=_frozen(**FLEX, window=13),
        training=_short_rows(1645, PackedData(max_seq_len=2048)),
        optimizer=_dist_adam_groups(1645, cooldown_frac=0.5, ns_form="triton27", head_lr_mul=1.0, eps=1e-8,
                                    state_dtype="bfloat16", muon=("blocks.*", "smear_gate.weight")),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-09-18_Smear/18a1e5c7-947e-479d-bc3a-a57a61a98fc9.txt"),
        window=THIRDS_33,
        notes="The smear gate is a Muon parameter (a 1 x 12 matrix, its own shape group).",
    ),
    Record(
        id="35",
        date="2025-09-21",
        time="2.527 minutes",
        description="Drop first attn layer, extend all long windows for validation, update schedule",
        stage="s19_drop_first_attention",
        model=_frozen(**FLEX, window=13),
        training=_short_rows(1680, PackedData(max_seq_len=2048)),
        optimizer=_dist_adam_groups(1640, cooldown_frac=0.5, ns_form="triton27", head_lr_mul=1.0, eps=1e-8,
                                    state_dtype="bfloat16", muon=("blocks.*", "smear_gate.weight"), extension=40),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-09-21_DropAttn/01fc4a96-f2a0-47a1-8a6a-c7d10bac99fe.txt"),
        window=THIRDS_33,
        notes="1640 scheduled steps + 40 at the floor lr; the final validation runs layers 4 and 11 at 20 blocks.",
    ),
    Record(
        id="36",
        date="2025-09-23",
        time="2.495 minutes",
        description="MuonCustomSizing, perform mlp and attn reduce scatter in shared call",
        stage="s19b_flat_qkvo_bank",
        model=_frozen(**FLEX, window=13),
        training=_short_rows(1680, PackedData(max_seq_len=2048)),
        optimizer=_dist_adam_groups(1640, cooldown_frac=0.5, ns_form="triton27", head_lr_mul=1.0, eps=1e-8,
                                    state_dtype="bfloat16", muon=("blocks.*", "smear_gate.weight"), extension=40,
                                    banks=("blocks.*.attn.qkvo_w",)),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-09-23_MuonCustomSizing/b067b4ac-72a6-4436-a6f8-ea51c1efeef3.txt"),
        window=THIRDS_33,
        notes="qkvo_w is stored (768, 3072); Muon orthogonalises it as its four (768, 768) blocks.",
    ),
    Record(
        id="37",
        date="2025-09-27",
        time="2.483 minutes",
        description="Compute cross entropy in BF16 during training",
        stage="s19c_bf16_cross_entropy",
        model=_frozen(**FLEX, window=13),
        training=_short_rows(1680, PackedData(max_seq_len=2048)),
        optimizer=_dist_adam_groups(1640, cooldown_frac=0.5, ns_form="triton27", head_lr_mul=1.0, eps=1e-8,
                                    state_dtype="bfloat16", muon=("blocks.*", "smear_gate.weight"), extension=40,
                                    banks=("blocks.*.attn.qkvo_w",)),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-09-27_BF16CE/08c0770f-17fc-44cd-971d-734a7a28a3e3.txt"),
        window=THIRDS_33,
        notes="The training loss is a bf16 number (bf16 cross entropy on bf16 logits).",
    ),
    Record(
        id="38",
        date="2025-09-29",
        time="2.476 minutes",
        description="Polar Express, replacement for Newton-Schulz",
        stage="s19c_bf16_cross_entropy",
        model=_frozen(**FLEX, window=13),
        training=_short_rows(1670, PackedData(max_seq_len=2048)),
        optimizer=_POLAR_EXPRESS_38,
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-09-29_PolarExpress/0e3f0af5-ad08-47a6-813d-0c709b50d422.txt"),
        window=THIRDS_33,
        notes="Muon orthogonalises by Polar Express (5 tuned iterations) at lr 0.06; the model is #37's.",
    ),
    Record(
        id="39",
        date="2025-09-30",
        time="2.447 minutes",
        description="Only update Adam params every other step, reduce batch size",
        stage="s19c_bf16_cross_entropy",
        model=_frozen(**FLEX, window=13),
        training=_rows_32k(2420),
        optimizer=_POLAR_EXPRESS_38.with_schedule(CooldownToFloor(2380, 0.4, 0.1, extension=40)).with_rules(
            every=2, betas=(0.7, 0.95), momentum_warmup_form="hold", momentum_cooldown=50),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-09-30_CustomBatching/40b101b1-77ea-45ea-a089-1d3a647daa22.txt"),
        window=THIRDS_33,
        notes="262K-token steps (32K per GPU); Adam steps on odd steps on two steps' gradients; Muon's "
              "momentum holds at 0.94967 after its warmup and cools to 0.85 over the last 50 steps.",
    ),
    Record(
        id="40",
        date="2025-10-04",
        time="2.358 minutes",
        description="Backout, misc hyperparameter tuning, optimize lambda padding",
        stage="s20_backout",
        model=_frozen(**FLEX, window=13),
        training=_rows_32k(2330),
        optimizer=_POLAR_EXPRESS_38.with_schedule(CooldownToFloor(2290, 0.45, 0.1, extension=40)).with_rules(
            every=2, betas=(0.65, 0.95), momentum_warmup_form="hold", momentum_cooldown=50),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-10-04_Backout/514e7581-fbd4-4338-a3e4-e556f9c958ce.txt"),
        window=THIRDS_33,
        notes="Backout: x -= lambda * (block 8's output) before the final norm; Adam betas (0.65, 0.95).",
    ),
    Record(
        id="41",
        date="2025-10-24",
        time="2.345 minutes",
        description="NorMuon",
        stage="s20_backout",
        model=_frozen(**FLEX, window=13),
        training=_rows_32k(2315),
        optimizer=_POLAR_EXPRESS_38.with_schedule(
            CooldownToFloor(2275, 0.45, 0.1, extension=40, extension_cools=True)).with_rules(
            every=2, betas=(0.65, 0.95), momentum_warmup_form="set", momentum_cooldown=50, normuon_beta2=0.95),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-10-24_NorMuon/088a77ee-9b67-475a-bbb9-3e92e4698799.txt"),
        window=THIRDS_33,
        notes="NorMuon (beta2 0.95); the lr cools over all 2315 steps, the windows over the 2275 scheduled ones; "
              "Muon's momentum is 0.95 after the warmup again.",
    ),
    Record(
        id="42",
        date="2025-10-27",
        time="2.313 minutes",
        description="Update NorMuon LR, Step Logic",
        stage="s20_backout",
        model=_frozen(**FLEX, window=13),
        training=_rows_32k(2285),
        optimizer=_NORMUON_42,
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-10-27_FixMuonLR/14afd380-d3d9-48d7-ad23-4c13cb96754b.txt"),
        window=THIRDS_42,
        notes="NorMuon lr 0.03 (c_fc 0.06), banks normalised per block; the extension runs at window 13.",
    ),
    Record(
        id="43",
        date="2025-11-10",
        time="2.284 minutes",
        description="Cautious weight decay w/ schedule",
        stage="s20_backout",
        model=_frozen(**FLEX, window=13),
        training=_rows_32k(2245),
        optimizer=_CAUTIOUS_43,
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-11-10_CautiousWD/1aac0132-a891-4ed9-b358-0fd2abd1b019.txt"),
        window=THIRDS_42,
        notes="Cautious weight decay 1.2 on NorMuon, scaled by the scheduled lr: a weight decays only "
              "where its update has its sign.",
    ),
    Record(
        id="44",
        date="2025-11-16",
        time="2.269 minutes",
        description="Backward hooks on Adam, Profiling 101",
        stage="s20_backout",
        model=_frozen(**FLEX, window=13),
        training=_rows_32k(2245),
        optimizer=_CAUTIOUS_43,
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-10-31_AdamSyncGradientHook/0c17cdfd-772c-4906-8d11-141b370599a0.txt"),
        window=THIRDS_42,
        notes="Systems only: Adam's reduce-scatters start in gradient hooks during the backward of odd "
              "steps; the same function as #43.",
    ),
    Record(
        id="45",
        date="2025-11-18",
        time="2.248 minutes",
        description="Refine skip arch, update exponential decay init",
        stage="s21_single_skip",
        model=_frozen(**FLEX, window=13),
        training=_rows_32k(2225),
        optimizer=_CAUTIOUS_43.with_schedule(CooldownToFloor(2185, 0.5, 0.1, extension=40)),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-11-18_RefineSkip/00f4e1e6-0044-4a08-b88a-3b7ec0624081.txt"),
        window=THIRDS_42,
        notes="One skip connection, block 4 -> block 7; the blocks' stream lambdas start at 1.1.",
    ),
    Record(
        id="46",
        date="2025-11-29",
        time="2.203 minutes",
        description="Batch size schedule",
        stage="s21_single_skip",
        model=_frozen(**FLEX, window=13),
        training=_STAGED_BATCH_46,
        optimizer=_STAGED_46,
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-11-29_BatchSizeSchedule/10e8f7c6-7175-4467-bdb0-a5de25d771a6.txt"),
        window=THIRDS_42,
        notes="The batch grows 131K -> 262K -> 393K tokens over the thirds of the schedule, the peak lr "
              "with it (x1, x1.51, x1.93); cooldown over the last 55%, the extension at the floor; NorMuon lr 0.023.",
    ),
    Record(
        id="47",
        date="2025-12-10",
        time="2.193 minutes",
        description="Multiply attn lambda with weight instead of data, fix warmup",
        stage="s22_lambda_on_weights",
        model=_frozen(**FLEX, window=13),
        training=_STAGED_BATCH_46,
        optimizer=_STAGED_46,
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-12-10_SALambdaOnWeights/15ef5eaf-56e1-40e1-9ddf-af010027c9dd.txt"),
        window=THIRDS_42,
        notes="The attention's lambda_0 multiplies the q/k/v weights, not the values; the compile warmup "
              "runs #46's stages (outside the function).",
    ),
    Record(
        id="48",
        date="2025-12-11",
        time="2.170 minutes",
        description="Speed up Muon, additional pre-multiply lambda, reshape matrices, update lr, update NorMuon axis",
        stage="s22b_premul_out",
        model=_frozen(**FLEX, window=13),
        training=_STAGED_BATCH_46,
        optimizer=_premul_48(_STAGED_46),
        bf16_params=BF16_SMEAR,
        # history.md's caveat: the code submitted is the "NorMuon Fixes and PreMul-O" files, not the
        # README-linked log
        upstream=_log("2025-12-11_NorMuonOptimsAndFixes/NorMuon Fixes and PreMul-O - 06113.txt"),
        window=THIRDS_42,
        notes="Matrices stored output rows first ((4d, hdim) bank, (hidden, d) MLP), so Muon scales them by 2; "
              "lambda_1 pre-multiplies W_O; c_proj at lr x2; fused NorMuon, gates per row.",
    ),
    Record(
        id="49",
        date="2025-12-14",
        time="2.146 minutes",
        description="Partial Key Offset",
        stage="s23_partial_key_offset",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=_STAGED_BATCH_49,
        optimizer=_STAGED_49,
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-12-14_PartialKeyOffset/150d40bf-c20b-4568-aac9-26eb919e25fd.txt"),
        window=THIRDS_42,
        notes="11 blocks (#48's empty block 0 removed); the long-window layers' keys take their stationary "
              "RoPE dims from the previous position; x0 mixed in outside the blocks; zero-init value tables.",
    ),
    Record(
        id="50",
        date="2025-12-18",
        time="2.128 minutes",
        description="Extend Cautious Weight Decay to Adam parameters",
        stage="s23_partial_key_offset",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=2090),
        optimizer=_CAUTIOUS_ADAM_50,
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-12-18_CautiousWDAdam/1981d492-bc65-4ba9-a0fa-2b30fc5c3eba.txt"),
        window=THIRDS_42,
        notes="Adam's tables and head decay by lr^2 * 0.005 where the update and the weight agree in sign.",
    ),
    Record(
        id="51",
        date="2025-12-19",
        time="2.075 minutes",
        description="Retie Embed to lm_head, retune fp8 scales",
        stage="s23b_retied_head",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=2035),
        optimizer=_CAUTIOUS_ADAM_50.with_schedule(
            StagedCooldown(1995, 0.55, 0.1, peaks=((1 / 3, 1.51), (2 / 3, 1.93)), extension=40)),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-12-19_RetieLMHead/0828d309-ecfe-4442-9ee9-68fed3a4b599.txt"),
        window=THIRDS_42,
        notes="The embedding is the head's weight again (drawn N(0, 0.005), Adam at the head's lr 0.008, "
              "cautious decay); FP8 head scales 100/448, 1.5/448, 0.75/448.",
    ),
    Record(
        id="52",
        date="2025-12-21",
        time="2.037 minutes",
        description="Smooth scalars via beta increase, decrease smear gate lr, freeze scalars during transitions, "
                    "adam all reduce",
        stage="s23c_x0_lambdas",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=2000),
        optimizer=_smoothed_scalars_52(_CAUTIOUS_ADAM_50).with_schedule(
            StagedCooldown(1960, 0.55, 0.1, peaks=((1 / 3, 1.51), (2 / 3, 1.93)), extension=40)),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-12-21_SmoothedScalars/12-21-Smoothed-Scalars/0bc6e909-8ee8-4ae3-ac62-0070e151a808.txt"),
        window=THIRDS_42,
        notes="x0_lambdas a parameter of their own; the smear gate trained by Adam at lr x0.01; the packed "
              "scalars by their own Adam, betas (0.9, 0.99), frozen for 40 steps from each window/batch change.",
    ),
    Record(
        id="53",
        date="2025-12-22",
        time="1.988 minutes",
        description="Multi-token prediction, untie embed/lm_head at 2/3 training, lr update, tweak CWD",
        stage="s24_multi_token",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1920),
        optimizer=_untied_53(_smoothed_scalars_52(_CAUTIOUS_ADAM_50)),
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-12-22_MultiTokenPrediction/17aaf854-f338-4d0d-9767-a5db30fd7980.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="Training loss over the next 3, then 2, then 1 tokens (weights fall per third); the token "
              "embedding is the head's until 2/3, then a table of its own seeded with the head's weight and "
              "Adam state; q/k/v drawn at std dim^-0.5; Adam's cautious mask strict.",
    ),
    Record(
        id="54",
        date="2025-12-26",
        time="1.940 minutes",
        description="Asymmetric Logit Rescale",
        stage="s25_logit_rescale",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1880),
        optimizer=_MANAGED_54,
        bf16_params=BF16_SMEAR,
        upstream=_log("2025-12-26_LogitRescale/03e41c2d-2951-4546-a599-24cd723247fc.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="Logits 23 sigmoid((z + 5) / 7.5). The loop is a TrainingManager: the head is copied into embed "
              "after step ceil(2/3 N) | 1 and read from the next; the scalars' transition freeze is gone.",
    ),
    Record(
        id="55",
        date="2025-12-29",
        time="1.918 minutes",
        description="Gates on value embeds and skip connection",
        stage="s26_value_skip_gates",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1845),
        optimizer=_gated_55(_MANAGED_54),
        bf16_params=BF16_GATES_55,
        upstream=_log("2025-12-29_VeSkipGates/2851d7dc-d6a5-4e74-8623-57031425db16.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="Per-head gates 2 sigmoid(W x[:12]) on the value embeddings, a per-token gate 2 sigmoid(w x0[:12]) on "
              "the skip; Adam's cautious decay x150 on embed and head, x5 on the value tables.",
    ),
    Record(
        id="56",
        date="2025-12-31",
        time="1.894 minutes",
        description="Optimize and compile Adam, increase Adam buffer precision, move gates from Muon to Adam "
                    "parameter banks",
        stage="s27_gate_banks",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1825),
        optimizer=_gate_banks_56(_gated_55(_MANAGED_54)),
        bf16_params=BF16_GATE_BANKS_56,
        upstream=_log("2025-12-31_GatesToCompiledAdam/12-31-gates-to-adam-20stps/"
                      "219a5f2f-151e-4c56-ab91-3735ae4610b8.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="The attention and value gates are two banks (10 and 5 rows of (6, 12)) trained by Adam; Adam's "
              "moments are float32.",
    ),
    Record(
        id="57",
        date="2026-01-04",
        time="1.878 minutes",
        description="Bfloat16 attn/mlp weights, mixed precision Muon, interweave Adam/Muon, finer-grain Adam beta",
        stage="s28_bf16_weights",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1840),
        optimizer=_MIXED_57,
        bf16_params=BF16_WEIGHTS_57,
        upstream=_log("2026-01-04_MixedPrecisionInterweavedOptimizer/41f606b6-1b9c-46a3-b46e-2beff1521d18.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="Attention and MLP matrices in bf16 with NorMuon's float32 master kept as a uint16 mantissa; one "
              "Adam with betas per table (head and embed 0.5, value tables 0.75, gates and scalars 0.9/0.99).",
    ),
    Record(
        id="58",
        date="2026-01-07",
        time="1.820 minutes",
        description="Paired Head Attention",
        stage="s29_paired_heads",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1775),
        optimizer=_MIXED_57.with_schedule(
            StagedCooldown(1735, 0.5, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40)),
        bf16_params=BF16_WEIGHTS_57,
        upstream=_log("2026-01-07_PairedHeadAttention/2a5d5cde-db5f-4aab-a4a8-cc8e183ea671.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="Interleaved RoPE; layers 0, 2, 5 and 9 attend in head pairs over a row twice as long. The key "
              "offset still shifts quarters 1 and 3 of the keys, now half rotating (fixed in #62).",
    ),
    Record(
        id="59",
        date="2026-01-10",
        time="1.781 minutes",
        description="Fused triton kernel for linear relu square MLP step",
        stage="s29_paired_heads",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1775),
        optimizer=_MIXED_57.with_schedule(
            StagedCooldown(1735, 0.5, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40)),
        bf16_params=BF16_WEIGHTS_57,
        upstream=_log("2026-01-10_FusedLinearReLUSquare/3c47e63b-075e-4b5b-9c76-9dbe7bad9ad4.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="#58's function; the MLP runs as one fused Triton kernel (systems only).",
    ),
    Record(
        id="60",
        date="2026-01-16",
        time="1.765 minutes",
        description="Fused triton kernel for softcapped multi-token prediction cross entropy step",
        stage="s29b_fused_softcapped_loss",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1775),
        optimizer=_MIXED_57.with_schedule(
            StagedCooldown(1735, 0.5, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40)),
        bf16_params=BF16_WEIGHTS_57,
        upstream=_log("2026-01-16_FusedSoftcappedEntropy/45beba56-93e2-4995-bc5b-caff3cb2c1b5.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="The training loss is one Triton kernel: softcap, log-sum-exp and multi-token terms in float32 "
              "from the bf16 head output; the loss a float32 sum.",
    ),
    Record(
        id="61",
        date="2026-01-18",
        time="1.748 minutes",
        description="Unified Optimizers and Transposed LM Head",
        stage="s30_unified_banks",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1765),
        optimizer=_unified_61(_MIXED_57),
        bf16_params=BF16_BANKS_61,
        upstream=_log("2026-01-18_UnifiedOptimizers/unified-optimizer/2fc79469-a527-4bde-8540-8426ed3352d1.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="One NorMuonAndAdam optimizer over labelled parameters; the attention and MLP weights in two banks "
              "(attention orthogonalised in (d, d) blocks at scale 1), the head stored (d, V).",
    ),
    Record(
        id="62",
        date="2026-01-19",
        time="1.655 minutes",
        description="Bigram Hash Embedding",
        stage="s31_bigram_embed",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1600),
        optimizer=_bigram_62(_unified_61(_MIXED_57)),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-01-19_BigramHashEmbedding/40ec7bb6-14b3-46f8-90b7-bb5ed188faba.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="A 5 x 50304-row bigram hash table added at every layer's mix; the key offset moved to the "
              "position-free half of the keys.",
    ),
    Record(
        id="63",
        date="2026-01-26",
        time="1.650 minutes",
        description="Untie Value Embeds",
        stage="s31b_untied_value_embeds",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1575),
        optimizer=_bigram_62(_unified_61(_MIXED_57)).with_schedule(
            StagedCooldown(1535, 0.55, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40)),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-01-26-UntieValueEmbeddings/43955d93-6914-40cb-bdf8-786ace93784f.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="Five value tables, one per value layer (layers 0, 1, 8, 9, 10).",
    ),
    Record(
        id="64",
        date="2026-01-30",
        time="1.630 minutes",
        description="Tuned nonzero Attn V and O init",
        stage="s31c_mimetic_init",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1555),
        optimizer=_bigram_62(_unified_61(_MIXED_57)).with_schedule(
            StagedCooldown(1515, 0.55, 0.1, peaks=((1 / 3, 1.52), (2 / 3, 1.73)), extension=40)),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-01-30_MimeticValueOutput/runs/0f262f64-20c4-4268-9ae7-d7440c810abd.txt"),
        window=THIRDS_42,
        multi_token=MultiTokenWeights(),
        notes="#63's function; W_V and W_O start at +-sqrt(0.05) times the per-head identity plus N(0, 0.01).",
    ),
    Record(
        id="65",
        date="2026-01-30",
        time="1.613 minutes",
        description="Group Value Embeds into single parameter",
        stage="s32_fused_value_embeds",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1575,
                         batch_stages=replace(_STAGED_BATCH_49.batch_stages, bounds="round")),
        optimizer=_staged_65(_bigram_62(_unified_61(_MIXED_57))),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-01-30_VeFused/0ba09d92-4ef1-440f-85e3-9d2766294db4.txt"),
        window=STAGES_65,
        multi_token=StagedMultiTokenWeights(),
        notes="The value tables one bf16 parameter; the loss scaled by 2 (grad_scale) with the FP8 head's grad_s; "
              "the schedules by TrainingStage (round(kN/3) bounds, cooldown from int(0.45 N), split round(2N/3)|1).",
    ),
    Record(
        id="66",
        date="2026-01-31",
        time="1.595 minutes",
        description="Torch 2.10",
        stage="s32_fused_value_embeds",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1575,
                         batch_stages=replace(_STAGED_BATCH_49.batch_stages, bounds="round")),
        optimizer=_staged_65(_bigram_62(_unified_61(_MIXED_57))),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-01-30_VeFused/0ba09d92-4ef1-440f-85e3-9d2766294db4.txt"),
        window=STAGES_65,
        multi_token=StagedMultiTokenWeights(),
        notes="#65 re-timed under torch 2.10 (no log of its own): #65's code and function.",
    ),
    Record(
        id="67",
        date="2026-01-31",
        time="1.540 minutes",
        description="Tune fused softcap kernels and fuse fp8 quantization in LM head",
        stage="s33_fp8_in_loss",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1555,
                         batch_stages=replace(_STAGED_BATCH_49.batch_stages, bounds="round")),
        optimizer=_staged_65(_bigram_62(_unified_61(_MIXED_57))).with_schedule(
            StageCooldown(1515, 0.55, 0.1, (1.0, 1.52, 1.73), extension=40)),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-01-24_ImprovedLMHead/record/73a071ac-522d-4ce0-a4d6-cf3955a376e4.txt"),
        window=STAGES_65,
        multi_token=StagedMultiTokenWeights(),
        notes="The FP8 head fused into the loss kernel (the logits' float32 gradient cast to e5m2 directly); "
              "W_O drawn like q, k, v at half #65's bound.",
    ),
    Record(
        id="68",
        date="2026-01-31",
        time="1.535 minutes",
        description="Move bigram hash to GPU",
        stage="s33b_device_bigram_hash",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1555,
                         batch_stages=replace(_STAGED_BATCH_49.batch_stages, bounds="round")),
        optimizer=_staged_65(_bigram_62(_unified_61(_MIXED_57))).with_schedule(
            StageCooldown(1515, 0.55, 0.1, (1.0, 1.52, 1.73), extension=40)),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-01-31-BigramHashH2D/112c686e-b0d6-4dc8-814a-1ad1f5d5b274.txt"),
        window=STAGES_65,
        multi_token=StagedMultiTokenWeights(),
        notes="Branched before #67's loss: #65's function with #67's init; the bigram hash on the GPU, position 1 "
              "with the true first token",
    ),
    Record(
        id="69",
        date="2026-02-02",
        time="1.528 minutes",
        description="Kernel Optimizations",
        stage="s33c_kernel_tuning",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1555,
                         batch_stages=replace(_STAGED_BATCH_49.batch_stages, bounds="round")),
        optimizer=_staged_65(_bigram_62(_unified_61(_MIXED_57))).with_schedule(
            StageCooldown(1515, 0.55, 0.1, (1.0, 1.52, 1.73), extension=40)),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-02-02_KernelTuning/25afb73a-332f-4d69-b9ab-f6261497f2d8.txt"),
        window=STAGES_65,
        multi_token=StagedMultiTokenWeights(),
        notes="#65's function (the CPU hash again) with #67's init; Triton kernel tuning",
    ),
    Record(
        id="70",
        date="2026-02-03",
        time="1.521 minutes",
        description="Tune value embed layout and ve_gates",
        stage="s34_shifted_value_embeds",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1547,
                         batch_stages=replace(_STAGED_BATCH_49.batch_stages, bounds="round")),
        optimizer=_staged_65(_bigram_62(_unified_61(_MIXED_57))).with_schedule(
            StageCooldown(1507, 0.55, 0.1, (1.0, 1.52, 1.73), extension=40)),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-02-03_VeTuned/42cbebac-0599-4a89-a00e-26d1c4cad140.txt"),
        window=STAGES_65,
        multi_token=StagedMultiTokenWeights(),
        notes="Value tables on layers 1, 2, 8, 9, 10; each value gate reads 6 input channels and 6 of the "
              "embedding; the tables drawn N(0, 0.01).",
    ),
    Record(
        id="71",
        date="2026-02-06",
        time="1.516 minutes",
        description="Sparse bigram gradient comms and optimized loading on CPU",
        stage="s33c_kernel_tuning",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1555,
                         batch_stages=replace(_STAGED_BATCH_49.batch_stages, bounds="round")),
        optimizer=_staged_65(_bigram_62(_unified_61(_MIXED_57))).with_schedule(
            StageCooldown(1515, 0.55, 0.1, (1.0, 1.52, 1.73), extension=40)),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-02-06_SparseBigramGradient/02fee7bd-cd22-478b-9e8e-12e857ff3152.txt"),
        window=STAGES_65,
        multi_token=StagedMultiTokenWeights(),
        notes="#69's function: the bigram gradient exchanged sparsely between GPUs (systems only)",
    ),
    Record(
        id="72",
        date="2026-02-10",
        time="1.496 minutes",
        description="Increase minimum lr and add max_seq_len schedule",
        stage="s35_short_window",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1555, batch_stages=_SEQ_LEN_STAGES_72),
        optimizer=_staged_65(_bigram_62(_unified_61(_MIXED_57))).with_schedule(
            StageCooldown(1515, 0.55, 0.15, (1.0, 1.52, 1.73), extension=40)),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-02-10_ShortWindow/Short-Window_1_1.txt"),
        window=STAGES_65,
        multi_token=StagedMultiTokenWeights(),
        notes="From #67: documents cut at 896 tokens in the first stage (2048 at step 0 and from the second), "
              "a 2-block short window in the third, lr floor 0.15, grad_scale 1.",
    ),
    Record(
        id="73",
        date="2026-02-12",
        time="1.485 minutes",
        description="Partitioned Hyperconnections",
        stage="s36_partitioned_lanes",
        model=_frozen(**{**FLEX, "n_layer": 11}, window=13),
        training=replace(_STAGED_BATCH_49, num_iterations=1510,
                         batch_stages=replace(_STAGED_BATCH_49.batch_stages, bounds="round")),
        optimizer=_lanes_73(_staged_65(_bigram_62(_unified_61(_MIXED_57)))),
        bf16_params=BF16_BIGRAM_62,
        upstream=_log("2026-02-12_ParallelResiduals/451050db-d471-49db-b19b-be824bb896d0.txt"),
        window=STAGES_65,
        multi_token=StagedMultiTokenWeights(),
        notes="From #69 with #67's loss and #68's hash: two residual lanes from layer 7 (attention reads lane 0, "
              "the MLP lane 1), per-sublayer bf16 lambdas; grad_scale 1.",
    ),
    Record(
        id="74",
        date="2026-02-16",
        time="1.468 minutes",
        description="Flattened GPT forward, removed post-attention lambdas, transpose kernels",
        upstream=_log("2026-02-16_FlattenForward/pr233/2026-02-16_21-30-05_time-362_secs_F-inject-post-attn_9f12a3.txt"),
        notes="#73 merged with #70-#72 (value layout, CPU hash, 896-token first stage, floor 0.15); lambdas by layer, "
              "no post-attention lambda on one-lane layers, the injection into lane 0 only.",
        **_FLATTENED_74,
    ),
    Record(
        id="75",
        date="2026-02-23",
        time="1.453 minutes",
        description="Cross Entropy Kernel Optimizations",
        upstream=_log("2026-02-23_CrossEntropyKernel/1e51be6b-7dd4-41ab-b95d-e57da5814776.txt"),
        notes="#74's function: the loss kernel's blocks and the order of its float32 products change (and the "
              "optimizer's labels are the parameters' names).",
        **_FLATTENED_74,
    ),
    Record(
        id="76",
        date="2026-02-28",
        time="1.446 minutes",
        description="Reuse and tune backward transpose kernel",
        upstream=_log("2026-02-28_TransposeCopyBackward/this_pr/14c9cefc-c840-493f-870e-61bb1d2b1d97.txt"),
        notes="#74's function (branched from it, without #75's loss kernel): the head's backward transposes "
              "with the tuned transpose kernel.",
        **_FLATTENED_74,
    ),
    Record(
        id="77",
        date="2026-03-06",
        time="1.435 minutes",
        description="Replace partitioned hyperconnections with single saved activation",
        upstream=_log("2026-03-06_SimplifyHC/0ab4a843-8c3a-4fb4-9fff-8e1d39852646.txt"),
        notes="One stream; attention of layers 8-10 reads the stream saved after layer 7; post-attention lambdas "
              "on every layer; the skip taken after layer 3's MLP.",
        **{**_FLATTENED_74, "stage": "s38_single_saved_activation"},
    ),
    Record(
        id="78",
        date="2026-03-22",
        time="1.426 minutes",
        description="Tighten bounds on fa3 max_num_docs to match fineweb distribution",
        upstream=_log("2026-03-22_VarlenMaxDocs/combined/2026-03-22_20-07-32_time-186_secs_06-mbeta2-max-docs_227ce8.txt"),
        notes="#77's model; NorMuon's beta2 0.9; cu_seqlens 64/96/128 long by stage (a batch with more documents "
              "fails, as upstream's does).",
        **_SAVED_ACTIVATION_78,
    ),
    Record(
        id="79",
        date="2026-04-04",
        time="1.411 minutes",
        description="Fuse Cross Entropy Fwd/Bwk Kernel, to avoid recalc on softcap sigmoid",
        upstream=_log("2026-04-04_FuseCEFwdAndBwd/runs/19ad9161-37c0-4985-8dd4-6db4e27f34b4.txt"),
        notes="#78 with the loss as one CUDA kernel: the sigmoid stored in bf16; every multi-token weight in the "
              "last rows' gradient.",
        **{**_SAVED_ACTIVATION_78, "stage": "s39_fused_ce_kernel"},
    ),
    Record(
        id="80",
        date="2026-04-08",
        time="1.406 minutes",
        description="In Muon orthogonize Q and K matrices in pairs of heads, instead of across the full 6 head matrix",
        upstream=_log("2026-04-08_PairedHeadMuon/logs/split_qk0-1480.txt"),
        notes="From #78: the attention bank split into head-pair Q/K blocks and V/O matrices, each orthogonalised "
              "on its own (the Q/K blocks' second moment per column).",
        **{**_SAVED_ACTIVATION_78, "stage": "s40_head_pair_banks",
           "training": replace(_SAVED_ACTIVATION_78["training"], num_iterations=1480),
           "optimizer": _head_pair_banks_80(_SAVED_ACTIVATION_78["optimizer"]),
           "bf16_params": _BF16_HEAD_PAIRS_80},
    ),
    Record(
        id="81",
        date="2026-04-22",
        time="1.363 minutes",
        description="MUDD Skip Connections",
        upstream=_log("2026-04-22_MuddFormer/this_pr_v3/s1415v6_24559370-1341-4b22-93cc-f345c18829e2.txt"),
        notes="#80 with #79's loss kernel and MUDD: the last two layers' coefficients from a small MLP of the stream "
              "(v of layer 10, its gates and lambdas, the last residual over x0, h7, h9, ve0 and the skip); the "
              "backout scalar absorbed into MUDD's bias.",
        **{**_SAVED_ACTIVATION_78, "stage": "s41_mudd",
           "training": replace(_SAVED_ACTIVATION_78["training"], num_iterations=1415),
           "optimizer": _mudd_81(_head_pair_banks_80(_SAVED_ACTIVATION_78["optimizer"])),
           "bf16_params": _BF16_HEAD_PAIRS_80 + ("dense_w1", "dense_w2", "dense_bs")},
    ),
    Record(
        id="82",
        date="2026-04-29",
        time="1.353 minutes",
        description="Learnable XSA",
        upstream=_log("2026-04-29_XSAGatedLayers/this_pr_v1-s1410/06563169-6435-48ba-a1ad-f3e61bfcc573.txt"),
        notes="#80 with #79's loss kernel (not #81's MUDD) and learnable XSA on layers 1, 3, 4, 7, 8, 10: each head's "
              "output less tanh(alpha) of its part along its own value.",
        **{**_SAVED_ACTIVATION_78, "stage": "s42_xsa",
           "training": replace(_SAVED_ACTIVATION_78["training"], num_iterations=1450),
           "optimizer": _xsa_82(_head_pair_banks_80(_SAVED_ACTIVATION_78["optimizer"])),
           "bf16_params": _BF16_HEAD_PAIRS_80},
    ),
    Record(
        id="83",
        date="2026-05-20",
        time="1.328 minutes",
        description="Sign Trick on Bigram Embed",
        upstream=_log("2026-05-20_BigramsSignTrick/pr299/0cf91274-eda8-49cd-9a97-9369f730f271.txt"),
        notes="#80 with #79's loss kernel (not #81's MUDD or #82's XSA): the bigram table (754560, 192) into the "
              "stream's first 192 channels, each row times +-1 signs picked by the XOR of the two tokens.",
        **{**_SAVED_ACTIVATION_78, "stage": "s43_bigram_signs",
           "optimizer": _bigram_signs_83(_head_pair_banks_80(_SAVED_ACTIVATION_78["optimizer"])),
           "bf16_params": _BF16_HEAD_PAIRS_80 + ("bigram_sign_table",)},
    ),
    Record(
        id="84",
        date="2026-05-21",
        time="1.320 minutes",
        description="FP8 on MLP up-projection forward pass",
        upstream=_log("2026-05-19_FP8MLPUpProj/this_record/008bb79d-d5bc-4205-bd4e-5e4ae82e658c.txt"),
        notes="#80 with #79's loss kernel (not #81-#83): the MLP up-projections' training forward in FP8 e4m3, "
              "the activations scaled by their amax per call, each c_fc by its own.",
        **{**_SAVED_ACTIVATION_78, "stage": "s44_fp8_mlp_up",
           "training": replace(_SAVED_ACTIVATION_78["training"], num_iterations=1485),
           "optimizer": _head_pair_banks_80(_SAVED_ACTIVATION_78["optimizer"]).with_schedule(
               StageCooldown(1445, 0.6, 0.15, (1.0, 1.52, 1.73), extension=40)),
           "bf16_params": _BF16_HEAD_PAIRS_80},
    ),
    Record(
        id="85",
        date="2026-05-27",
        time="1.271 minutes",
        description="MUDD gates and Lightweight Dynamically Composable MHA",
        upstream=_log("2026-05-27-MuddGatedAndDC/this_pr_v3/094d297d-8156-4f99-b0da-a7dcdd63eec3.txt"),
        notes="#81-#84 merged and reworked: MUDD in its own layout; a MUDD gate MLP gives the XSA alphas (layers 1, "
              "3, 4, 7), the heads' gates of layers 3 and 10, the x0/bigram injection and skip gates per token; "
              "dynamically composed attention on layer 10; the bigram table at the full width.",
        **_MUDD_GATES_85,
    ),
    Record(
        id="86",
        date="2026-05-27",
        time="1.266 minutes",
        description="Algebraic rewrite of XSA, same math faster execution",
        upstream=Upstream(MODDED, "003ff3e2dd23ff5f7dfd6ada88eb1ff9320bfd3b", "train_gpt.py"),
        notes="#85 with XSA as y - tanh(alpha) (y.v / max(|v|^2, 1e-8)) v (the same function, other bf16 "
              "roundings); 1285 + 15 steps. No log: the root train_gpt.py at the commit that rewrote it.",
        **{**_MUDD_GATES_85, "stage": "s46_xsa_rewrite",
           "training": replace(_MUDD_GATES_85["training"], num_iterations=1300),
           "optimizer": _MUDD_GATES_85["optimizer"].with_schedule(
               StageCooldown(1285, 0.6, 0.15, (1.0, 1.52, 1.73), extension=15))},
    ),
)

RECORDS: Mapping[str, Record] = MappingProxyType({r.id: r for r in _RECORDS})
LATEST: str = _RECORDS[-1].id


def get(record: str | int) -> Record:
    """Record by id (`4`, `"4"`, `"#4"`, or `"latest"`); a clear error lists the valid ones."""
    key = str(record).strip().lstrip("#").lower()
    if key == "latest":
        key = LATEST
    if key == "head" and key not in RECORDS:
        raise KeyError(f"upstream HEAD (modded-nanogpt {MODDED_HEAD[:8]}) is not in the zoo yet; the latest record "
                       f"is #{LATEST} ('latest')")
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
        if r.window is not None:
            print(f"  window    {r.window.form} ({r.window.unit})")
        print(f"  upstream  {r.upstream}")
        if r.notes:
            print(f"  notes     {r.notes}")
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
