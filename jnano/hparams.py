"""Hyperparameters as plain data: schedules, optimizer rules, parameter groups, training shapes.

Everything here is a frozen dataclass of numbers and names, with no JAX import, so the records
table (`jnano.records`) stays importable anywhere (the reference loader reads it without JAX).
`jnano.optim.build` turns an `OptimizerRecipe` into an optax transformation; the trainer reads
`Training`.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np


# --- learning-rate schedules: multiplier of each group's base lr as a function of the step -----


class _Length:
    """How many steps a schedule trains: `num_iterations`, plus the steps run past it at the
    final lr (`CooldownToFloor.extension`, #35 on)."""

    extension = 0

    @property
    def steps(self) -> int:
        return self.num_iterations + self.extension


@dataclass(frozen=True)
class CosineWithWarmup(_Length):
    """llm.c `get_lr`: linear warmup `(it+1)/warmup`, then cosine from 1 to `final_frac`.

    Record #1 (llm.c baseline): warmup 700, decay to 0 (`-q 0.0`) over the whole run.
    """

    warmup: int
    num_iterations: int
    final_frac: float = 0.0


@dataclass(frozen=True)
class Trapezoid(_Length):
    """Linear warmup `(it+1)/warmup`, constant 1, linear warmdown `(N-it)/warmdown` to 0.

    Records #2-#4 (`train_gpt2.py` get_lr and the #4 LambdaLR); #12-#17 with `warmup=0` and
    warmdown 562 (#12), 640 (#13), 600 (#14-#17).
    """

    warmup: int
    warmdown: int
    num_iterations: int


@dataclass(frozen=True)
class CooldownToFloor(_Length):
    """Constant 1, then a linear cooldown over the last `cooldown_frac` of the run to `floor`.

    With `x = step / num_iterations`: `w = min((1 - x) / cooldown_frac, 1)`, multiplier
    `w + (1 - w) * floor`. Record #18 (2025-01-04 SoftCap) writes it
    `t = 1 - it/N; 1 if t >= 0.4 else t / 0.4`, i.e. floor 0. #19 (2025-01-13 Fp8LmHead) to
    #25 cool down to 10% of the base lr (floor 0.1); #21c-#23 (2025-05-24/25) write it as
    `1 if x < 1 - cooldown_frac else w + (1 - w) * 0.1`, the same values.

    `extension` (#35 "DropAttn", 2025-09-21: `iteration_extension = 40`): steps trained after
    `num_iterations` with `x = min(s / num_iterations, 0.9999)`, i.e. just above the floor.
    `extension_cools` (#41 NorMuon on: `num_iterations` is scheduled + extension steps):
    `x = min(s / (num_iterations + extension), 0.9999)`, the cooldown spanning the extension.
    """

    num_iterations: int
    cooldown_frac: float = 0.4
    floor: float = 0.0
    extension: int = 0
    extension_cools: bool = False


@dataclass(frozen=True)
class StagedCooldown(_Length):
    """#46 (2025-11-29 BatchSizeSchedule): the peak multiplier steps up with the batch size,
    `peaks` = ((x, m), ...): m once `step / num_iterations > x` (1 before the first); from
    `x >= 1 - cooldown_frac` it cools linearly from that peak, `peak * w + (1 - w) * floor` with
    `w = (1 - x) / cooldown_frac`, reaching the floor at `num_iterations`. The `extension` steps
    past it run at the floor exactly (no 0.9999 clamp, unlike `CooldownToFloor`)."""

    num_iterations: int
    cooldown_frac: float
    floor: float
    peaks: tuple[tuple[float, float], ...]
    extension: int = 0


def stage_bounds(scheduled: int, extension: int, durations: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3)
                 ) -> list[tuple[int, int]]:
    """#65 (2026-01-30 VeFused) `TrainingSchedule.boundaries`: the scheduled steps cut at
    `round(c N)` for the cumulative durations c (Python's round, half to even), then the
    extension: [(0, round(N/3)), (round(N/3), round(2N/3)), (round(2N/3), N), (N, N + ext)]."""
    ends, total = [0], 0.0
    for d in durations:
        total += d
        ends.append(round(total * scheduled))
    if ends[-1] != scheduled:
        raise ValueError(f"stage durations {durations} do not add up to the {scheduled} scheduled steps")
    ends.append(scheduled + extension)
    return list(zip(ends[:-1], ends[1:]))


