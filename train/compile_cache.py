"""XLA's persistent compilation cache: a second run of the same record and shape loads its
compiled train step from disk instead of compiling it again (issue 8: compile time that a
researcher does not notice).

The cache lives in `$JNANO_COMPILE_CACHE`, else `~/.cache/jnano/xla`; `--compile-cache none`
(or the variable set to `none`) turns it off. Entries are keyed by the computation's HLO, the
JAX/XLA versions and the device, so a changed model or upgrade simply misses.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

DEFAULT = Path.home() / ".cache" / "jnano" / "xla"


def default_dir() -> Path | None:
    value = os.environ.get("JNANO_COMPILE_CACHE")
    if value is None:
        return DEFAULT
    return None if value.lower() in ("", "none", "off") else Path(value)


def enable(directory: os.PathLike | str | None) -> Path | None:
    """Cache every compiled computation (no minimum compile time or size) under `directory`;
    None leaves caching off. Returns the directory in use."""
    if directory is None or str(directory).lower() in ("none", "off"):
        return None
    path = Path(directory).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
