"""The bigram hash of records #62-HEAD (2026-01-19 BigramHashEmbedding on): an id per
(previous token, token) pair, for the bigram embedding table."""

from __future__ import annotations

from jaxtyping import Array, Int

HASH_A, HASH_B = 36313, 27191


def bigram_hash(x: Int[Array, " seq"], modulus: int, first_previous: str = "reserved") -> Int[Array, " seq"]:
    """`h[0] = M; h[t] = ((36313 * x[t]) XOR (27191 * x[t-1])) mod M` in int32, M = modulus, of
    one rank's packed row.

    Products wrap around in int32 and `mod` is floor-mod (torch.remainder), so results lie in
    [0, M). Position 1's previous token is the reserved id M in the CPU versions (#62-#67,
    #69-#72, #74-HEAD: they assign `x[0] = M` before reading `x[:-1]`), but the true `x[0]` in
    the GPU versions (#68, #73): `first_previous="reserved"` or `"token"`. The previous token
    crosses document boundaries (a BOS hashes with the last token of the document before it).
    One implementation for numpy (the loaders) and JAX (the models): the array's own namespace.
    """
    if first_previous not in ("reserved", "token"):
        raise ValueError(f"first_previous must be 'reserved' or 'token', got {first_previous!r}")
    xp = x.__array_namespace__()
    x = xp.astype(x, xp.int32)
    reserved = xp.full((1,), modulus, dtype=xp.int32)
    prev = x[:-1]
    if first_previous == "reserved" and x.shape[0] > 1:
        prev = xp.concat([reserved, prev[1:]])
    mixed = xp.bitwise_xor(xp.asarray(HASH_A, dtype=xp.int32) * x[1:], xp.asarray(HASH_B, dtype=xp.int32) * prev)
    return xp.concat([reserved, xp.remainder(mixed, xp.asarray(modulus, dtype=xp.int32))])


def bigram_sign_index(x: Int[Array, " seq"], rows: int) -> Int[Array, " seq"]:
    """#83's sign-table row per position: `s[0] = 0; s[t] = (x[t-1] XOR x[t]) mod rows` of one
    rank's packed row (the true previous token, across document boundaries)."""
    xp = x.__array_namespace__()
    x = xp.astype(x, xp.int32)
    mixed = xp.remainder(xp.bitwise_xor(x[:-1], x[1:]), xp.asarray(rows, dtype=xp.int32))
    return xp.concat([xp.zeros((1,), dtype=xp.int32), mixed])


__all__ = ["HASH_A", "HASH_B", "bigram_hash", "bigram_sign_index"]
