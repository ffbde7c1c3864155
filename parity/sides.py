"""Run the same computations on each side and collect comparable results (numpy float64).

Result keys (`<name>` is the upstream state_dict name of a parameter):
- `logits`, `loss`, `grad/<name>`: one forward/backward on batch 0.
- `update0/<name>`, `update1/<name>`: the change the optimizer makes to every parameter at steps 0
  and 1 given identical synthetic gradients (`parity.weights.synthetic_gradients`): the optimizer
  compared on the same inputs, so Adam's sign-like first step cannot magnify gradient rounding.
- `trajectory`: the training loss of steps 0..STEPS-1, each on its own batch, both sides training
  end to end from the same weights; `final_logits`: logits on batch 0 after those steps, at the
  window of the step that would come next (from #31 the window state lives in the model: YaRN).
"""

from __future__ import annotations

import fnmatch
import inspect
from dataclasses import replace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jnano
from jnano import hparams as hp
from jnano import records
from jnano.optim.build import build_optimizer
from jnano.optim.master import MantissaState, master_of
from jnano.state_dict import named_parameters, path_name
from parity import setup, weights

Results = dict[str, np.ndarray]


def applied(model, updates):
    """`model` after `updates`, each parameter kept in its dtype as `optax.apply_updates` keeps it
    (the trainer's): #57's float32 steps on bf16 weights land on the bf16 value they aim at."""
    return eqx.combine(optax.apply_updates(eqx.filter(model, eqx.is_array), updates), model)


def _tree_from_names(model, values: dict[str, np.ndarray]):
    params = eqx.filter(model, eqx.is_array)
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: jnp.asarray(values[path_name(path)], leaf.dtype), params
    )


def untied_names(record: str) -> tuple[str, ...]:
    """The two tables of #53's untie (head, embedding): compared after the trajectory, which
    crosses the copy and the split. The losses alone barely see them (a run that never unties
    was measured 1.1e-4 off, under the trajectory's 2e-4)."""
    untie = records.get(record).optimizer.untie
    return () if untie is None else (untie.src, untie.dst)


def schedule_args(record: str, step: int) -> dict:
    """The model's per-step arguments (`window`, #53's `mtp_weights`, `untied`) at `step`, as
    traced values."""
    return {k: jnp.asarray(v) for k, v in setup.schedule_at(record, step).items()}


def _forward_kwargs(model) -> dict:
    """The training forward's logits (#19 on: through the FP8 head) where the model has both."""
    return {"training": True} if "training" in inspect.signature(type(model).__call__).parameters else {}


def jax_record_precision(record: str, shape: dict, state_dict: dict, batch) -> Results:
    """Logits, loss and gradients of the record-precision model: the record's bf16 parameters
    (`Record.bf16_params`) rounded to bf16, its config as it runs (bf16 RoPE tables, FP8 head)."""
    model = jnano.from_state_dict(record, state_dict, **shape)
    globs = records.get(record).bf16_params
    model = jax.tree_util.tree_map_with_path(
        lambda path, leaf: leaf.astype(jnp.bfloat16)
        if eqx.is_array(leaf) and any(fnmatch.fnmatchcase(path_name(path), g) for g in globs) else leaf, model)
    kwargs = _forward_kwargs(model)
    idx, targets = (jnp.asarray(a) for a in batch)
    probe = schedule_args(record, setup.PROBE_STEP)
    logits = jax.jit(lambda m, x, s: m(x, **kwargs, **s))(model, idx, probe)
    loss, grads = eqx.filter_jit(eqx.filter_value_and_grad(lambda m, x, y, s: m.loss(x, y, **s)))(
        model, idx, targets, probe)
    out: Results = {"logits": np.asarray(logits.astype(jnp.float32), np.float64), "loss": np.float64(loss)}
    out.update({f"grad/{n}": np.asarray(g.astype(jnp.float32), np.float64) for n, g in named_parameters(grads).items()})
    return out


