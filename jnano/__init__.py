"""jNanoGPT: the modded-nanogpt speedrun's stages as Equinox modules.

    import jnano
    model = jnano.build_model(4, seed=0)                 # record #4 as upstream initialises it
    model = jnano.from_state_dict(4, torch_state_dict)   # or holding upstream weights
    logits = jnano.logits(model, idx)                    # (batch, seq, vocab) fp32
    loss = jnano.loss(model, idx, targets)
    loss, grads = jnano.loss_and_grads(model, idx, targets)   # grads keyed by state_dict name
    sd = jnano.to_state_dict(model)                      # loads into upstream's GPT class

Attributes load lazily so that `jnano.records` / `jnano.hparams` import without JAX.
"""

from __future__ import annotations

import importlib

_API = {
    "build_model", "config", "from_state_dict", "to_state_dict", "logits", "loss", "loss_and_grads",
    "optimizer", "param_count",
}

__all__ = sorted(_API | {"records", "hparams", "StateDictError"})


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module("jnano.api"), name)
    if name == "StateDictError":
        return importlib.import_module("jnano.state_dict").StateDictError
    if name in ("records", "hparams", "nn", "optim", "stages"):
        return importlib.import_module(f"jnano.{name}")
    raise AttributeError(f"module 'jnano' has no attribute {name!r}")
