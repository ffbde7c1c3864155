"""Where every record's code lives upstream: repository, commit, path, and the sha256 of the
source as extracted (the whole `.py`, or the code at the top of a `.txt` log).

`python -m ref.manifest` prints it. Goldens and live parity check the source against `sha256`.
"""

from __future__ import annotations

from dataclasses import dataclass

MODDED = "KellerJordan/modded-nanogpt"
LLMC = "karpathy/llm.c"
MODDED_HEAD = "f411b3d346aa52d3504324ca93c230fd84c6c07f"
LLMC_HEAD = "f1e2ace651495b74ae22d45d1723443fd00ecd3a"


@dataclass(frozen=True)
class Entry:
    record: str
    repo: str
    commit: str
    path: str
    sha256: str
    family: str  # which driver in ref.drivers runs this code version

    @property
    def local_name(self) -> str:
        """The file name `python -m ref.fetch` saves this record under."""
        return f"record_{self.record}{'.txt' if self.path.endswith('.txt') else '.py'}"


_ENTRIES = (
    Entry("1", LLMC, LLMC_HEAD, "train_gpt2.py",
          "757d0cea0d48cbc4c7d7d70371f955d49cdf3a7cfb4c87701a720c2fe0905c34", "llmc"),
    Entry("2", MODDED, "b6b0a0d36e6f1758a8d14d5fcd5f15ca5d19b891", "train_gpt2.py",
          "999773939d831eabafd898fe81c16c0eda577b703942237ff166847f2e027070", "train_gpt2_adamw"),
    Entry("3", MODDED, "cd06e2009cd2f88ef63b2113aa075beac09e9913", "train_gpt2.py",
          "02b9a5723e63af85ccb41fae9925fd2e43b823837ff882e058607bf1a8a3b569", "train_gpt2_orthogonal_nesterov"),
    Entry("4", MODDED, MODDED_HEAD,
          "records/track_1_short/2024-10-10_Muon/eb5659d0-fb6a-49e5-a311-f1f89412f726.txt",
          "ef625338082b783a1d8fdb716bd5c2d1d21167781c5d497a2bc6aa94e2aa53df", "record_muon"),
)

_BY_RECORD = {e.record: e for e in _ENTRIES}


def entries() -> tuple[Entry, ...]:
    return _ENTRIES


def entry_for(record: str | int) -> Entry:
    key = str(record).strip().lstrip("#")
    if key not in _BY_RECORD:
        raise KeyError(f"no upstream entry for record {record!r}; known: {', '.join(_BY_RECORD)}")
    return _BY_RECORD[key]


def main() -> int:
    for e in _ENTRIES:
        print(f"#{e.record:<4} {e.repo}@{e.commit[:8]}:{e.path}\n      sha256 {e.sha256}  driver {e.family}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
