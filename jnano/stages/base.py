"""What every stage's model provides: logits for token ids, the mean training loss, buffers."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import equinox as eqx
import numpy as np
from jaxtyping import Array, Float, Int

from jnano.nn.losses import cross_entropy


class LanguageModel(eqx.Module):
    """Base of the stage models. Subclasses define `__call__(idx, **schedule) -> logits` (fp32).

    `schedule` carries per-step values a record's forward depends on (e.g. `window`, the
    attention window of #13 on), traced so that every step runs the same compiled program.
    `tied_aliases` maps extra state_dict keys onto the parameter they share (llm.c's
    `lm_head.weight` is `transformer.wte.weight`); `buffers()` returns upstream's persistent
    buffers so an exported state_dict loads into upstream's class with `strict=True`.
    """

    tied_aliases: ClassVar[dict[str, str]] = {}
    # "mean" over tokens, or "sum" (#21c on: a row's tokens summed, the mean over rows)
    train_loss_reduction: ClassVar[str] = "mean"
    # "float32", or "logits" (#37 on: the training loss computed, and rounded, in the logits' dtype)
    train_loss_dtype: ClassVar[str] = "float32"
    # the fewest heads the model can be built with (#58 pairs them: 2)
    min_heads: ClassVar[int] = 1
    # what the training loss is multiplied by before its gradient (#65: main's `grad_scale`,
    # 2 on 8 GPUs); the logged training loss is divided by it again
    train_loss_scale: ClassVar[float] = 1.0

    def __call__(self, idx: Int[Array, "batch seq"], **schedule) -> Float[Array, "batch seq vocab"]:
        raise NotImplementedError

    def loss(self, idx: Int[Array, "batch seq"], targets: Int[Array, "batch seq"], **schedule) -> Float[Array, ""]:
        """Mean cross-entropy over the tokens (`ignore_index=-1`), as the record trains it."""
        return cross_entropy(self(idx, **schedule), targets)

    def eval_loss(self, idx: Int[Array, "batch seq"], targets: Int[Array, "batch seq"], **schedule) -> Float[Array, ""]:
        """Mean cross-entropy as the record validates (the training loss unless a record differs)."""
        return self.loss(idx, targets, **schedule)

    def buffers(self) -> dict[str, np.ndarray]:
        return {}


def count_layers(shapes: dict[str, tuple[int, ...]], prefix: str = "transformer.h.") -> int:
    """Number of blocks in a state_dict: one more than the largest index under `prefix`."""
    indices = [int(k[len(prefix):].split(".")[0]) for k in shapes if k.startswith(prefix)]
    if not indices:
        raise KeyError(f"{prefix}*")
    return 1 + max(indices)


NARROW_HEAD_DIM = 16  # the head size of a small model whose width must be split into more heads


def fit_heads(model: dict, cls: type[LanguageModel]) -> dict:
    """Small-shape overrides `model` with at least `cls.min_heads` heads (#58 pairs them; #85's
    gates are laid out for six): where the width no longer splits evenly, it becomes heads x 16."""
    heads = max(model.get("n_head", 1), cls.min_heads)
    out = dict(model, n_head=heads)
    if "n_embd" in out and out["n_embd"] % heads:
        out["n_embd"] = heads * NARROW_HEAD_DIM
    return out


def recast(model: LanguageModel, cls: type[LanguageModel], **changed) -> LanguageModel:
    """`model`'s parameters and config under `cls`, a subclass: the stage's init is its
    predecessor's, with the fields it adds or redraws in `changed` (#54 changes only behaviour;
    #55 adds a gate and regates blocks)."""
    return cls(**{f.name: getattr(model, f.name) for f in dataclasses.fields(model) if f.init} | changed)
