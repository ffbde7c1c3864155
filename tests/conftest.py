"""Shared test fixtures: small shapes, and the genuine upstream checkouts when the environment
names them (JNANO_UPSTREAM: modded-nanogpt with its git history; JNANO_LLMC: llm.c)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from parity.allocator import keep_freed_memory
from train import compile_cache

keep_freed_memory()

# One XLA compilation cache per test session: records that compile the same computation (#21c,
# #22 and #23; #24-#26) load it instead of compiling it again. JNANO_TEST_COMPILE_CACHE keeps one
# across sessions (a developer's loop); by default CI starts empty.
_CACHE = os.environ.get("JNANO_TEST_COMPILE_CACHE") or tempfile.mkdtemp(prefix="jnano-xla-")
compile_cache.enable(_CACHE)


def pytest_sessionfinish(session, exitstatus):
    if "JNANO_TEST_COMPILE_CACHE" not in os.environ:
        shutil.rmtree(_CACHE, ignore_errors=True)

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