def stage_at(step: int, scheduled: int, extension: int) -> tuple[int, float]:
    """#65's `TrainingSchedule.lookup`: (the stage `step` is in, the fraction of it done); past
    the end, the last stage, all done."""
    for i, (start, end) in enumerate(stage_bounds(scheduled, extension)):
        if step < end:
            return i, (step - start) / (end - start)
    return len(stage_bounds(scheduled, extension)) - 1, 1.0


@dataclass(frozen=True)
class StageCooldown(_Length):
    """#65 (2026-01-30 VeFused) `TrainingSchedule.get_lr`: the multiplier of the stage the step is
    in (`stage_at`: `lr_muls` for the three scheduled stages, 1 in the extension), cooling
    linearly to `floor` from `cd_start = int(N (1 - cooldown_frac))`:
    `t = min(1, (s - cd_start) / (N - cd_start)); lr = m (1 - t) + floor t` (so `floor` from N on).
    Unlike `StagedCooldown` (#46-#64), the stages end at `round(k N / 3)` and the cooldown starts
    at an integer step. #72 guards the division (t = 1 when `N - cd_start <= 0`, where #65-#71
    divide by zero) and raises the floor to 0.15."""

    num_iterations: int
    cooldown_frac: float
    floor: float
    lr_muls: tuple[float, ...]
    extension: int = 0


