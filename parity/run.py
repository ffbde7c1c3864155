"""One record's parity run, live against upstream code or against its committed golden."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

import jnano
from jnano import hparams as hp
from jnano import records
from jnano.stages import get_stage, s38_single_saved_activation
from jnano.state_dict import named_parameters
from parity import checks, setup, sides, weights

GOLDEN_SEED = 0


@dataclass
class Section:
    title: str
    rows: list[checks.Row]


@dataclass
class Report:
    record: str
    mode: str  # "live" or "golden"
    against: str
    seed: int
    size: str
    shape: dict
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for s in self.sections for r in s.rows)

    def as_json(self) -> dict:
        return {
            "record": self.record, "stage": records.get(self.record).stage, "mode": self.mode,
            "against": self.against, "seed": self.seed, "size": self.size, "shape": self.shape,
            "ok": self.ok, "seconds": round(self.seconds, 2), "notes": self.notes,
            "sections": [{"title": s.title, "rows": [r.as_json() for r in s.rows]} for s in self.sections],
        }

    def table(self, verbose: bool = False) -> str:
        rec = records.get(self.record)
        lines = [
            f"record #{self.record} ({rec.stage}: {rec.description}) - {self.mode} against {self.against}",
            f"  seed {self.seed}, {self.size} shape {self.shape}, {self.seconds:.1f}s",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        for s in self.sections:
            lines.append(f"  [{s.title}]")
            lines.append(f"    {'check':<42}{'rel. error':>11}{'tolerance':>11}  result  worst tensor")
            for r in s.rows:
                worst = f"{r.worst} ({r.detail})" if r.detail else r.worst
                lines.append(f"    {r.label:<42}{r.error:>11.2e}{r.tol:>11.1e}  {'ok' if r.ok else 'FAIL':<6}  {worst}")
                if verbose or not r.ok:
                    lines.append(f"      why this tolerance: {r.reason}")
                    for name, err in r.per_tensor.items() if verbose else []:
                        lines.append(f"      {name:<50}{err:.2e}")
        lines.append(f"  => {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


def precisions(record: str) -> list[str]:
    """fp32 always; bf16 Newton-Schulz too where the record's optimizer orthogonalises."""
    rules = [g.rule for g in records.get(record).optimizer.groups]
    return ["float32"] + (["bfloat16"] if any(hasattr(r, "ns_dtype") for r in rules) else [])


def ns_params(record: str, inp: "Inputs") -> frozenset:
    """Names of the parameters that a Newton-Schulz rule (Muon, OrthogonalNesterov) updates."""
    recipe = records.get(record).optimizer
    ns_groups = {g.name for g in recipe.groups if hasattr(g.rule, "ns_dtype")}
    return frozenset(n for n, shape in inp.param_shapes.items() if recipe.label(n, len(shape)) in ns_groups)


# Below this many elements a 2-D parameter is a gate (#28's `attn.dampen`: 2 at the parity shape,
# 72 at full size), not a weight matrix: every matrix of every parity shape has >= 4096.
GATE_SIZE = 1024


def vector_params(inp: "Inputs") -> frozenset:
    """Scalars (ndim <= 1: lambdas, skip weights, packed scalars) and gates (2-D, < GATE_SIZE
    elements): parameters whose every gradient element is one cancelling sum over all tokens."""
    return frozenset(n for n, shape in inp.param_shapes.items()
                     if len(shape) <= 1 or int(np.prod(shape)) < GATE_SIZE)


def check_set(precision: str, record: str):
    if precision != "float32":
        if not record_precision_model(record, precision):
            return checks.BF16_NS
        bf16_loss = get_stage(records.get(record).stage).GPT.train_loss_dtype == "logits"
        if "mlp_up_fp8" in setup.config_fields(record):
            return checks.BF16_NS + checks.RECORD_MODEL_FP8_MLP
        return checks.BF16_NS + (checks.RECORD_MODEL_BF16_LOSS if bf16_loss else checks.RECORD_MODEL)
    out = _fp32_checks(record)
    if issubclass(get_stage(records.get(record).stage).GPT, s38_single_saved_activation.GPT):
        out = tuple(checks.SAVED_ACTIVATION.get(c.key, c) for c in out)
    return out


def _fp32_checks(record: str):
    base = checks.FLEX_FP32 if setup.is_flex(record) else checks.FP32
    if not sides.untied_names(record):
        return base
    if records.get(record).optimizer.untie.synced_transpose:
        return base + checks.UNTIED_SYNCED
    return base + (checks.UNTIED_BF16_WEIGHTS if _bf16_weights(record) else checks.UNTIED)


def _bf16_weights(record: str) -> bool:
    """#57 on: Muon's weights are bf16 with a float32 master (`hp.Muon.master`)."""
    return any(isinstance(g.rule, hp.Muon) and g.rule.master for g in records.get(record).optimizer.groups)


def title(precision: str, record: str) -> str:
    if precision == "float32":
        return "fp32"
    if record_precision_model(record, precision):
        return "record precision: bf16 model (FP8 head where the record has it), Newton-Schulz in bf16"
    return "record precision: Newton-Schulz in bf16"


@dataclass
class Inputs:
    size: str  # "small" or "full"
    shape: dict  # Config overrides
    state_dict: dict
    batches: list
    synthetic: list  # per-step {name: gradient}
    param_shapes: dict  # {name: shape} of the parameters (tied tensors once)


def inputs(record: str, seed: int, size: str) -> Inputs:
    shape = setup.shape(record, size)
    geo = setup.batch_geometry(record, size)
    sd = weights.parity_state_dict(record, seed, shape)
    vocab = jnano.config(record, **shape).vocab_size
    batches = weights.parity_batches(seed, vocab, geo["batch"], geo["seq"], setup.STEPS,
                                     documents=4 if setup.is_flex(record) else 0)
    model = jnano.from_state_dict(record, sd, **shape)
    shapes = {n: tuple(v.shape) for n, v in named_parameters(model).items()}
    return Inputs(size, shape, sd, batches, weights.synthetic_gradients(seed, shapes), shapes)


