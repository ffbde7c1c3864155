"""Checkpoints with orbax: parameters, optimizer state and the run's position (step, batches
the data stream has handed out, seed). Saves are atomic (orbax writes a temporary directory and
renames it when complete), so a run killed at any moment resumes from its last complete save.
"""

from __future__ import annotations

from pathlib import Path

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    def __init__(self, directory: Path, keep: int = 2):
        self.directory = Path(directory).resolve()
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

    def save(self, step: int, params, opt_state, meta: dict) -> None:
        self.manager.save(step, args=ocp.args.Composite(
            params=ocp.args.StandardSave(jax.tree.leaves(params)),
            opt_state=ocp.args.StandardSave(jax.tree.leaves(opt_state)),
            meta=ocp.args.JsonSave(meta)))
        self.manager.wait_until_finished()

    def latest(self) -> int | None:
        return self.manager.latest_step()

    def restore(self, step: int, params_like, opt_state_like=None):
        """Restore into the structure (and shardings) of `params_like` / `opt_state_like`
        (`opt_state_like=None`: parameters and metadata only, e.g. for export)."""

        def abstract(tree):
            return [jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None))
                    for x in jax.tree.leaves(tree)]

        items = {"params": ocp.args.StandardRestore(abstract(params_like)), "meta": ocp.args.JsonRestore()}
        if opt_state_like is not None:
            items["opt_state"] = ocp.args.StandardRestore(abstract(opt_state_like))
        restored = self.manager.restore(step, args=ocp.args.Composite(**items))
        params = jax.tree.unflatten(jax.tree.structure(params_like), restored["params"])
        opt_state = None
        if opt_state_like is not None:
            opt_state = jax.tree.unflatten(jax.tree.structure(opt_state_like), restored["opt_state"])
        return params, opt_state, dict(restored["meta"])

    def close(self) -> None:
        self.manager.close()
