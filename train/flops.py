"""Model FLOPs per token, for MFU: the matmul FLOPs of forward + backward.

6 x (parameters used in matmuls) + 12 x n_layer x seq_len x d_model (attention scores and the
weighted sum, forward and backward, counted over the full T x T square as in the PaLM paper's
MFU). Embedding tables used only as lookups (learned positions) do not count; a table tied to
the head does, once, as the head.
"""

from __future__ import annotations

import fnmatch

import equinox as eqx
import numpy as np

from jnano.state_dict import named_parameters

LOOKUP_ONLY = ("*.wpe.weight",)

# Dense bf16 peak per device kind, FLOP/s (vendor figures, no sparsity).
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "GH200": 989e12}


def flops_per_token(model: eqx.Module, seq_len: int) -> float:
    params = named_parameters(model)
    # an embedding with its own head (#8 on) is a lookup; a tied one is counted once, as the head
    lookups = LOOKUP_ONLY + (("*.wte.weight",) if "lm_head.weight" in params else ())
    matmul = sum(int(np.prod(p.shape)) for name, p in params.items()
                 if p.ndim >= 2 and not any(fnmatch.fnmatchcase(name, g) for g in lookups))
    c = model.config
    return 6.0 * matmul + 12.0 * c.n_layer * seq_len * c.n_embd


def peak_flops(device) -> float | None:
    kind = getattr(device, "device_kind", "")
    for name, flops in PEAK_FLOPS.items():
        if name in kind:
            return flops
    return None