def _computed_buffers(model) -> set[str]:
    """Upstream's buffers that its constructor computes (not the drawn ones we hold as leaves)."""
    return {name for name, _ in model.named_buffers()} - weights.SIGN_TABLES


def torch_record_precision(reference, shape: dict, state_dict: dict, batch, args) -> Results:
    """The same from upstream's model built as its `main` builds it (`ref.load(..., precision="record")`);
    `args` (the shortened schedule) set first: the window at the probe step depends on it."""
    import torch

    reference.set_args(args)
    torch.manual_seed(0)
    model = reference.build_model(**shape)
    buffers = _computed_buffers(model)
    model.load_state_dict({k: torch.from_numpy(np.array(v, copy=True)) for k, v in state_dict.items()
                           if k not in buffers}, strict=False)
    reference.weights_changed(model)
    model.train()
    idx, targets = (torch.from_numpy(a) for a in batch)
    logits, loss = reference.forward(model, idx, targets, step=setup.PROBE_STEP)
    loss.backward()
    out: Results = {"logits": logits.detach().double().numpy(), "loss": np.float64(loss.item())}
    out.update({f"grad/{n}": _grad(p) for n, p in model.named_parameters()})
    return out


# An entry whose direction is below this fraction of its tensor's RMS can take either sign of
# #43's cautious mask: fp32 Newton-Schulz agrees with upstream's to ~1e-6 of the RMS per entry
# (measured; 100x margin), and each update is quantised to its parameter's ulp (~1e-6 of it)
MASK_BAND = 1e-4


def _undecayed_apply(recipe: hp.OptimizerRecipe, model0):
    """The optimizer step without #43's cautious weight decay on NorMuon (None where the recipe
    has none, or where Newton-Schulz runs in bf16: a few mask entries, ~1e-4 of an update, are
    nothing against that check's 0.1): its update is the direction whose sign the mask reads.
    Adam's decay (#50) stays: Adam's step agrees with upstream's bit for bit, so its mask
    cannot flip, and its parameters get no allowance."""
    decayed = [g for g in recipe.groups if isinstance(g.rule, hp.Muon) and g.rule.cautious_weight_decay]
    if not decayed or any(g.rule.ns_dtype != "float32" for g in decayed):
        return None
    plain = tuple(replace(g, rule=replace(g.rule, cautious_weight_decay=0.0)) if g in decayed else g
                  for g in recipe.groups)
    opt = build_optimizer(replace(recipe, groups=plain), model0)

    @eqx.filter_jit
    def apply(m, s, g):
        updates, s = opt.update(g, s, eqx.filter(m, eqx.is_array))
        return applied(m, updates), s

    return apply


def _mask_flip_allowance(update: np.ndarray, plain: np.ndarray, p: np.ndarray) -> float:
    """The norm of the decay terms at the entries where the cautious mask `[v * p >= 0]` is
    decided by rounding (`|v|` within `MASK_BAND` of the RMS): there a correct implementation may
    decay where upstream does not, or the reverse, by the whole term `lr * wd * p`."""
    decay = np.abs(update - plain)
    applied = decay > 0
    if not applied.any():
        return 0.0
    per_weight = float(np.median(decay[applied] / np.maximum(np.abs(p[applied]), 1e-30)))
    rms = float(np.sqrt(np.mean(plain * plain)))
    band = np.abs(plain) <= MASK_BAND * rms
    return float(np.linalg.norm(per_weight * p[band]))


