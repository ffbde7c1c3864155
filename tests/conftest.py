"""Shared test fixtures: small shapes, and the genuine upstream checkouts when the environment
names them (JNANO_UPSTREAM: modded-nanogpt with its git history; JNANO_LLMC: llm.c)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SMALL = dict(vocab_size=128, n_layer=2, n_head=4, n_embd=64)


def _checkout(var: str) -> Path | None:
    value = os.environ.get(var)
    return Path(value) if value and Path(value).exists() else None


@pytest.fixture(scope="session")
def modded_checkout() -> Path:
    path = _checkout("JNANO_UPSTREAM")
    if path is None:
        pytest.skip("set JNANO_UPSTREAM to a modded-nanogpt checkout (with history) to run live parity")
    return path


@pytest.fixture(scope="session")
def llmc_checkout() -> Path:
    path = _checkout("JNANO_LLMC")
    if path is None:
        pytest.skip("set JNANO_LLMC to an llm.c checkout to run live parity for record 1")
    return path


def upstream_for(record: str, modded: Path | None, llmc: Path | None) -> Path | None:
    return llmc if record == "1" else modded
