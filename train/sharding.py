"""Sharding as data: one PartitionSpec rule per parameter kind and per activation kind, over a
mesh of every device with a data axis (data parallel + FSDP) and an optional model axis (tensor
parallel: attention heads and MLP hidden units).

Rules name state_dict keys (glob) and give a spec in PyTorch's (out, in) layout. A mesh axis
that does not divide the dimension it would shard is dropped for that tensor (replicated).
"""

from __future__ import annotations

import fnmatch
import os
import re

import equinox as eqx
import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jnano.state_dict import path_name

DATA, MODEL = "data", "model"

# (state_dict glob, spec). First match wins. FSDP shards each matrix's other dim over `data`.
PARAM_RULES: tuple[tuple[str, P], ...] = (
    ("*.attn.c_attn.weight", P(MODEL, DATA)),  # column parallel: q, k, v outputs over heads
    ("*.attn.c_attn.bias", P(MODEL)),
    ("*.attn.c_[qkv].weight", P(MODEL, DATA)),
    ("*.mlp.c_fc.weight", P(MODEL, DATA)),  # column parallel: hidden units
    ("*.mlp.c_fc.bias", P(MODEL)),
    ("*.attn.c_proj.weight", P(DATA, MODEL)),  # row parallel: reduces over heads
    ("*.mlp.c_proj.weight", P(DATA, MODEL)),  # row parallel: reduces over hidden units
    ("*.wte.weight", P(DATA, None)),  # vocabulary rows
    ("lm_head.weight", P(DATA, None)),
    ("*.wpe.weight", P(DATA, None)),
    ("*", P()),  # vectors: replicated
)

# Activations: tokens and per-token values shard their batch dimension over `data`.
ACTIVATION_RULES = {
    "tokens": P(DATA, None),  # (batch, seq)
    "micro_tokens": P(None, DATA, None),  # (micro-steps, batch, seq) for gradient accumulation
    "newton_schulz_stack": P(DATA, None, None),  # (stacked same-shape matrices, rows, cols)
}


def parse_mesh(spec: str | None, n_devices: int) -> tuple[int, int]:
    """`"data=4,model=2"` -> (4, 2); None -> (every device, 1)."""
    if not spec:
        return n_devices, 1
    sizes = {DATA: 1, MODEL: 1}
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(data|model)\s*=\s*(\d+)\s*", part)
        if not m:
            raise ValueError(f"bad --mesh {spec!r}: use e.g. data=4,model=2")
        sizes[m.group(1)] = int(m.group(2))
    if sizes[DATA] * sizes[MODEL] != n_devices:
        raise ValueError(f"--mesh {spec} has {sizes[DATA] * sizes[MODEL]} devices, this host has {n_devices} "
                         "(simulate more on a CPU with XLA_FLAGS=--xla_force_host_platform_device_count=8)")
    return sizes[DATA], sizes[MODEL]


def make_mesh(spec: str | None = None) -> Mesh:
    data, model = parse_mesh(spec, jax.device_count())
    return jax.make_mesh((data, model), (DATA, MODEL), axis_types=(AxisType.Auto, AxisType.Auto))


def _fit(spec: P, shape: tuple[int, ...], mesh: Mesh) -> P:
    """Drop the axes of `spec` that do not divide their dimension (or exceed the rank)."""
    out = []
    for dim, axis in enumerate(tuple(spec) + (None,) * (len(shape) - len(spec))):
        if dim >= len(shape):
            break
        out.append(axis if axis is not None and shape[dim] % mesh.shape[axis] == 0 else None)
    return P(*out)


def param_spec(name: str, shape: tuple[int, ...], mesh: Mesh) -> P:
    for pattern, spec in PARAM_RULES:
        if fnmatch.fnmatchcase(name, pattern):
            return _fit(spec, shape, mesh)
    return P()


def param_shardings(model: eqx.Module, mesh: Mesh):
    """A pytree like `eqx.filter(model, eqx.is_array)` of NamedShardings."""
    params = eqx.filter(model, eqx.is_array)
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: NamedSharding(mesh, param_spec(path_name(path), tuple(leaf.shape), mesh)), params)


def activation(kind: str, mesh: Mesh, shape: tuple[int, ...]) -> NamedSharding:
    return NamedSharding(mesh, _fit(ACTIVATION_RULES[kind], shape, mesh))


def stack_sharding(mesh: Mesh):
    """For Newton-Schulz stacks: each data-axis device orthogonalises its share of the stack."""
    return lambda shape: activation("newton_schulz_stack", mesh, shape)


def initialize_distributed() -> bool:
    """Multi-host: `jax.distributed.initialize()` when launched as one of several processes
    (SLURM sets SLURM_NTASKS; otherwise JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES)."""
    many = int(os.environ.get("SLURM_NTASKS", "1")) > 1 or int(os.environ.get("JAX_NUM_PROCESSES", "1")) > 1
    if many:
        jax.distributed.initialize()
    return many


def host_to_global(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from the full host copy (every process holds the same batch)."""
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def like_params(tree_shape, params, shardings, mesh: Mesh):
    """Shardings for a pytree (optimizer state) whose leaves mirror parameters: a leaf whose key
    path ends with a parameter's path and has its shape is sharded like that parameter (Adam's
    moments, Muon's momentum); everything else (step counts) is replicated."""
    by_path = {}
    for (path, p), s in zip(jax.tree_util.tree_flatten_with_path(params)[0], jax.tree.leaves(shardings)):
        by_path[jax.tree_util.keystr(path)] = (tuple(p.shape), s)
    replicated = NamedSharding(mesh, P())

    def pick(path, leaf):
        key = jax.tree_util.keystr(path)
        for suffix, (shape, sharding) in by_path.items():
            if key.endswith(suffix) and tuple(leaf.shape) == shape:
                return sharding
        return replicated

    return jax.tree_util.tree_map_with_path(pick, tree_shape)
