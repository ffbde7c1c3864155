"""The bigram hash of records #62-HEAD: an id per (previous token, token) pair, per rank chunk."""

from __future__ import annotations

import numpy as np

HASH_A, HASH_B = 36313, 27191


def bigram_hash(x: np.ndarray, modulus: int, first_previous: str = "reserved") -> np.ndarray:
    """`h[0] = M; h[t] = ((36313 * x[t]) XOR (27191 * x[t-1])) mod M` in int32, M = modulus.

    Products wrap around in int32 and `mod` is floor-mod (torch.remainder), so results lie in
    [0, M). Position 1's previous token is the reserved id M in the CPU versions (#62-#67,
    #69-#72, #74-HEAD: they assign `x[0] = M` before reading `x[:-1]`), but the true `x[0]` in
    the GPU versions (#68, #73): `first_previous="reserved"` or `"token"`. The previous token
    crosses document boundaries (a BOS hashes with the last token of the document before it).
    """
    if first_previous not in ("reserved", "token"):
        raise ValueError(f"first_previous must be 'reserved' or 'token', got {first_previous!r}")
    x = np.asarray(x, dtype=np.int32)
    m = np.int32(modulus)
    prev = x[:-1].copy()
    if first_previous == "reserved" and len(prev):
        prev[0] = m
    with np.errstate(over="ignore"):
        mixed = np.bitwise_xor(np.int32(HASH_A) * x[1:], np.int32(HASH_B) * prev)
    out = np.empty_like(x)
    out[:1] = m
    out[1:] = np.mod(mixed, m)
    return out
