"""Equinox model <-> upstream PyTorch state_dict, by name, with nothing reshuffled.

A model's array leaves are named by their attribute path (`transformer.h.0.attn.c_attn.weight`),
which is upstream's state_dict key by construction (stage modules use upstream's attribute names
and layouts). What a state_dict has beyond the parameters is declared by the model class:
`tied_aliases` (extra keys for a tied tensor, e.g. `lm_head.weight` -> `transformer.wte.weight`)
and `buffers()` (persistent buffers such as the llm.c causal mask or `rotary.inv_freq`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


class StateDictError(ValueError):
    """A state_dict that does not fit the model: the message names the offending key."""


def path_name(path: tuple[Any, ...]) -> str:
    parts = []
    for entry in path:
        if isinstance(entry, jax.tree_util.GetAttrKey):
            parts.append(entry.name)
        elif isinstance(entry, jax.tree_util.SequenceKey):
            parts.append(str(entry.idx))
        elif isinstance(entry, jax.tree_util.DictKey):
            parts.append(str(entry.key))
        else:
            raise TypeError(f"cannot name pytree path entry {entry!r}")
    return ".".join(parts)


def named_parameters(model: eqx.Module) -> dict[str, jax.Array]:
    """Every array leaf of the model under its state_dict name, in tree order."""
    leaves = jax.tree_util.tree_flatten_with_path(eqx.filter(model, eqx.is_array))[0]
    return {path_name(path): leaf for path, leaf in leaves}


def to_numpy(value: Any) -> np.ndarray:
    """numpy view of a numpy/JAX array or a (CPU) torch tensor, without importing torch."""
    if hasattr(value, "detach"):  # torch.Tensor
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


def to_state_dict(model: eqx.Module) -> dict[str, np.ndarray]:
    """The upstream state_dict of `model`: parameters, tied aliases, persistent buffers (numpy)."""
    # (float32 throughout: #57's bf16 matrices widen exactly, and torch loads them back exactly)
    params = {name: np.asarray(leaf, np.float32) for name, leaf in named_parameters(model).items()}
    out = dict(params)
    for alias, target in type(model).tied_aliases.items():
        out[alias] = params[target]
    out.update(model.buffers())
    return out


def load_state_dict(
    init: Callable[[], eqx.Module], state_dict: Mapping[str, Any], *, dtype=jnp.float32
) -> eqx.Module:
    """Build the model `init()` would build, with every parameter taken from `state_dict`.

    `init` is only traced for shapes (`eqx.filter_eval_shape`), never run. Missing, unexpected and
    mis-shaped keys raise `StateDictError` naming the key; a tied alias must equal its target and
    a buffer must equal the value the model computes.
    """
    template = eqx.filter_eval_shape(init)
    params, static = eqx.partition(template, lambda x: isinstance(x, jax.ShapeDtypeStruct))
    paths, treedef = jax.tree_util.tree_flatten_with_path(params)
    cls = type(template)
    expected_buffers = template.buffers()
    given = dict(state_dict)

    leaves = []
    for path, leaf in paths:
        name = path_name(path)
        if name not in given:
            raise StateDictError(f"state_dict is missing key {name!r} (expected shape {tuple(leaf.shape)})")
        value = to_numpy(given.pop(name))
        if tuple(value.shape) != tuple(leaf.shape):
            raise StateDictError(
                f"state_dict key {name!r} has shape {tuple(value.shape)}, the model expects "
                f"{tuple(leaf.shape)}"
            )
        # a parameter the model keeps in another dtype (#57's bf16 matrices) is rounded to it
        leaves.append(jnp.asarray(value, dtype=dtype if leaf.dtype == jnp.float32 else leaf.dtype))
    model = eqx.combine(jax.tree_util.tree_unflatten(treedef, leaves), static)
    loaded = named_parameters(model)

    for alias, target in cls.tied_aliases.items():
        if alias not in given:
            continue  # a tied alias is redundant: its absence loses nothing
        value = to_numpy(given.pop(alias))
        if value.shape != loaded[target].shape or not np.array_equal(value, np.asarray(loaded[target])):
            raise StateDictError(
                f"state_dict key {alias!r} must be tied to (equal) {target!r}, but it differs"
            )
    for name, expected in expected_buffers.items():
        if name not in given:
            continue  # buffers are recomputed by the model
        value = to_numpy(given.pop(name))
        if value.shape != expected.shape:
            raise StateDictError(
                f"state_dict buffer {name!r} has shape {value.shape}, the model expects {expected.shape}"
            )
        if not np.allclose(value, expected, rtol=1e-6, atol=0):
            raise StateDictError(f"state_dict buffer {name!r} differs from the value this model computes")
    if given:
        extra = sorted(given)
        raise StateDictError(
            f"state_dict has {len(extra)} unexpected key(s): {', '.join(map(repr, extra[:8]))}"
            + (" ..." if len(extra) > 8 else "")
        )
    return model
