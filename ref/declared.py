"""The hyperparameters upstream declares for a record, read from upstream itself.

Record #4 on: the file's own `Hyperparameters()`. Records #2-#3: `run.sh` at the record's
commit (needs a git checkout). Record #1: llm.c's `scripts/run_gpt2_124M.sh` flags, mapped to
train_gpt2.py's argument names. Parity compares them with our record table.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from typing import Any

# llm.c's C trainer flags (train_gpt2.cu) -> train_gpt2.py argument names
_LLMC_FLAGS = {"-l": "learning_rate", "-u": "warmup_iters", "-q": "learning_rate_decay_frac",
               "-c": "weight_decay", "-b": "batch_size", "-t": "sequence_length",
               "-d": "total_batch_size", "-v": "val_loss_every"}


def _number(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _git_show(checkout, commit: str, path: str) -> str | None:
    out = subprocess.run(["git", "-C", str(checkout), "show", f"{commit}:{path}"],
                         capture_output=True, text=True, check=False)
    return out.stdout if out.returncode == 0 else None


def parse_flags(script: str, mapping: dict[str, str] | None = None) -> dict[str, Any]:
    """`--name value` (or mapped short `-x value`) pairs of a launch script."""
    tokens = shlex.split(script.replace("\\\n", " "), comments=True)
    found = {}
    for flag, value in zip(tokens, tokens[1:]):
        if mapping is not None:
            if flag in mapping:
                found[mapping[flag]] = _number(value)
        elif re.fullmatch(r"--[A-Za-z_][\w-]*", flag) and not value.startswith("--"):
            found[flag[2:]] = _number(value)
    return found


def declared(reference) -> tuple[dict[str, Any], str] | None:
    """(values, where they came from), or None when the source at hand declares none."""
    module, entry, source = reference.module, reference.entry, reference.source
    if hasattr(module, "Hyperparameters"):
        # #18 on declare plain class attributes (no annotations: no dataclass fields); the
        # driver reads either form
        return reference.driver.declared_args(), "the file's Hyperparameters()"
    if source.checkout is None:
        return None
    if entry.family == "llmc":
        script = _git_show(source.checkout, entry.commit, "scripts/run_gpt2_124M.sh")
        return (parse_flags(script, _LLMC_FLAGS), "llm.c scripts/run_gpt2_124M.sh") if script else None
    script = _git_show(source.checkout, entry.commit, "run.sh")
    return (parse_flags(script), f"run.sh @ {entry.commit[:8]}") if script else None