def record_precision_model(record: str, precision: str) -> bool:
    """Packed records (#12 on) compare their model at record precision too (bf16 parameters and
    activations, bf16 RoPE tables where the record has them, the FP8 head)."""
    return precision != "float32" and setup.is_flex(record)


def ours(record: str, inp: Inputs, precision: str, trajectory: bool = True) -> sides.Results:
    out = sides.jax_results(record, inp.shape, inp.state_dict, inp.batches, setup.recipe(record, precision),
                            inp.synthetic, model_checks=precision == "float32", trajectory=trajectory)
    if record_precision_model(record, precision):
        out.update(sides.jax_record_precision(record, setup.record_shape(record, inp.size), inp.state_dict,
                                              inp.batches[0]))
    # a buffer we hold as a leaf (#83's sign table) has no gradient or update upstream
    return {k: v for k, v in out.items() if k.rsplit("/", 1)[-1] not in weights.SIGN_TABLES}


def theirs(reference, record: str, inp: Inputs, precision: str) -> sides.Results:
    recipe = setup.recipe(record, precision)
    seq = inp.batches[0][0].shape[-1]
    args = setup.upstream_args(record, recipe)
    if setup.is_flex(record):  # the warmdown's name changes between records: keep upstream's own
        args = type(args)(**setup.for_declared({**vars(args), **setup.upstream_model_args(record, inp.shape)},
                                               reference.driver.declared_args()))
    out = sides.torch_results(reference, setup.upstream_shape(record, inp.shape, seq), inp.state_dict, inp.batches,
                              args, precision == "float32", inp.synthetic,
                              model_checks=precision == "float32")
    if record_precision_model(record, precision):
        out.update(sides.torch_record_precision(reference.with_options(precision="record"),
                                                setup.upstream_shape(record, inp.shape, seq), inp.state_dict,
                                                inp.batches[0], args))
    return out


def hyperparameter_row(reference, record: str) -> checks.Row | None:
    from ref.declared import declared

    found = declared(reference)
    if found is None:
        return None
    values, where = found
    table = setup.table_args(record)
    if "num_scheduled_iterations" in values:  # #41 on: the total under the old name
        table = {**table, **setup.for_declared(table, values)}
    shared = sorted(set(values) & set(table))
    def same(a, b) -> bool:  # numbers, or tuples of them (#46's batch stages)
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return a.shape == b.shape and bool(np.allclose(a, b))

    wrong = {k: (table[k], values[k]) for k in shared if not same(table[k], values[k])}
    reason = f"our record table vs {where}, {len(shared)} values: " + ", ".join(shared)
    if wrong:
        reason += "; differing (ours, upstream's): " + ", ".join(f"{k}={v}" for k, v in wrong.items())
    return checks.Row(f"hyperparameters ({len(shared)})", float(len(wrong)), 0.0, reason,
                      len(shared), ", ".join(wrong))


def run_live(record: str, reference, seed: int = GOLDEN_SEED, size: str = "small") -> Report:
    t0 = time.perf_counter()
    src = reference.source
    against = f"{src.origin} ({'sha256 verified' if src.verified else 'sha256 DIFFERS from the manifest'})"
    report = Report(record, "live", against, seed, size, setup.shape(record, size))
    if not src.verified:
        report.notes.append("the upstream file differs from the pinned record code; results describe that file")
    inp = inputs(record, seed, size)
    ns = ns_params(record, inp)
    for precision in precisions(record):
        rows = checks.compare(check_set(precision, record), ours(record, inp, precision),
                              theirs(reference, record, inp, precision), ns_params=ns,
                              vector_params=vector_params(inp))
        report.sections.append(Section(title(precision, record), rows))
    hp_row = hyperparameter_row(reference, record)
    if hp_row is not None:
        report.sections.append(Section("facts", [hp_row]))
    report.seconds = time.perf_counter() - t0
    return report


# What a golden check runs: "full" everything the golden holds; "core" the fp32 model (logits,
# loss, gradients) and the optimizer's two steps, without the 10-step training run and the
# record-precision section (about a third of a packed record's cost: CI's budget, tests/test_parity.py)
SCOPES = ("full", "core")
_TRAINING_RUN_KEYS = ("trajectory", "final_logits", "untied/", "split")


def run_golden(record: str, golden: dict, scope: str = "full") -> Report:
    if scope not in SCOPES:
        raise ValueError(f"unknown golden scope {scope!r}; use one of {SCOPES}")
    t0 = time.perf_counter()
    up = golden["upstream"]
    report = Report(record, "golden", f"golden from {up['repo']}@{up['commit'][:8]}:{up['path']}",
                    golden["seed"], golden["size"], golden["shape"])
    if scope == "core":
        report.notes.append("core scope: no 10-step training run, no record-precision section")
    inp = inputs(record, golden["seed"], golden["size"])
    ns = ns_params(record, inp)
    for precision in precisions(record) if scope == "full" else ["float32"]:
        results = golden["results"][precision]
        wanted = [c for c in check_set(precision, record) if scope == "full" or c.key not in _TRAINING_RUN_KEYS]
        rows = checks.compare(wanted, ours(record, inp, precision, trajectory=scope == "full"), results, golden=True,
                              ns_params=ns, vector_params=vector_params(inp))
        report.sections.append(Section(title(precision, record), rows))
    report.seconds = time.perf_counter() - t0
    return report


__all__ = ["Report", "run_golden", "run_live"]
