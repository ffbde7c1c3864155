"""Shared test fixtures: small shapes, and the genuine upstream checkouts when the environment
names them (JNANO_UPSTREAM: modded-nanogpt with its git history; JNANO_LLMC: llm.c)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SMALL = dict(vocab_size=128, n_layer=2, n_head=4, n_embd=64)


def _checkout(var: str, what: str) -> Path:
    value = os.environ.get(var)
    if not value or not Path(value).exists():
        pytest.skip(f"set {var} to {what} to run live parity")
    return Path(value)


@pytest.fixture(scope="session")
def modded_checkout() -> Path:
    return _checkout("JNANO_UPSTREAM", "a modded-nanogpt checkout (with history)")


@pytest.fixture(scope="session")
def llmc_checkout() -> Path:
    return _checkout("JNANO_LLMC", "an llm.c checkout")
