"""What every stage's model provides: logits for token ids, the mean training loss, buffers."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import numpy as np
from jaxtyping import Array, Float, Int

from jnano.nn.losses import cross_entropy


class LanguageModel(eqx.Module):
    """Base of the stage models. Subclasses define `__call__(idx) -> logits` (fp32).

    `tied_aliases` maps extra state_dict keys onto the parameter they share (llm.c's
    `lm_head.weight` is `transformer.wte.weight`); `buffers()` returns upstream's persistent
    buffers so an exported state_dict loads into upstream's class with `strict=True`.
    """

    tied_aliases: ClassVar[dict[str, str]] = {}

    def __call__(self, idx: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        raise NotImplementedError

    def loss(self, idx: Int[Array, "batch seq"], targets: Int[Array, "batch seq"]) -> Float[Array, ""]:
        """Mean cross-entropy over the tokens (`ignore_index=-1`), as the record trains it."""
        return cross_entropy(self(idx), targets)

    def buffers(self) -> dict[str, np.ndarray]:
        return {}


def count_layers(shapes: dict[str, tuple[int, ...]], prefix: str = "transformer.h.") -> int:
    """Number of blocks in a state_dict: one more than the largest index under `prefix`."""
    indices = [int(k[len(prefix):].split(".")[0]) for k in shapes if k.startswith(prefix)]
    if not indices:
        raise KeyError(f"{prefix}*")
    return 1 + max(indices)
