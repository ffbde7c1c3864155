"""Architecture stages by name. Each stage module defines `Config`, `init(config, key)`,
`config_from_shapes(shapes, base)` and `RECORDS`; its model class subclasses
`jnano.stages.base.LanguageModel`."""

from __future__ import annotations

import importlib
from types import ModuleType

STAGES: dict[str, str] = {
    "s0_llmc": "llm.c GPT-2 baseline (record 1)",
    "s1_rotary": "RoPE, RMSNorm, no biases, tuned AdamW (record 2)",
    "s2_muon": "first Muon: OrthogonalNesterov (3), Muon with QKV split (4)",
}


def get_stage(name: str) -> ModuleType:
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}")
    return importlib.import_module(f"jnano.stages.{name}")