def _probe(record: str, model, logits_fn, value_and_grad, idx, targets) -> Results:
    """Logits, loss and gradients at `setup.PROBE_STEP`'s window."""
    probe = schedule_args(record, setup.PROBE_STEP)
    loss, grads = value_and_grad(model, idx, targets, probe)
    out: Results = {"logits": np.asarray(logits_fn(model, idx, probe), np.float64), "loss": np.float64(loss)}
    grads = named_parameters(grads)
    out.update({f"grad/{n}": np.asarray(g, np.float64) for n, g in grads.items()})
    out.update({f"ulp/grad/{n}": 0.0 for n in grads})
    if any(g.dtype == jnp.bfloat16 for g in grads.values()):  # #57's bf16 weights
        widened = jax.tree.map(lambda x: x.astype(jnp.float32) if eqx.is_array(x) and x.dtype == jnp.bfloat16 else x,
                               model)
        _, wide = value_and_grad(widened, idx, targets, probe)
        for n, g in named_parameters(wide).items():
            if grads[n].dtype == jnp.bfloat16:
                out[f"ulp/grad/{n}"] = _rounding_flip_allowance(np.asarray(g, np.float64))
    return out


# A float32 gradient within this fraction of its tensor's RMS of a bf16 rounding midpoint can
# round either way on the two sides: the fp32 gradients agree to <= 3.7e-6 of the norm (packed
# records, measured), so 1e-4 is the same 100x margin as `MASK_BAND`. The RMS is taken over the
# entries that are not exactly zero: an embedding table's gradient is zero in every row no token
# of the batch reached (99% of #85's value tables at the CI shape), which would shrink the band
# tenfold for the rows that carry it.
ROUNDING_BAND = 1e-4


def _rounding_flip_allowance(g32: np.ndarray, noise: np.ndarray | None = None) -> float:
    """#57: a bf16 weight's gradient is the float32 gradient rounded to bf16 (upstream's
    `.type_as(x)` backward); #61 on a bf16 weight's Adam step rounds `p + u` into bf16. Where the
    float32 value lies within `ROUNDING_BAND` of the RMS of what carries the float32 noise (the
    gradient; or the update `noise`) of a rounding midpoint, either neighbour is correct: the norm
    of those entries' bf16 ulps."""
    rounded = np.asarray(jnp.asarray(g32, jnp.float32).astype(jnp.bfloat16).astype(jnp.float32), np.float64)
    ulp = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(rounded), np.finfo(np.float32).tiny))) - 7)
    noise = g32 if noise is None else noise
    reached = noise[noise != 0]
    rms = np.sqrt(np.mean(reached * reached)) if reached.size else 0.0
    near = 0.5 * ulp - np.abs(g32 - rounded) <= ROUNDING_BAND * rms
    return float(np.linalg.norm(ulp[near]))


def _masters(model, state) -> dict[str, jax.Array]:
    """Named parameters, a bf16 weight with a mantissa (#57) as its float32 master: what its
    optimizer updates (the weight is the master truncated, so comparing weights would compare
    truncations of masters that agree to fp32 rounding)."""
    out = named_parameters(model)
    for s in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, MantissaState)):
        if isinstance(s, MantissaState):
            for path, m in jax.tree_util.tree_flatten_with_path(s.mantissa)[0]:
                name = path_name(path)
                out[name] = master_of(out[name], m)
    return out


def torch_masters(optimizers) -> dict[int, object]:
    """id(weight) -> the float32 master of each bf16 weight upstream's NorMuon keeps a `mantissa`
    for, one process holding every rank's chunk: #57's groups (the i-th weight and
    `mantissa[i]`), #61's `NorMuonAndAdam` (a bank's state, on its `.reshape` view)."""
    import torch

    def master(p, m):
        bits = (p.detach().reshape(m.shape).view(torch.uint16).to(torch.int64) << 16) | m.to(torch.int64)
        return bits.to(torch.int32).view(torch.float32).reshape(p.shape)

    out = {}
    for opt in optimizers:
        for p, state in getattr(opt, "param_states", {}).items():  # #61 on
            if "mantissa" in state:
                out[id(p)] = master(p, state["mantissa"])
        for group in getattr(opt, "param_groups", []):
            if "mantissa" in group:
                for p, m in zip(group["params"], group["mantissa"]):
                    out[id(p)] = master(p, m)
    return out


