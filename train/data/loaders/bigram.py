"""The bigram hash of records #62-HEAD, per rank chunk: `jnano.nn.bigram` on numpy arrays."""

from __future__ import annotations

import numpy as np

from jnano.nn.bigram import HASH_A, HASH_B
from jnano.nn.bigram import bigram_hash as _hash


def bigram_hash(x: np.ndarray, modulus: int, first_previous: str = "reserved") -> np.ndarray:
    """`jnano.nn.bigram.bigram_hash` of a numpy row (any integer dtype), as an int32 array."""
    return _hash(np.asarray(x, dtype=np.int32), modulus, first_previous)


__all__ = ["HASH_A", "HASH_B", "bigram_hash"]
