"""Download the pinned upstream record files (for a user with internet access).

    python -m ref.fetch                     # every record, into ./upstream/
    python -m ref.fetch --record 2 --dir ~/upstream

Each file comes from raw.githubusercontent.com at the manifest's commit and is kept only if the
code in it has the manifest's sha256. Then: `python -m parity --all --upstream ~/upstream`.
Records 2 and 3 exist only in modded-nanogpt's history: this is the easy way to get them.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ref.manifest import Entry, entries, entry_for
from ref.source import code_from_log, sha256_text

# Overridable so the download can be tested against a local server.
BASE_URL = os.environ.get("JNANO_FETCH_BASE_URL", "https://raw.githubusercontent.com")


class FetchError(RuntimeError):
    pass


def fetch(entry: Entry, directory: Path, timeout: float = 20.0) -> Path:
    url = f"{BASE_URL}/{entry.repo}/{entry.commit}/{entry.path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            raw = response.read().decode("utf-8")
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise FetchError(
            f"could not download record {entry.record} from {url}: {getattr(e, 'reason', e)}. "
            "Without internet access, clone the repositories elsewhere and pass the checkout "
            "(with its git history) to --upstream, or copy the single files over."
        ) from None
    code = code_from_log(raw) if entry.path.endswith(".txt") else raw
    if sha256_text(code) != entry.sha256:
        raise FetchError(f"record {entry.record}: {url} does not hold the pinned code (sha256 differs)")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / entry.local_name
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_text(raw, encoding="utf-8")
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ref.fetch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="append", help="record(s) to fetch (default: all)")
    parser.add_argument("--dir", default="upstream", help="directory to write into (default: ./upstream)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per download")
    args = parser.parse_args(argv)
    try:
        wanted = [entry_for(r) for r in args.record] if args.record else list(entries())
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    status = 0
    for entry in wanted:
        try:
            path = fetch(entry, Path(args.dir), args.timeout)
            print(f"record {entry.record}: {path}")
        except FetchError as e:
            print(f"error: {e}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
