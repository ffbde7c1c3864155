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
    "s3_modern": "padded vocab, 6x128 heads, QK-norm, ReLU^2, zero-init projections (5-7)",
    "s4_untied": "untied zero-init head, N(0,1) normed embedding (8)",
    "s5_shortcuts": "value residual, x0 lambdas, tanh softcap 30 (9-10)",
    "s6_unet": "U-net skip connections (11)",
}


def get_stage(name: str) -> ModuleType:
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}")
    return importlib.import_module(f"jnano.stages.{name}")