def jax_model_results(record: str, shape: dict, state_dict: dict, batch) -> Results:
    """Only the model's results of `jax_results` (logits, loss, gradients): what a change to
    the model alone can move."""
    model = jnano.from_state_dict(record, state_dict, **shape)
    logits_fn = jax.jit(lambda m, x, schedule: m(x, **_forward_kwargs(m), **schedule))
    value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(lambda m, x, y, schedule: m.loss(x, y, **schedule)))
    return _probe(record, model, logits_fn, value_and_grad, *(jnp.asarray(a) for a in batch))


def jax_results(record: str, shape: dict, state_dict: dict, batches, recipe: hp.OptimizerRecipe,
                synthetic: list[dict[str, np.ndarray]], model_checks: bool = True, trajectory: bool = True) -> Results:
    """Our results; `model_checks=False`: only the optimizer updates (record-precision runs);
    `trajectory=False`: not the 10-step training run either (`run.run_golden`'s "core" scope).
    Logits and gradients run at `setup.PROBE_STEP`'s window, step s of the trajectory at step s's."""

    def loss_fn(model, x, y, schedule):  # local: equinox caches traces per function object
        return model.loss(x, y, **schedule)

    logits_fn = jax.jit(lambda m, x, schedule: m(x, **_forward_kwargs(m), **schedule))
    value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(loss_fn))
    model0 = jnano.from_state_dict(record, state_dict, **shape)
    opt = build_optimizer(recipe, model0)

    @eqx.filter_jit
    def apply(m, s, g):
        updates, s = opt.update(g, s, eqx.filter(m, eqx.is_array))
        return applied(m, updates), s, updates

    undecayed = _undecayed_apply(recipe, model0)
    out: Results = {}
    model, state = model0, opt.init(eqx.filter(model0, eqx.is_array))
    for step, grads_np in enumerate(synthetic):
        before = _masters(model, state)
        grads = _tree_from_names(model, grads_np)
        plain = _masters(*undecayed(model, state, grads)) if undecayed else {}
        model, state, steps = apply(model, state, grads)
        steps = named_parameters(steps)
        for n, p in _masters(model, state).items():
            update = np.asarray(p, np.float64) - np.asarray(before[n], np.float64)
            out[f"update{step}/{n}"] = update
            ulp = np.linalg.norm(np.spacing(np.asarray(p, np.float32)))
            if n in plain:
                ulp += _mask_flip_allowance(update, np.asarray(plain[n], np.float64) - np.asarray(before[n], np.float64),
                                            np.asarray(before[n], np.float64))
            if p.dtype == jnp.bfloat16:  # a bf16 weight without a float32 master (#61's head, #65's tables)
                step32 = np.asarray(steps[n], np.float64)
                ulp += _rounding_flip_allowance(np.asarray(before[n], np.float64) + step32, step32)
            out[f"ulp/update{step}/{n}"] = np.float64(ulp)
    if not model_checks:
        return out

    idx, targets = (jnp.asarray(a) for a in batches[0])
    out.update(_probe(record, model0, logits_fn, value_and_grad, idx, targets))
    if not trajectory:
        return out

    model, state = model0, opt.init(eqx.filter(model0, eqx.is_array))
    losses = []
    for step, (x, y) in enumerate(batches):  # the same compiled functions as above: no compile per step
        loss, grads = value_and_grad(model, jnp.asarray(x), jnp.asarray(y), schedule_args(record, step))
        model, state, _ = apply(model, state, grads)
        losses.append(float(loss))
    out["trajectory"] = np.array(losses)
    out["final_logits"] = np.asarray(logits_fn(model, idx, schedule_args(record, setup.STEPS)), np.float64)
    final = named_parameters(model)
    out.update(_untied_results({n: np.asarray(final[n], np.float64) for n in untied_names(record)}))
    return out


