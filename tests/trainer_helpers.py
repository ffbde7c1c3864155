"""A tiny preset and synthetic data for trainer tests (small vocab, seconds per run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from train import presets
from train.data.shards import write_shard

TINY = presets.Preset("tiny", "tests: 2 layers x 64, vocab 512", dict(n_layer=2, n_embd=64, n_head=4, vocab_size=512),
                      seq_len=64, device_batch=2, steps=6, val_every=3, val_steps=2)


# packed-sequence records (#12 on): their 12 layers, one 64-wide head, one 128-token row per rank
TINY_PACKED = presets.Preset("tiny_packed", "tests: packed records, 12 layers x 64, vocab 512", {},
                             steps=4, val_every=2, val_steps=1,
                             packed_model=dict(n_embd=64, n_head=1, vocab_size=512), packed_seq_len=128)


def register() -> None:
    presets.PRESETS["tiny"] = TINY
    presets.PRESETS["tiny_packed"] = TINY_PACKED


def tiny_data(directory: Path) -> Path:
    """Train and val shards of tokens < 512 with some structure to learn (a repeating ramp)."""
    rng = np.random.default_rng(0)
    base = np.arange(60_000) % 97 * 5 % 512
    noise = rng.integers(0, 512, 60_000)
    tokens = np.where(rng.random(60_000) < 0.2, noise, base)
    directory.mkdir(parents=True, exist_ok=True)
    write_shard(directory / "t_val_000000.bin", tokens[:20_000])
    write_shard(directory / "t_train_000001.bin", tokens[20_000:40_000])
    write_shard(directory / "t_train_000002.bin", tokens[40_000:])
    return directory


SCRIPT = """
import sys, json
sys.path.insert(0, {tests!r})
import trainer_helpers
trainer_helpers.register()
from train.loop import RunArgs, train
kw = json.loads({kw!r})
for k in ("data", "out"):
    if kw.get(k): kw[k] = __import__("pathlib").Path(kw[k])
r = train(RunArgs(**kw))
print("FINAL", json.dumps(r.train_losses))
"""


def script(tests_dir: Path, **kw) -> str:
    import json

    return SCRIPT.format(tests=str(tests_dir), kw=json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in kw.items()}))
