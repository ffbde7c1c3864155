"""What is compared, at which tolerance, and why; and the comparison itself.

Each tolerance bounds a relative error: `||ours - theirs|| / ||theirs||` per tensor, or the worst
single value for loss curves. fp32 bounds sit above what rounding alone produces (measured at
the CI shape and at full size, noted per check) and far below what a real difference in the math
produces (tests/test_parity.py shows a 1% lr error, a flipped rotary sign and a missing weight
decay all fail).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from parity.fingerprint import fingerprint
from parity.fingerprint import relative_error as fingerprint_error

# Newton-Schulz's quintic has slope a = 3.4445 at zero: rounding differences in the small
# singular directions grow by up to a^5 ~ 490 over five iterations. Updates of parameters trained
# by an NS rule (Muon, OrthogonalNesterov) get their own, wider bound.
NS_AMPLIFICATION = "NS's slope a = 3.4445 at zero amplifies rounding by up to a^5 ~ 490"


@dataclass(frozen=True)
class Check:
    key: str  # result key, or a prefix ending in "/" for one value per parameter
    label: str
    tol: float
    reason: str
    ns_tol: float | None = None  # for parameters updated by Newton-Schulz, if different
    ns_reason: str = ""
    elementwise: bool = False  # worst single value (loss curves) instead of the norm-wise error
    ulp_allowance: bool = False  # discount one fp32 ulp of the updated parameter (see `compare`)
    vector_tol: float | None = None  # for parameters with ndim <= 1, if different
    vector_reason: str = ""


_UPDATE = ("identical gradients in, so only the optimizers' fp32 arithmetic differs; error beyond "
           "one fp32 ulp of the updated parameter: measured <= 1e-6 (a bf16 weight without a float32 master, "
           "#61 on: less its entries whose float32 new value lies within 1e-4 of the update's RMS of a bf16 "
           "rounding midpoint, `parity.sides.ROUNDING_BAND`)")
_UPDATE_NS_FP32 = (f"fp32 matmuls summed in another order (~1e-7) inside NS; {NS_AMPLIFICATION} "
                   "(~5e-5 at worst): measured 0 beyond the ulp at the CI shape and at full size (#4)")
_UPDATE_NS_BF16 = (f"one bf16 matmul element summed in another order (0.4%) inside NS; "
                   f"{NS_AMPLIFICATION}; one such flip moves a 64x64 block by ~3e-2: measured <= 3.2e-2 "
                   "over 6 seeds (CI shape), 2.0e-2 (full size). The algorithm itself is checked at fp32")

_VECTOR_GRAD = ("a scalar's gradient (lambdas, skip weights; and a gate's, #28 on, whose few weights each "
                "sum one product per token) is a sum over every activation of its layer whose terms largely cancel, so its relative rounding error is that of the terms divided by "
                "the cancellation: measured <= 3.6e-5 against upstream (packed records, 512 tokens x 128 "
                "dims x 12 layers), 6.5e-6 between two of our own runs 1e-7 apart (parity.sensitivity); "
                "<= 1e-6 at the 2-layer CI shape")

FP32 = (
    Check("logits", "logits", 1e-5,
          "same fp32 math; BLAS blocking and libm (exp, tanh, cos) round differently: measured "
          "<= 7e-7 (CI shape), 1.5e-6 (full size)"),
    Check("loss", "loss", 1e-5, "mean of the logits' log-softmax: measured <= 2e-7"),
    Check("grad/", "gradient", 1e-5,
          "backward adds a few fp32 roundings per layer; per tensor: measured <= 1e-6 (CI), 2.4e-6 (full); "
          "packed records (#12 on, 12 layers, 512 tokens): <= 3.7e-6; #85's MUDD gate's first layer (its gradient "
          "sums every gate's use): 7.7e-6 (seed 0; seed 1 3.7e-6; its embedding against the golden 8.2e-6), where two of our own runs 1e-7 apart "
          "differ by 7.9e-6 (parity.sensitivity); a bf16 weight's (#57) is rounded to "
          "bf16, less the entries whose fp32 value is a rounding midpoint within 1e-4 of the RMS "
          "(`parity.sides.ROUNDING_BAND`)",
          vector_tol=1e-4, vector_reason=_VECTOR_GRAD, ulp_allowance=True),
    Check("update0/", "update step 0", 1e-5, _UPDATE, 1e-4, _UPDATE_NS_FP32, ulp_allowance=True),
    Check("update1/", "update step 1", 1e-5, _UPDATE + "; momentum/Adam state from step 0",
          1e-4, _UPDATE_NS_FP32, ulp_allowance=True),
    Check("trajectory", "10-step losses", 1e-5,
          "end-to-end training compounds the differences above over steps; worst step: measured "
          "<= 2.5e-7 (CI shape and full size)", elementwise=True),
    Check("final_logits", "logits after 10 steps", 1e-4,
          "weights after 10 steps of fp32 drift: measured <= 4e-6 (CI), 7.5e-6 (full size, #4)"),
)

# The packed-sequence records (#12 on) at their parity shape (12 layers, 512 tokens, 50304-row
# tables) amplify rounding over a 10-step trajectory far more than the small 2-layer models of
# #1-#11: `python -m parity.sensitivity` runs our model twice with weights 1e-7 (~1 ulp) apart
# and finds the final logits 4.7e-3 apart for #12 (1.0e-5 for #14), the loss curve 5.3e-5. Upstream
# rounds differently everywhere, so it cannot agree with us more closely than that. Every
# single-step check (logits, loss, gradients, both updates) keeps its tight bound.
_FLEX_TRAJECTORY = ("end-to-end training compounds rounding: two of our own runs with weights 1e-7 apart differ "
                    "by up to 5.3e-5 on a step's loss (#12, parity.sensitivity); measured against upstream <= 1.9e-6")
_FLEX_FINAL = ("two of our own runs with weights 1e-7 apart end 4.7e-3 apart (#12; 1.0e-5 for #14: "
               "parity.sensitivity); measured against upstream <= 3.6e-4 (#12), <= 2.4e-5 from #14 on")
FLEX_FP32 = tuple(
    Check(c.key, c.label, 2e-4, _FLEX_TRAJECTORY, elementwise=True) if c.key == "trajectory"
    else Check(c.key, c.label, 1e-2, _FLEX_FINAL) if c.key == "final_logits"
    else c
    for c in FP32
)

# #77 on (one stream, attention of layers 8-10 from the stream saved after layer 7): the 10-step
# run swings with rounding, most at the first untied step (6, the embedding just copied from the
# bf16 head). Our own runs with weights 1e-7 apart (`parity.sensitivity`'s perturbation, noise
# seeds 1-4 on the seed-0 weights; #74 under the same stays within the bounds above) differ by:
#   #77  losses 3.6e-4 1.9e-3 8.7e-4 5.7e-4; tables <= 8.7e-2; embedding less head 0.41 0.59 0.69 0.29
#   #78  losses 2.0e-3 3.2e-3 1.3e-3 1.2e-3 (step 6; <= 2.4e-4 elsewhere)
#   #80  losses 7.4e-4 2.6e-4 2.3e-4 3.2e-3; final logits 9.0e-3 1.0e-2 2.9e-3 7.0e-3;
#        tables 2.5e-1 1.3e-1 7.1e-2 2.2e-1; embedding less head 1.03 0.82 0.47 0.86
# so the bounds below sit at about twice those. The split row no longer tells a missing untie
# (1.0 off) from rounding here: the untie's steps are `tests/test_untie.py`'s, its mechanics
# #61-#76's goldens'. Every single-step check (logits, loss, gradients, both updates) keeps its bound.
_CHAOTIC = "two of our own runs 1e-7 apart differ by up to {} (#77 on: four perturbations, see parity.checks)"
SAVED_ACTIVATION = {c.key: c for c in (
    Check("trajectory", "10-step losses", 5e-3, _CHAOTIC.format("3.2e-3 (the first untied step)"),
          elementwise=True),
    Check("final_logits", "logits after 10 steps", 3e-2, _CHAOTIC.format("1.0e-2")),
    Check("untied/", "head and embedding after 10 steps", 5e-1, _CHAOTIC.format("2.5e-1")),
    Check("split", "embedding less head after 10 steps", 2.0,
          _CHAOTIC.format("1.03") + "; not a check of the untie here"),
)}


# #53's untie: the head and the embedding after the 10 steps (copy after step 5, split at 6), and
# the embedding less the head: what the steps since the split made of them. The tables carry
# the whole trajectory's rounding; their difference only the steps since the split, so it
# catches an untie that is missing or late where the tables alone cannot (#57, below).
_SPLIT = Check("split", "embedding less head after 10 steps", 1e-1,
               "the few Adam steps since the split, sign-like, on gradients that differ by rounding: two of "
               "our own runs 1e-7 apart differ by 1.9e-3 (#53), 4.1e-3 (#54), 2.4e-2 (#57; parity.sensitivity); "
               "a run that never unties or does not copy differs by order 1")
UNTIED = (Check("untied/", "head and embedding after 10 steps", 5e-4,
                "10 fp32 training steps of the tables through Adam's sign-like early steps, which magnify "
                "gradient rounding (the copy after step 5, the split at 6): measured <= 9.9e-5 (seeds 0, 3); "
                "the copy rounded to bf16 measured 2.3e-3, a run that never unties 6.8e-3"), _SPLIT)

# #57 on: the attention and MLP matrices are bf16 and their gradients arrive rounded to bf16, so
# a gradient that differs by fp32 rounding flips a bf16 rounding now and then (1e-4 of the
# gradient's norm), and those flips feed 10 steps of the tables' Adam: two of our own runs 1e-7
# apart end the tables 1.16e-3 apart (seed 0; 1.12e-3 seed 3), against 1.1e-4 for #53. The
# tables' bound follows; the split row is what sees the untie there.
UNTIED_BF16_WEIGHTS = (Check("untied/", "head and embedding after 10 steps", 4e-3,
                             "as for #53, but fed by bf16-rounded matrix gradients (#57 on): two of our own runs "
                             "1e-7 apart end 1.16e-3 apart (parity.sensitivity, seeds 0 and 3)"), _SPLIT)

# #61 on: the head is bf16 in every precision (built so), so each of its Adam steps rounds into
# bf16 and a rounding decided either way moves an entry by a bf16 ulp: our own runs 1e-7 apart
# end the tables 1.2e-2 / 1.5e-2 apart and the embedding less the head 9e-2 / 1.2e-1 (seeds 0,
# 3), upstream's own runs on 1 and 2 threads 2.7e-3 and 5e-2. With one Adam step after the split
# (at step 7 of 10) the split row is what tells an untie from none.
UNTIED_SYNCED = (
    Check("untied/", "head and embedding after 10 steps", 1e-1,
          "bf16 head (#61 on): our own runs 1e-7 apart end 1.2e-2 / 1.5e-2 apart (parity.sensitivity, seeds 0, 3); "
          "measured against upstream 2.1e-2 (live), 3.8e-2 (golden)"),
    Check("split", "embedding less head after 10 steps", 5e-1,
          "one Adam step since the split, on a bf16 head: our own runs 1e-7 apart differ by 9e-2 / 1.2e-1; measured "
          "against upstream 1.6e-1 (live), 1.8e-1 (golden); a run that never splits is 1.0 off, a split without "
          "the head's Adam state 2.2"),
)

# Record precision of the packed records' model (#12 on): bf16 parameters where the record keeps
# them, bf16 activations, bf16 RoPE tables where the record has them, the FP8 head in training.
# Two bf16 evaluations of one function differ by about as much as either differs from fp32 (each
# rounds ~2^-9 at every op), so these bounds catch a wrong dtype flow or a wrong FP8 formula
# (errors of order 1), not a single misplaced rounding; fp32 parity checks the function itself.
_BF16_LOGITS = ("bf16 activations round ~2^-9 at every op of 12 layers, independently on each side: measured "
                "<= 1.2e-2 against upstream, where either side is 1.25e-2 from its fp32 logits (#12; 2.2e-4 "
                "from #21c, whose sigmoid logits sit far from zero)")
_BF16_GRAD = ("bf16 backward, matrices only: either side's gradient is 7-10% from its own fp32 gradient (the FP8 "
              "head's e5m2 gradient, 2 mantissa bits: ours 7.3e-2 #70, 8.2e-2 #74, 1.0e-1 #80), and the two round "
              "apart where their rounding points differ: measured <= 3.8e-2 to #73, 1.0e-1 (#74 value_embeds), "
              "1.1e-1 (#80 vo_bank), 9.9e-2 live and 1.27e-1 against its golden's fingerprint (#81 qk_bank); a scalar's or gate's bf16 gradient is a cancelling "
              "sum dominated by rounding (tens of %; #28's gate measured 1.1e-1 at seed 101): checked at fp32 only")
RECORD_MODEL = (
    Check("logits", "logits (bf16 model)", 5e-2, _BF16_LOGITS),
    Check("loss", "loss (bf16 model)", 1e-3, "measured <= 1.0e-4 (#19; the mean over 512 tokens averages the rounding)"),
    Check("grad/", "gradient (bf16 model)", 1.5e-1, _BF16_GRAD, vector_tol=float("inf"),
          vector_reason="not compared at record precision (see the matrices' reason); compared at fp32"),
)
# #37 on the training loss is itself a bf16 number
RECORD_MODEL_BF16_LOSS = (
    RECORD_MODEL[0],
    Check("loss", "loss (bf16 model, a bf16 number)", 1.2e-2,
          "two bf16 ulps of the ~5500 summed loss (ulp 32: 5.8e-3 each): CPU torch sums the bf16 terms in "
          "bf16 partial sums (nll_loss's cascade), CUDA and ours in fp32 then round; measured 0 (#37, seed 0)"),
    RECORD_MODEL[2],
)

# #84 on: the MLP up-projections' training forward in FP8, each input scaled by its own amax per
# call, so one rounding anywhere moves every e4m3 rounding of a layer's pre-activation
RECORD_MODEL_FP8_MLP = (
    RECORD_MODEL[0],
    RECORD_MODEL[1],
    Check("grad/", "gradient (bf16 model, FP8 MLP)", 6e-1,
          "the FP8 forward's per-call amax scale makes every pre-activation's e4m3 rounding hang on the largest "
          "input: our own gradients move 30-47% per tensor when the weights move one bf16 rounding (weights x "
          "(1 + 4e-3 z), #84 seed 0; 5-13% without the FP8 MLP, #80), and ours against upstream measured 3.7e-1 "
          "live (#84 qk_bank), 4.6e-1 against its golden's fingerprint (bigram_embed); #85 3.5e-1 live, 5.6e-1 "
          "against its golden (bigram_embed); an FP8 copy of stale weights measured 1.24 (what this bound is for), as an error of order "
          "one would", vector_tol=float("inf"),
          vector_reason="not compared at record precision (see the matrices' reason); compared at fp32"),
)

# Record precision: Newton-Schulz in bf16 as the record runs it. Adam is fp32 either way. Only the
# updates are compared: over a trajectory the ~2% bf16 differences of every Muon update compound
# with the lr (0.02-0.05 from #8 on: measured 1.2e-2 on the loss after 10 steps at the CI shape),
# which says nothing more about the bf16 path than the updates do; the fp32 section checks the
# trajectory.
BF16_NS = (
    Check("update0/", "update step 0", 1e-5, _UPDATE, 1e-1, _UPDATE_NS_BF16, ulp_allowance=True),
    Check("update1/", "update step 1", 1e-5, _UPDATE, 1e-1, _UPDATE_NS_BF16, ulp_allowance=True),
)


@dataclass
class Row:
    label: str
    error: float
    tol: float
    reason: str
    count: int = 1
    worst: str = ""
    per_tensor: dict[str, float] = field(default_factory=dict)
    detail: str = ""  # e.g. the raw error and the ulp allowance of the worst tensor

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.error) and self.error <= self.tol)

    def as_json(self) -> dict:
        return {"check": self.label, "error": self.error, "tolerance": self.tol, "ok": self.ok,
                "reason": self.reason, "tensors": self.count, "worst": self.worst, "detail": self.detail,
                "per_tensor": self.per_tensor}


def relative(ours: np.ndarray, theirs: np.ndarray, elementwise: bool = False, allowance: float = 0.0) -> float:
    """`(||ours - theirs|| - allowance) / ||theirs||`; or, with `elementwise`, the worst
    `|ours_i - theirs_i| / |theirs_i|`."""
    if np.shape(ours) != np.shape(theirs):
        return float("inf")
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    bad = ~np.isfinite(theirs)
    if bad.any() or not np.isfinite(ours).all():
        # inf/NaN must sit exactly where upstream's are (the FP8 backward of #19/#20 overflows at
        # small batches); the rest is compared as usual
        if not np.array_equal(bad, ~np.isfinite(ours)):
            return float("inf")
        ours, theirs = np.where(bad, 0.0, ours), np.where(bad, 0.0, theirs)
    if elementwise:
        return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-30)))
    diff = max(0.0, float(np.linalg.norm(ours - theirs)) - allowance)
    denom = np.linalg.norm(theirs)
    return diff / denom if denom else diff


def _error(check: Check, key: str, ours: dict, theirs: dict, golden: bool) -> tuple[float, float, float]:
    """(error, error before the ulp allowance, the allowance relative to the tensor's norm)."""
    if key not in ours:
        return float("inf"), float("inf"), 0.0
    # An update read as p_after - p_before is rounded to the parameter's fp32 grid: each side is
    # within half an ulp of its exact p + u, so one ulp of p (as a norm) says nothing about the
    # optimizers. #43 on it also holds the decay terms where the cautious mask is decided by
    # rounding (`parity.sides._mask_flip_allowance`).
    allowance = float(ours[f"ulp/{key}"]) if check.ulp_allowance else 0.0
    if golden and isinstance(theirs[key], dict):
        # once: projecting a large tensor is the slow part (in the golden's own format)
        mine = fingerprint(key, ours[key], centred="mean" in theirs[key])
        err, raw = (fingerprint_error(key, theirs[key], mine, a) for a in (allowance, 0.0))
        norm = theirs[key]["norm"]
    else:
        err, raw = (relative(ours[key], np.asarray(theirs[key]), check.elementwise, a) for a in (allowance, 0.0))
        norm = float(np.linalg.norm(np.asarray(theirs[key], np.float64)))
    return err, raw, allowance / norm if norm else 0.0


def _row(check: Check, label: str, measured: dict[str, tuple], tol: float, reason: str, per_param: bool) -> Row:
    errors = {k: v[0] for k, v in measured.items()}
    worst = max(errors, key=errors.__getitem__)
    _, raw, ulp = measured[worst]
    detail = f"raw {raw:.1e} vs allowance (1 ulp of p; mask band) {ulp:.1e}" if check.ulp_allowance else ""
    return Row(f"{label} ({len(errors)})" if per_param else label, errors[worst], tol, reason,
               len(errors), worst.split("/", 1)[1] if per_param else "",
               {k.split("/", 1)[1]: v for k, v in errors.items()} if per_param else {}, detail)


def compare(checks, ours: dict, theirs: dict, golden: bool = False, ns_params: frozenset = frozenset(),
            vector_params: frozenset = frozenset()) -> list[Row]:
    """Rows of `checks`, `ours` against `theirs` (full results, or golden fingerprints).

    `ns_params` names the parameters a Newton-Schulz rule updates; checks with an `ns_tol` give
    them a row of their own; likewise `vector_params` (scalars and gates) for checks with a `vector_tol`.
    """
    rows = []
    for check in checks:
        per_param = check.key.endswith("/")
        keys = [k for k in theirs if k == check.key or (per_param and k.startswith(check.key))]
        if not keys:
            raise KeyError(f"no results for check {check.key!r}")
        measured = {k: _error(check, k, ours, theirs, golden) for k in keys}
        if per_param:  # a parameter only we have is a mismatch too
            inf = (float("inf"), float("inf"), 0.0)
            measured.update({k: inf for k in ours if k.startswith(check.key) and k not in measured})
        if check.vector_tol is not None:
            vec = {k: v for k, v in measured.items() if k.split("/", 1)[1] in vector_params}
            rest = {k: v for k, v in measured.items() if k not in vec}
            if rest:
                rows.append(_row(check, f"{check.label}, matrices", rest, check.tol, check.reason, per_param))
            if vec:
                rows.append(_row(check, f"{check.label}, scalars/gates", vec, check.vector_tol, check.vector_reason,
                                 per_param))
            continue
        if check.ns_tol is None:
            rows.append(_row(check, check.label, measured, check.tol, check.reason, per_param))
            continue
        ns = {k: v for k, v in measured.items() if k.split("/", 1)[1] in ns_params}
        rest = {k: v for k, v in measured.items() if k not in ns}
        if rest:
            rows.append(_row(check, f"{check.label}, Adam", rest, check.tol, check.reason, per_param))
        if ns:
            rows.append(_row(check, f"{check.label}, Newton-Schulz", ns, check.ns_tol, check.ns_reason, per_param))
    return rows