def _untied_results(tables: dict[str, np.ndarray]) -> Results:
    """The head and embedding after the trajectory, and what the untie made of them: the
    embedding less the head (their own steps since the split, free of the shared history's
    rounding noise, which #57's bf16 matrix gradients make large)."""
    if not tables:
        return {}
    src, dst = tables
    head = tables[src] if tables[src].shape == tables[dst].shape else tables[src].T  # #61 stores it (d, V)
    return {**{f"untied/{n}": t for n, t in tables.items()}, "split": tables[dst] - head}


def _grad(p) -> np.ndarray:
    """A parameter's gradient; zero where the forward did not read it (`.grad` None: #53's
    `embed` before the untie), as JAX's gradient is."""
    return np.zeros(tuple(p.shape)) if p.grad is None else p.grad.double().numpy()


def torch_results(reference, shape: dict, state_dict: dict, batches, args, fp32_ns: bool,
                  synthetic: list[dict[str, np.ndarray]], model_checks: bool = True) -> Results:
    import torch

    torch.manual_seed(0)
    tensors = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in state_dict.items()}

    def fresh_model():
        """Upstream's model holding our parameters; its computed buffers (causal mask, inv_freq)
        stay the ones upstream's own constructor computed, its drawn ones (#83's sign table) are
        ours. `args` first: #83 on size the bigram table from them."""
        reference.set_args(args)
        model = reference.build_model(**shape)
        buffers = _computed_buffers(model)
        missing, unexpected = model.load_state_dict(
            {k: v for k, v in tensors.items() if k not in buffers}, strict=False)
        if unexpected or set(missing) - buffers:
            raise KeyError(f"state_dict does not fit upstream's model: missing {missing}, unexpected {unexpected}")
        return model.train()

    def canonical(model) -> dict[str, torch.nn.Parameter]:
        """Parameters under our names: a tied tensor under its first state_dict key."""
        by_id: dict[int, tuple[str, torch.nn.Parameter]] = {}
        for name, p in model.state_dict(keep_vars=True).items():
            if isinstance(p, torch.nn.Parameter):
                by_id.setdefault(id(p), (name, p))
        return dict(by_id.values())

    def snapshot(params, masters=None):
        masters = masters or {}
        return {n: masters.get(id(p), p).detach().double().numpy().copy() for n, p in params.items()}

    out: Results = {}
    model = fresh_model()
    params = canonical(model)
    opt = reference.build_optimizer(model, args)
    for step, grads_np in enumerate(synthetic):
        before = snapshot(params, torch_masters(opt.optimizers))
        for n, p in params.items():  # as a backward pass would: into what the last step left (#39)
            g = torch.from_numpy(np.array(grads_np[n], np.float32)).to(p.dtype)  # #57's bf16 weights: bf16
            p.grad = g if p.grad is None else p.grad + g
        reference.apply_gradients(model, opt, step, fp32_ns)
        for n, p in snapshot(params, torch_masters(opt.optimizers)).items():
            out[f"update{step}/{n}"] = p - before[n]

    if not model_checks:
        return out
    model = fresh_model()
    idx, targets = (torch.from_numpy(a) for a in batches[0])
    probe = {"step": setup.PROBE_STEP} if setup.is_flex(reference.record) else {}
    logits, loss = reference.forward(model, idx, targets, **probe)
    loss.backward()
    out["logits"] = logits.detach().double().numpy()
    out["loss"] = np.float64(loss.item())
    out.update({f"grad/{n}": _grad(p) for n, p in canonical(model).items()})

    model = fresh_model()
    opt = reference.build_optimizer(model, args)
    losses = [
        reference.train_step(model, opt, torch.from_numpy(x), torch.from_numpy(y), step, fp32_ns)
        for step, (x, y) in enumerate(batches)
    ]
    out["trajectory"] = np.array(losses)
    after = {"step": setup.STEPS} if setup.is_flex(reference.record) else {}
    with torch.no_grad():
        out["final_logits"] = reference.forward(model, idx, targets, **after)[0].double().numpy()
    final = canonical(model)
    out.update(_untied_results({n: final[n].detach().double().numpy() for n in untied_names(reference.record)}))
    return out
