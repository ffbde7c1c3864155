"""Find one record's upstream source text: in a git checkout (any commit in its history), a work
tree, or a single `.py` / `.txt` log file the user names. Nothing here executes upstream code."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ref.manifest import Entry, entries, entry_for

SEPARATOR = "=" * 100


class SourceError(ValueError):
    """The path given does not hold the record's upstream code; the message says what to do."""


@dataclass(frozen=True)
class Source:
    record: str
    text: str  # the code as upstream ran it
    origin: str  # where it was read from, for messages and tracebacks
    verified: bool  # sha256 equals the manifest's
    checkout: Path | None = None  # the git checkout it came from, if any

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)

    @property
    def main(self) -> str:
        """The training script itself (without appended kernel modules)."""
        return split_modules(self.text)["main"]


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def code_from_log(text: str) -> str:
    """A record `.txt` log starts with the training script, ended by a line of 100 '='.

    Some logs also open with that line; the code then starts on line 2 (history.md, "How I read
    the code").
    """
    lines = text.splitlines(keepends=True)
    start = 1 if lines and lines[0].rstrip("\r\n") == SEPARATOR else 0
    for end in range(start, len(lines)):
        if lines[end].rstrip("\r\n") == SEPARATOR:
            return "".join(lines[start:end])
    return "".join(lines[start:])


MODULE_SEPARATOR = "-" * 40


def split_modules(code: str) -> dict[str, str]:
    """From #61 on a log's code block is the training script followed by `triton_kernels.py`
    (and from #85 `dc_triton_kernels.py`), each after a line of 40 '-', a `# <name>.py` line and
    another line of 40 '-'. Returns {"main": script, "<name>.py": module, ...}."""
    lines = code.splitlines(keepends=True)
    modules, name, start, i = {}, "main", 0, 0
    while i < len(lines):
        if (lines[i].rstrip("\r\n") == MODULE_SEPARATOR and i + 2 < len(lines)
                and lines[i + 1].startswith("# ") and lines[i + 1].rstrip().endswith(".py")
                and lines[i + 2].rstrip("\r\n") == MODULE_SEPARATOR):
            modules[name] = "".join(lines[start:i])
            name, start, i = lines[i + 1][2:].strip(), i + 3, i + 3
            continue
        i += 1
    modules[name] = "".join(lines[start:])
    return modules


def with_sibling_modules(script: str, read: Callable[[str], str | None]) -> str:
    """A root `train_gpt.py` (#86, HEAD) imports its kernels from files beside it
    (`from triton_kernels import ...`); a record log carries them appended. `script` followed by
    each module it imports that `read("<name>.py")` finds, in the log's layout (`split_modules`)."""
    parts = [script]
    for name in dict.fromkeys(re.findall(r"^(?:from|import) (\w+)", script, re.M)):
        text = read(f"{name}.py")
        if text is not None:
            parts.append(f"\n\n{MODULE_SEPARATOR}\n# {name}.py\n{MODULE_SEPARATOR}\n\n{text}")
    return "".join(parts)


def _beside(path: Path) -> Callable[[str], str | None]:
    def read(name: str) -> str | None:
        sibling = path.parent / name
        return sibling.read_text(encoding="utf-8") if sibling.is_file() else None
    return read


def _git(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(checkout), *args], capture_output=True, text=True, check=False
    )


def _is_git(path: Path) -> bool:
    return _git(path, "rev-parse", "--git-dir").returncode == 0


def _extract(entry: Entry, raw: str) -> str:
    return code_from_log(raw) if entry.path.endswith(".txt") else raw


def _looks_like_record(text: str) -> bool:
    return "class GPT" in text


def read_file(record: str, path: Path) -> Source:
    """One file the user names: a record `.py`, or a `.txt` log with the code at the top."""
    entry = entry_for(record)
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{path} is not a text file, so not a record's code") from None
    text = code_from_log(raw) if path.suffix in (".txt", ".log") else raw
    if not _looks_like_record(text):
        raise SourceError(
            f"{path} is not a modded-nanogpt/llm.c record file: it defines no `class GPT`. "
            f"Record {record}'s code is {entry.repo} {entry.path} at {entry.commit[:8]}."
        )
    digest = sha256_text(text)
    if digest != entry.sha256:
        other = [e.record for e in entries() if e.sha256 == digest]
        if other:
            raise SourceError(
                f"{path} is record {other[0]}'s code, not record {record}'s "
                f"({entry.repo} {entry.path} at {entry.commit[:8]})."
            )
    if path.suffix == ".py":
        text = with_sibling_modules(text, _beside(path))
    return Source(record, text, str(path), digest == entry.sha256)


def read_checkout(record: str, checkout: Path) -> Source:
    """The record's file from a checkout: `git show COMMIT:PATH`, else the work tree's copy."""
    entry = entry_for(record)
    if _is_git(checkout):
        shown = _git(checkout, "show", f"{entry.commit}:{entry.path}")
        if shown.returncode == 0:
            text = _extract(entry, shown.stdout)
            verified = sha256_text(text) == entry.sha256
            if entry.path.endswith(".py"):
                folder = os.path.dirname(entry.path)

                def read(name: str) -> str | None:
                    sibling = _git(checkout, "show", f"{entry.commit}:{os.path.join(folder, name)}")
                    return sibling.stdout if sibling.returncode == 0 else None

                text = with_sibling_modules(text, read)
            return Source(record, text, f"{checkout} @ {entry.commit[:8]}:{entry.path}", verified, checkout)
    candidate = checkout / entry.path
    if not candidate.is_file():  # a `python -m ref.fetch` directory
        candidate = checkout / entry.local_name
    if not candidate.is_file():  # an older or newer layout: the log's file name is unique
        name = os.path.basename(entry.path)
        found = sorted(checkout.glob(f"records/**/{name}")) if entry.path.endswith(".txt") else []
        candidate = found[0] if found else candidate
    if candidate.is_file():
        source = read_file(record, candidate)
        if source.verified:
            return Source(record, source.text, source.origin, True, checkout)
    what = "a git checkout" if _is_git(checkout) else "not a git checkout"
    raise SourceError(
        f"record {record}'s code is {entry.path} at commit {entry.commit[:8]} of {entry.repo}; "
        f"{checkout} ({what}) does not have it. "
        + (
            "Its history may be shallow: run `git fetch --unshallow` there, or "
            if _is_git(checkout)
            else "Clone the repository with its history, or "
        )
        + f"pass the file itself: `git show {entry.commit[:8]}:{entry.path} > rec{record}.py` "
        f"then --upstream rec{record}.py (or `python -m ref.fetch --record {record}`)."
    )


def locate(record: str, path: str | os.PathLike) -> Source:
    """Record `record`'s upstream code from `path` (a checkout or a single file)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise SourceError(f"upstream path {path} does not exist")
    if path.is_dir():
        return read_checkout(record, path)
    return read_file(record, path)
