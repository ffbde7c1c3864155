"""The public API: record N's model from a seed or a PyTorch state_dict, logits, loss, export."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from jnano import records as _records
from jnano.optim.build import build_optimizer
from jnano.stages import get_stage
from jnano.stages.base import LanguageModel
from jnano.state_dict import StateDictError, load_state_dict, named_parameters
from jnano.state_dict import to_state_dict as _to_state_dict


def config(record: str | int, **overrides: Any):
    """Record `record`'s model Config, with any field overridden (e.g. `n_layer=2` for tests)."""
    rec = _records.get(record)
    stage = get_stage(rec.stage)
    fields = {f.name for f in dataclasses.fields(stage.Config)}
    unknown = set(overrides) - fields
    if unknown:
        raise TypeError(
            f"record {rec.id} (stage {rec.stage}) has no config field(s) {sorted(unknown)}; "
            f"fields: {sorted(fields)}"
        )
    return stage.Config(**{**rec.model, **overrides})


def build_model(record: str | int, seed: int = 0, *, key: jax.Array | None = None, **overrides: Any) -> LanguageModel:
    """Record `record`'s model, initialised as upstream initialises it, from `seed` (or `key`)."""
    rec = _records.get(record)
    cfg = config(record, **overrides)
    key = jax.random.PRNGKey(seed) if key is None else key
    return get_stage(rec.stage).init(cfg, key)


def from_state_dict(record: str | int, state_dict: Mapping[str, Any], **overrides: Any) -> LanguageModel:
    """Record `record`'s model holding the tensors of an upstream `state_dict` (torch or numpy).

    Vocabulary, width, depth (and llm.c's block size) are read off the tensors; fields the
    tensors cannot show (`n_head`) come from the record or `overrides`. A missing, extra or
    mis-shaped key raises `StateDictError` naming it.
    """
    rec = _records.get(record)
    stage = get_stage(rec.stage)
    base = config(record, **overrides)
    shapes = {k: tuple(np.shape(v)) for k, v in state_dict.items()}
    try:
        cfg = stage.config_from_shapes(shapes, base)
    except KeyError as e:
        raise StateDictError(
            f"state_dict does not look like record {rec.id}'s model ({rec.stage}): no key {e.args[0]!r}"
        ) from None
    if cfg.n_embd % cfg.n_head:
        raise StateDictError(f"n_embd {cfg.n_embd} is not divisible by n_head {cfg.n_head}; pass n_head=")
    return load_state_dict(lambda: stage.init(cfg, jax.random.PRNGKey(0)), state_dict)


def to_state_dict(model: LanguageModel) -> dict[str, np.ndarray]:
    """The upstream state_dict (numpy float32), tied aliases and persistent buffers included:
    `torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})` loads it."""
    return _to_state_dict(model)


def logits(model: LanguageModel, idx: Int[Array, "batch seq"], **schedule) -> Float[Array, "batch seq vocab"]:
    """`schedule`: per-step model arguments, e.g. `window=` (#13 on; the record's default otherwise)."""
    return model(jnp.asarray(idx), **schedule)


def loss(model: LanguageModel, idx: Int[Array, "batch seq"], targets: Int[Array, "batch seq"],
         **schedule) -> Float[Array, ""]:
    """The next-token cross-entropy the record trains on (targets of -1 are ignored): the mean over
    tokens, or from #21c each row's sum, averaged over rows (`type(model).train_loss_reduction`)."""
    return model.loss(jnp.asarray(idx), jnp.asarray(targets), **schedule)


def loss_and_grads(
    model: LanguageModel, idx: Int[Array, "batch seq"], targets: Int[Array, "batch seq"], **schedule
) -> tuple[float, dict[str, np.ndarray]]:
    """The training loss and its gradient for every parameter, keyed by upstream state_dict name
    (a tied tensor under its canonical key, e.g. `transformer.wte.weight`, as torch lists it)."""
    loss_value, grads = eqx.filter_value_and_grad(
        lambda m: m.loss(jnp.asarray(idx), jnp.asarray(targets), **schedule))(model)
    return float(loss_value), {name: np.asarray(g) for name, g in named_parameters(grads).items()}


def optimizer(record: str | int, model: LanguageModel) -> optax.GradientTransformation:
    """Record `record`'s optimizer (groups, rules, schedule) for `model`'s parameters."""
    return build_optimizer(_records.get(record).optimizer, model)


def param_count(model: eqx.Module) -> int:
    """Parameter elements (tied tensors once); works on `jax.eval_shape` models too."""
    leaves = jax.tree.leaves(eqx.filter(model, lambda x: isinstance(x, (jax.Array, jax.ShapeDtypeStruct))))
    return sum(int(np.prod(x.shape)) for x in leaves)
