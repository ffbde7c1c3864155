"""S2 — the first Muon (record #3, 2024-10-04, 24.9 min; record #4, 2024-10-11, 22.3 min).

The model is S1's unchanged; the change is the optimizer (`jnano/optim`): record #3 trains the
hidden matrices with OrthogonalNesterov (Newton-Schulz of the whole update, no scaling), record
#4 with Muon (QKV split into three square blocks, sqrt(max(rows, cols)) scale), and AdamW only on
the tied embedding/head. #3/#4 also cast logits to fp32, which is the identity at fp32.
"""

from jnano.stages.s1_rotary import GPT, Config, config_from_shapes, init

RECORDS = ("3", "4")

__all__ = ["GPT", "Config", "RECORDS", "config_from_shapes", "init"]