Schedule = CosineWithWarmup | Trapezoid | CooldownToFloor | StagedCooldown | StageCooldown


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
    """`torch.optim.AdamW` (decoupled decay: `p *= 1 - lr*wd` before the Adam step).

    With `weight_decay=0` this is `torch.optim.Adam`, the Adam groups of records #12-#23
    (betas (0.9, 0.95) in #12, (0.8, 0.95) from #13; eps 1e-8 up to #19, 1e-10 from #20).
    """

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
    """Muon (MomentUm Orthogonalized by Newton-Schulz) as records #4-#43 run it.

    Nesterov momentum, then Newton-Schulz (`ns_*`, see `jnano.optim.newton_schulz5`) of each
    matrix, scaled, times the lr. `qkv_split`: a matrix with rows == 3*cols (#4's fused QKV) is
    orthogonalised as three square blocks scaled by sqrt(cols). `scale`: "max_dim" =
    sqrt(max(rows, cols)) (#4-#7) or "max1_ratio" = sqrt(max(1, rows/cols)) (#8 on).
    `update_dtype`: the dtype the scaled update is rounded to before the lr multiply (#6 on
    gather it in a bf16 buffer). `momentum_warmup` = (start, end, steps): the momentum goes
    linearly from start to end over the first `steps` steps (#9 on).

    `momentum_form`: "sum" (#4-#14: `buf = mu*buf + g; g' = g + mu*buf`) or "lerp" (#15
    2024-12-08 UNetValueEmbedsTweaks on: `buf = lerp(buf, g, 1-mu); g' = lerp(g, buf, mu)`,
    i.e. `buf = mu*buf + (1-mu)*g; g' = (1-mu)*g + mu*buf`, computed as torch.lerp computes it,
    with the weights `1-mu` and `mu` evaluated in float64 and rounded to float32 as Python
    hands them to torch). The lerp form is an exponential moving average, not a rescaling of
    the sum form while mu warms up.

    Which `update_dtype`: #6-#14 scale the bf16 Newton-Schulz output in a bf16 buffer
    (`g *= scale` then `updates_flat`), "bfloat16". #15-#25 add the bf16 output with
    `p.add_(u, alpha=-lr*scale)`, the scale never rounded to bf16: None. (With scales 1 and 2,
    the only ones these records meet, both give the same values.)

    Parameters with ndim 3 (#20 2025-01-16 Sub3Min on: `qkv_w` of shape (3, d, d)) are orthogonalised
    slice by slice along axis 0, each slice scaled by its own (rows, cols). Any parameter with
    ndim >= 3 is such a stack of its trailing two dims (#61's banks: `attn_bank` (10, 4d, d) in
    `bank` = 4 row blocks each, `mlp_bank` (12, 2, 4d, d)), every block scaled, and with NorMuon
    normalised, by its own shape: upstream's `.reshape` view of a bank.
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
    momentum_form: str = "sum"
    # #36 on: a (rows, bank * cols) parameter is `bank` stacked (rows, cols) matrices (upstream's
    # `.view(4, hdim, dim)` of the flat attention bank), orthogonalised one by one; the scale
    # stays the flat shape's
    bank: int | None = None
    # #39 (2025-09-30 CustomBatching) rewrites the momentum schedule: "hold" writes
    # `start + f * (end - start)` only while step < warmup steps, so the momentum then holds at
    # the last warmup step's value (0.94967, not 0.95); `momentum_cooldown` = k: from step
    # total - k on (`step > total - k`), `end - f * (end - start)`, f = (step - (total - k)) / k
    # "mix" (#9-#38: `(1 - f) * start + f * end`, f capped at 1), "hold" (#39-#40) or "set" (#41
    # on: `start + f * (end - start)` in the warmup, then `end`; the warmup wins over the cooldown)
    momentum_warmup_form: str = "mix"
    momentum_cooldown: int = 0
    # #41 (2025-10-24 NorMuon): the orthogonalised update divided by the square root of an
    # exponential average (this beta2) of its mean square per row (per column where rows < cols),
    # then rescaled to its Frobenius norm before
    normuon_beta2: float | None = None
    # #42 (2025-10-27 FixMuonLR): a `bank` parameter is normalised on its (bank, rows, cols / bank)
    # view, per block (norms and second moments), the averaging axis still the flat shape's
    normuon_per_block: bool = False
    # one (a, b, c) per iteration instead of `ns_steps` of the quintic: #38's Polar Express
    # (`POLAR_EXPRESS_COEFFS`, with `ns_normalize="polar38"`)
    ns_coefficients: tuple[tuple[float, float, float], ...] | None = None
    # upstream's per-parameter `lr_mul` (#42's c_fc x2): the update's lr is `lr * lr_mul`, while
    # the decay below keeps the group's own `lr`
    lr_mul: float = 1.0
    # #43 (2025-11-10 CautiousWD): NorMuon's update becomes `v + lr * wd * [v * p >= 0] * p`
    # (`lr` the scheduled group lr), before the shape scale and the lr
    cautious_weight_decay: float = 0.0
    # #48 (2025-12-11 NorMuon Fixes and PreMul-O): a bank's blocks are its row blocks (the
    # (4 d, hdim) parameter stacks Wq, Wk, Wv, Wo), not #36's (bank, rows, cols / bank) view
    bank_rows: bool = False
    # #48: NorMuon in one fused pass (`jnano.optim.muon.normuon_fused`: fp32 mean squares, the
    # norms derived from them), and "rows" for the gates, normalised per row whatever their shape
    normuon_form: str = "separate"
    normuon_axis: str = "longer"
    # "cuda" as the record ran; "cpu" as eager CPU torch rounds a Python scalar in a bf16 op
    # (#48's `C.add_(X, alpha=a)`: CPU rounds a to bf16 first, CUDA keeps it fp32), for parity
    scalar_semantics: str = "cuda"
    # #57 (2026-01-04 MixedPrecisionInterweavedOptimizer): "mantissa": the weights are bf16 and a
    # uint16 mantissa each completes a float32 master; gradients and momentum float32, the update
    # formed on the master, the weight its upper half (`jnano.optim.master`)
    master: str | None = None
    # how the master step's `eff_lr` and `eff_wd` round: "float32" (#57: float32 tensor products
    # of the multiplier and the group lr) or "float64" (#61 NorMuonAndAdam: Python products of
    # the multipliers and the lr, rounded once by `fill_`)
    master_products: str = "float32"
    # #61 (2026-01-18 UnifiedOptimizers): per-matrix lr multipliers of a stack (ndim >= 3: each
    # matrix of the trailing two dims, `bank` row blocks each where set), cycled over the
    # stack's matrices: the MLP bank's (c_fc, c_proj) pairs take (1, 2)
    matrix_lr_mul: tuple[float, ...] = (1.0,)
    # the momentum buffer's lerp weight 1 - mu: "float64" (Python's, rounded once by torch.lerp)
    # or "float32" (#74's compiled `polar_express`: `1 - momentum_t`, a float32 tensor)
    momentum_complement: str = "float64"

    def __post_init__(self):
        # a misspelt form would silently build the other one (the builders test for one value)
        for name, allowed in (("normuon_form", ("separate", "fused")), ("normuon_axis", ("longer", "rows")),
                              ("master", (None, "mantissa")), ("master_products", ("float32", "float64")),
                              ("momentum_complement", ("float32", "float64"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Muon.{name} must be one of {allowed}, not {getattr(self, name)!r}")


# #38 (2025-09-29 PolarExpress, arXiv 2505.16932): one (a, b, c) per iteration (upstream's
# `coeffs_list`), kept here as the five a's, b's and c's
_PE_A = (8.156554524902461, 4.042929935166739, 3.8916678022926607, 3.285753657755655, 2.3465413258596377)
_PE_B = (-22.48329292557795, -2.808917465908714, -2.772484153217685, -2.3681294933425376, -1.7097828382687081)
_PE_C = (15.878769915207462, 0.5000178451051316, 0.5060648178503393, 0.46449024233003106, 0.42323551169305323)
POLAR_EXPRESS_COEFFS = tuple(zip(_PE_A, _PE_B, _PE_C))


@dataclass(frozen=True)
class DistAdam:
    """`DistAdam` of records #24 (2025-05-30 noallreduce) and #25: eps outside bias correction.

    Per parameter, at step t = 1, 2, ...: `m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g` (stored
    in the parameter's dtype, each op rounded to it); `p -= m / (sqrt(v) + eps) * step_size`
    with `step_size = lr * sqrt(1 - b2^t) / (1 - b1^t)` in float32. torch.optim.Adam instead
    divides `sqrt(v)` by `sqrt(1 - b2^t)` before adding eps, so the two differ where
    `sqrt(v)` is near eps (tiny gradients, the first steps). `weight_decay` (0 in both records)
    is decoupled: `p *= 1 - lr*weight_decay` first. Upstream's per-parameter `lr_mul` is to be
    folded into `lr` (one group per multiplier).
    """

    lr: float
    betas: tuple[float, float] = (0.8, 0.95)
    eps: float = 1e-10
    state_dtype: str | None = None  # None: the parameter's dtype; #32 on: "bfloat16" moments
    # "cuda" (the record's GPUs: a Python scalar enters a bf16 op as float32) or "cpu" (eager CPU
    # torch rounds the scalar of `add_(eps)` to bf16 first; parity's reference runs there)
    scalar_semantics: str = "cuda"
    # #39 on: steps on every 2nd step (the odd ones, at their lr) with the two gradients summed;
    # its bias correction counts its own steps (`jnano.optim.transforms.step_every`)
    every: int = 1
    # #42 on: `state['step']` is a Python int, so `beta ** t` and the step size
    # `lr * (bias2 ** 0.5 / bias1)` are Python float64, rounded once to float32 by `mul_`
    step_size_float64: bool = False
    weight_decay: float = 0.0
    # #50 (2025-12-18 CautiousWDAdam): `update += lr * wd * lr * [update * p >= 0] * p` after the
    # step is formed (lr = the group's scheduled lr: the decay scales with lr squared)
    cautious_weight_decay: float = 0.0
    # #53 (2025-12-22 MultiTokenPrediction) on: the mask is `update * p > 0`, so a zero step
    # (a parameter with no gradient yet) does not decay
    cautious_strict: bool = False
    # #52 (2025-12-21 SmoothedScalars): from every stage change of the window and batch
    # (`jnano.optim.schedules.stage_transitions`) the rule stands still this many steps: no
    # step, no state change, and the gradients of those steps dropped (`p.grad = None`)
    freeze_after_transitions: int = 0


@dataclass(frozen=True)
class Fixed:
    """Not trained: a persistent buffer that the model holds as a leaf so that it loads from, and
    saves to, the state_dict (#83's `bigram_sign_table`, random signs broadcast from rank 0)."""

    lr: float = 0.0


Rule = AdamW | OrthogonalNesterov | Muon | DistAdam | Fixed


# --- FP8 matmul scales (records #19-#25's head; `jnano.nn.fp8` computes with them) ----------------

Convention = Literal["multiply", "divide"]


@dataclass(frozen=True)
class FP8Scales:
    """The three scales of `nanogpt::mm` and how they are applied.

    convention "multiply" (#19-#21b): fp8 values are `v * s`; `_scaled_mm` gets `1/s`.
    convention "divide" (#21c-#25): fp8 values are `v / s`; `_scaled_mm` gets `s`.
    `saturate` picks the e4m3 overflow rule (see `to_e4m3fn`); it does not touch e5m2.
    """

    x_s: float
    w_s: float
    grad_s: float
    convention: Convention = "multiply"
    saturate: bool = True

    def __post_init__(self):
        if self.convention not in ("multiply", "divide"):
            raise ValueError(f"convention must be 'multiply' or 'divide', got {self.convention!r}")
        for name in ("x_s", "w_s", "grad_s"):
            s = getattr(self, name)
            if not (math.isfinite(s) and s > 0):
                raise ValueError(f"{name} must be a positive finite float, got {s}")

    def mm_scale(self, s: float) -> np.float32:
        """The fp32 `scale_a`/`scale_b` tensor upstream passes to `_scaled_mm` for scale s
        (`new_tensor(1 / s, dtype=float32)` for multiply, `new_tensor(s, dtype=float32)` for divide)."""
        return np.float32(1.0 / s) if self.convention == "multiply" else np.float32(s)

    def rescale(self, sa: float, sb: float) -> np.float32:
        """`scale_a * scale_b` in fp32: the factor applied to the fp32 accumulator."""
        return self.mm_scale(sa) * self.mm_scale(sb)


FP8_SCALES_19 = FP8Scales(2.0, 32.0, 2.0**29, "multiply")  # #19, #20
FP8_SCALES_21 = FP8Scales(2.0, 2.0**9, 2.0**19, "multiply")  # #21, #21b


@dataclass(frozen=True)
class FP8ScalesByWidth:
    """Head scales that follow the model width, as upstream's constructor computes them from
    `model_dim` (#21c on): `x_s = sqrt(width) / 448`, `w_s` and `grad_s` fixed, divide convention.
    Calling it with a width gives the `FP8Scales`."""

    w_s: float
    grad_s: float = 1 / 448

    def __call__(self, width: int) -> FP8Scales:
        return FP8Scales(width**0.5 / 448, self.w_s, self.grad_s, "divide")


FP8_SCALES_BY_WIDTH_21C = FP8ScalesByWidth(24 / 448)  # #21c-#27
FP8_SCALES_BY_WIDTH_28 = FP8ScalesByWidth(2**-9)  # #28 (2025-08-23 SparseAttnGate) on
FP8_SCALES_51 = FP8Scales(100 / 448, 1.5 / 448, 0.75 / 448, "divide")  # #51 (2025-12-19 RetieLMHead): fixed
FP8_SCALES_55 = FP8Scales(100 / 448, 1.6 / 448, 0.75 / 448, "divide")  # #55 (2025-12-29 VeSkipGates): w_s 1.6
# #65 (2026-01-30 VeFused): grad_s times main's `grad_scale` (2 on 8 GPUs), as the loss is
FP8_SCALES_65 = FP8Scales(100 / 448, 1.6 / 448, 2 * 0.75 / 448, "divide")


def fp8_scales_21c(model_dim: int = 768) -> FP8Scales:
    """#21c-#27: `x_s = sqrt(model_dim)/448`, `w_s = 24/448`, `grad_s = 1/448`, divide convention."""
    return FP8_SCALES_BY_WIDTH_21C(model_dim)


FP8_SCALES_21C = fp8_scales_21c(768)


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
class UntieAt:
    """#53 (2025-12-22 MultiTokenPrediction): the token embedding is the head's weight until
    `split_step = ceil(frac * N)` (N = the scheduled steps, `math.ceil(args.split_embed_frac *
    args.num_scheduled_iterations)`), the table `embed` from then on. After step
    `copy_step = (split_step - 2) | 1` (upstream's `split_step - 2 | 1`: `-` binds first), the
    last Adam step before the split, `embed` takes the head's weight and its Adam state
    (`copy_lm_to_embed`)."""

    src: str = "lm_head.weight"
    dst: str = "embed.weight"
    frac: float = 2 / 3
    # #61 (2026-01-18 UnifiedOptimizers): the model reads `embed` throughout and the optimizer
    # keeps the two tied: while tied it adds embed's gradient to the head's (transposed: the head
    # is stored (d, V)) and copies the head's transpose into `embed` after each step; at the
    # split `embed`'s state becomes the head's, transposed (`copy_lm_state_to_embed`)
    synced_transpose: bool = False

    def split_step(self, scheduled: int) -> int:
        return math.ceil(self.frac * scheduled)

    def copy_step(self, scheduled: int) -> int:
        return (self.split_step(scheduled) - 2) | 1

    def untied(self, step: int, scheduled: int) -> bool:
        return step >= self.split_step(scheduled)


@dataclass(frozen=True)
class UntieWithCopy(UntieAt):
    """#54 (2025-12-26 LogitRescale): `TrainingManager.step_optimizers` copies the head into
    `embed` and sets `split_embed` together, after the step `copy_step = ceil(frac * N) | 1`
    (`self.split_step` upstream), so the model reads `embed` from the step after."""

    def copy_step(self, scheduled: int) -> int:
        return math.ceil(self.frac * scheduled) | 1

    def split_step(self, scheduled: int) -> int:
        return self.copy_step(scheduled) + 1


@dataclass(frozen=True)
class UntieAtStage(UntieWithCopy):
    """#65 (2026-01-30 VeFused): the split step is `TrainingSchedule.split_step`, the third
    stage's first step made odd: `round(2N/3) | 1` (`stage_bounds`), not `ceil(2N/3) | 1`."""

    def copy_step(self, scheduled: int) -> int:
        return round(self.frac * scheduled) | 1


@dataclass(frozen=True)
class MultiTokenWeights:
    """#53's multi-token prediction: the training loss is `sum_k w_k CE(z_t, y_{t+k})` with
    weights `[1, 0.5, 0.25 (1 - 3x)]` for x < 1/3, `[1, 0.5 (1 - (3x - 1))]` for x < 2/3, `[1]`
    after (x = step / N in Python floats, then a float32 tensor). Returned padded with zeros to
    `horizon` entries: a zero weight is a term upstream does not compute."""

    horizon: int = 3

    def weights(self, step: int, scheduled: int, extension: int = 0) -> np.ndarray:
        del extension  # #53-#64 read the step against the scheduled steps only
        x = step / scheduled
        if x < 1 / 3:
            w = [1.0, 0.5, 0.25 * (1 - 3 * x)]
        elif x < 2 / 3:
            w = [1.0, 0.5 * (1 - (3 * x - 1))]
        else:
            w = [1.0]
        return np.asarray(w + [0.0] * (self.horizon - len(w)), np.float32)


@dataclass(frozen=True)
class StagedMultiTokenWeights(MultiTokenWeights):
    """#65 (2026-01-30 VeFused): per `TrainingStage`, weights going linearly from `starts[i]` to
    `ends[i]` over the stage (`stage_at`; `a + (b - a) t` in Python floats): [1, 0.5, 0.25 -> 0],
    [1, 0.5 -> 0], [1], and [1] in the extension. `extension` is the lr schedule's."""

    starts: tuple[tuple[float, ...], ...] = ((1.0, 0.5, 0.25), (1.0, 0.5), (1.0,), (1.0,))
    ends: tuple[tuple[float, ...], ...] = ((1.0, 0.5, 0.0), (1.0, 0.0), (1.0,), (1.0,))

    def weights(self, step: int, scheduled: int, extension: int = 0) -> np.ndarray:
        i, t = stage_at(step, scheduled, extension)
        w = [a + (b - a) * t for a, b in zip(self.starts[i], self.ends[i])]
        return np.asarray(w + [0.0] * (self.horizon - len(w)), np.float32)


@dataclass(frozen=True)
class OptimizerRecipe:
    """A record's whole optimizer: gradient transforms, then one rule per parameter group.

    Each parameter belongs to the first group whose `select` matches its state_dict name.
    """

    groups: tuple[Group, ...]
    schedule: Schedule
    grad_transforms: tuple[GradTransform, ...] = ()
    untie: UntieAt | None = None  # #53: a parameter copied, with its state, into another once

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


@dataclass(frozen=True)
class GlobalData:
    """Record #18: the 8-rank batch moves through a shard as one (`GlobalBatchLoader`), the shard
    switch checked before the read; files wrap."""


@dataclass(frozen=True)
class SequentialData:
    """Records #19-#25: `distributed_data_generator` (`sequential_batches`), #18's layout in one
    pass over the files."""


@dataclass(frozen=True)
class BosAlignedData:
    """Records #26-#28 (2025-07-12 BosAlign): every rank's window starts at a document's BOS
    (`find_batch_starts`, `bos_aligned_batches`); validation stays unaligned."""


@dataclass(frozen=True)
class PackedData:
    """Records #29 on (2025-09-03 FA3): whole documents, each cut at `max_seq_len` tokens, packed
    into every rank's row (`train.data.loaders.packed_batches`)."""

    max_seq_len: int = 2048
    # #78 on: `cu_seqlens`' length by tokens per rank (`TRAIN_MAX_NUM_DOCS`), the others
    # `next_multiple_of_n(local // 300, 128)`; a batch with more documents fails, as upstream's does
    max_num_docs: tuple[tuple[int, int], ...] = ()


DataSpec = StrideData | GlobalData | SequentialData | BosAlignedData | PackedData


@dataclass(frozen=True)
class BatchStages:
    """#46 (2025-11-29 BatchSizeSchedule): global tokens per step by stage, each stage an equal
    share of the scheduled steps (upstream's `get_bs`: stage `int(len(stages) * step / scheduled)`),
    then `extension` tokens from step `scheduled` on."""

    stages: tuple[int, ...]
    extension: int
    # "int" (#46-#64: stage `int(3 step / N)`) or "round" (#65's `TrainingSchedule`: `stage_at`)
    bounds: str = "int"
    # #72 on: the packed documents' cut by stage (the extension's is the last); step 0 keeps
    # `PackedData.max_seq_len`, the length the loader was built with (#72: 2048, the value its
    # warmup left in `args`; #74 on: the first stage's)
    max_seq_lens: tuple[int, ...] | None = None

    def tokens(self, step: int, scheduled: int) -> int:
        if step >= scheduled:
            return self.extension
        if self.bounds == "round":
            return self.stages[stage_at(step, scheduled, 0)[0]]
        return self.stages[int(len(self.stages) * (step / scheduled))]

    def max_seq_len(self, step: int, scheduled: int, first: int) -> int:
        """The packed documents' cut at `step` (`first` at step 0 and without `max_seq_lens`)."""
        if self.max_seq_lens is None or step == 0:
            return first
        if self.bounds != "round":
            raise ValueError("max_seq_lens follow #65's TrainingSchedule stages (bounds='round')")
        return self.max_seq_lens[min(stage_at(step, scheduled, 0)[0], len(self.max_seq_lens) - 1)]

    def scaled(self, factor: float) -> "BatchStages":
        return replace(self, stages=tuple(round(t * factor) for t in self.stages),
                       extension=round(self.extension * factor))


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
    val_seq_len: int | None = None  # tokens per validation row when it differs (#21 on: 262,144)
    # #46 on: the batch grows in stages (`batch_tokens`/`seq_len` are then the first stage's)
    batch_stages: BatchStages | None = None


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
    "BatchStages",
    "BosAlignedData",
    "ClipGlobalNorm",
    "CooldownToFloor",
    "CosineWithWarmup",
    "StageCooldown",
    "StagedCooldown",
    "StagedMultiTokenWeights",
    "UntieAtStage",
    "stage_at",
    "stage_bounds",
    "DistAdam",
    "FP8Scales",
    "FP8_SCALES_19",
    "FP8_SCALES_21",
    "FP8_SCALES_21C",
    "FP8_SCALES_51",
    "FP8_SCALES_55",
    "FP8_SCALES_65",
    "GlobalData",
    "Group",
    "Muon",
    "NormalizeEach",
    "OptimizerRecipe",
    "OrthogonalNesterov",
    "PackedData",
    "Select",
    "SequentialData",
    "StrideData",
    "Training",
    "Trapezoid",
    "Upstream",
    "FP8ScalesByWidth",
    "FP8_SCALES_BY_WIDTH_21C",
    "FP8_SCALES_BY_WIDTH_28",
    "fp8_scales_21c",
]
