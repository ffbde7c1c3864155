"""What a run writes: upstream-style log lines, metrics JSONL, config, and a loss plot."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


class RunLog:
    def __init__(self, run_dir: Path, quiet: bool = False):
        self.dir = run_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.dir / "log.txt", "a", buffering=1)
        self.metrics = open(self.dir / "metrics.jsonl", "a", buffering=1)
        self.quiet = quiet
        self.write_line = print

    def line(self, text: str) -> None:
        self.log.write(text + "\n")
        if not self.quiet:
            self.write_line(text)

    def event(self, **fields) -> None:
        fields.setdefault("time", time.time())
        self.metrics.write(json.dumps(fields, default=str) + "\n")

    def write_json(self, name: str, obj) -> None:
        (self.dir / name).write_text(json.dumps(obj, indent=1, default=str) + "\n")

    def close(self) -> None:
        self.log.close()
        self.metrics.close()


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def plot(run_dir: Path) -> Path | None:
    """loss.png: train and val loss against training time and against step."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no loss plot", file=sys.stderr)
        return None
    events = read_metrics(run_dir)
    train = [e for e in events if e.get("kind") == "train"]
    val = [e for e in events if e.get("kind") == "val"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, x in zip(axes, ("train_time_ms", "step")):
        scale = 1e-3 if x == "train_time_ms" else 1
        if train:
            ax.plot([e[x] * scale for e in train], [e["loss"] for e in train], lw=0.8, label="train")
        if val:
            ax.plot([e[x] * scale for e in val], [e["loss"] for e in val], "o-", label="val")
        ax.set_xlabel("training time (s)" if x == "train_time_ms" else "step")
        ax.set_ylabel("cross-entropy")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out = run_dir / "loss.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
