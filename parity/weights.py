"""Fresh parity weights and batches, drawn from a seed (parity.rng), never stored.

Matrices (ndim >= 2) are N(0, 1/fan_in) with fan_in = the last dim in PyTorch's (out, in)
layout. Vectors and scalars are the record's init value plus U(-0.1, 0.1), so nothing that
upstream initialises to a constant (LayerNorm weight 1, biases 0, zero-init projections later)
stays degenerate: a forgotten bias or an ignored gain would otherwise go unseen.

#81's MUDD tensors break the layout rule, so `FAN_IN_AXIS` and `BIASES` name them: `dense_w2`
(layers, hidden, channels, columns) contracts its hidden axis (64), not its last (8), and
`dense_bs` is a bias whose init sets layer 10's lambdas (about 1 after the scale). Drawn as
layout-rule matrices they gave coefficients of several units, and gradients 8x more sensitive to
one rounding than #80's (`parity.sensitivity`), for no function the record ever computes. #85's
`mudd_b2` and `mudd_gate_b2` are such biases too (its `mudd_w2`, (layers, coefficients, hidden),
follows the rule). #83's `bigram_sign_table` is a buffer of signs and is drawn as signs. #85's
`_mudd_gate_scale` (0.1) multiplies every gate: the additive rule could draw it near 0 (seed 0:
0.0015), which silences layers 3 and 10 and every injection, so it is drawn relative to its
init, 0.1 (1 + U(-0.1, 0.1)).
"""


from __future__ import annotations

import jax
import numpy as np

import jnano
from jnano.state_dict import named_parameters
from parity.rng import integers, normal, uniform

FAN_IN_AXIS = {"dense_w2": 1}
BIASES = frozenset({"dense_bs", "mudd_b2", "mudd_gate_b2"})
GAINS = frozenset({"_mudd_gate_scale"})  # scales whose sign and size the record relies on
# persistent buffers held as leaves (`hparams.Fixed`): drawn as upstream draws them
SIGN_TABLES = frozenset({"bigram_sign_table"})


def parity_state_dict(record: str, seed: int, shape: dict) -> dict[str, np.ndarray]:
    """Every parameter of record `record`'s model at `shape`, drawn from `seed`, as a state_dict
    (with tied aliases and buffers, ready for `torch_model.load_state_dict(strict=True)`)."""
    def vectors():  # jitted: XLA drops the (large, unused) random matrices of the init
        model = jnano.build_model(record, seed=0, **shape)
        return {n: v for n, v in named_parameters(model).items() if v.ndim < 2 or n in BIASES}

    shapes = {n: tuple(v.shape) for n, v in
              jax.eval_shape(lambda: named_parameters(jnano.build_model(record, seed=0, **shape))).items()}
    init_values = jax.jit(vectors)()
    params = {}
    for name, shape_ in shapes.items():
        if name in SIGN_TABLES:  # #83: randn(...).sign()
            value = np.sign(normal(seed, f"weight/{name}", shape_))
        elif name in GAINS:
            value = np.asarray(init_values[name], np.float64) * (1 + uniform(seed, f"weight/{name}", shape_, -0.1, 0.1))
        elif len(shape_) >= 2 and name not in BIASES:
            value = normal(seed, f"weight/{name}", shape_) / np.sqrt(shape_[FAN_IN_AXIS.get(name, -1)])
        else:
            value = np.asarray(init_values[name], np.float64) + uniform(seed, f"weight/{name}", shape_, -0.1, 0.1)
        params[name] = value.astype(np.float32)
    model = jnano.from_state_dict(record, params, **shape)
    return jnano.to_state_dict(model)


BOS = 50256


def parity_batches(seed: int, vocab: int, batch: int, seq: int, steps: int,
                   documents: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """`steps` (inputs, targets) pairs: random token windows of seq+1, inputs[t+1] = targets[t].

    `documents` > 0 (the packed-sequence records, #12 on): that many BOS tokens (50256) are put
    at random positions of each window, so every row holds several documents, some starting
    mid-block, and the document masks have work to do.
    """
    out = []
    for s in range(steps):
        window = integers(seed, f"tokens/{s}", (batch, seq + 1), vocab)
        if documents:
            starts = integers(seed, f"bos/{s}", (batch, documents), seq + 1)
            np.put_along_axis(window, starts, BOS, axis=1)
        out.append((np.ascontiguousarray(window[:, :-1]), np.ascontiguousarray(window[:, 1:])))
    return out


def synthetic_gradients(seed: int, shapes: dict[str, tuple[int, ...]], steps: int = 2) -> list[dict[str, np.ndarray]]:
    """Identical gradients for both optimizers, one dict per step. Step 0 has global norm 2 (so
    llm.c's clip at 1.0 acts), step 1 global norm 0.5 (so it does not)."""
    out = []
    for step, norm in zip(range(steps), (2.0, 0.5)):
        grads = {n: normal(seed, f"grad{step}/{n}", s) for n, s in shapes.items()}
        scale = norm / np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
        out.append({n: (g * scale).astype(np.float32) for n, g in grads.items()})
    return out
