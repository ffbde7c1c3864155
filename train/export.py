"""python -m train.export RUN_FOLDER: a checkpoint as an upstream PyTorch state_dict (safetensors).

    python -m train.export runs/record4-smoke-... --out model.safetensors [--step N]

The file holds upstream's keys (tied `lm_head.weight` and persistent buffers included), so
`model.load_state_dict(safetensors.torch.load_file(path))` works on upstream's GPT class.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

import jnano
from train.checkpoint import Checkpointer


def load_checkpoint(run_dir: Path, step: int | None = None):
    """(model, meta) of a run's checkpoint (the latest unless `step`)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    config = json.loads(config_path.read_text())
    ckpt = Checkpointer(run_dir / "checkpoints")
    try:
        step = ckpt.latest() if step is None else step
        if step is None:
            raise FileNotFoundError(f"{run_dir}/checkpoints holds no complete checkpoint")
        overrides = {k: v for k, v in config["model"].items()}
        model = jnano.build_model(config["record"], seed=0, **overrides)
        params, static = eqx.partition(model, eqx.is_array)
        params, _, meta = ckpt.restore(step, params)
    finally:
        ckpt.close()
    return eqx.combine(jax.device_get(params), static), meta


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="run folder (holds config.json and checkpoints/)")
    p.add_argument("--out", type=Path, required=True, help="output .safetensors file")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    args = p.parse_args(argv)
    try:
        model, meta = load_checkpoint(args.run, args.step)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from safetensors.numpy import save_file

    sd = {k: np.ascontiguousarray(v) for k, v in jnano.to_state_dict(model).items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(args.out), metadata={"record": meta["config"]["record"], "step": str(meta["step"])})
    print(f"wrote {args.out}: {len(sd)} tensors, record #{meta['config']['record']} step {meta['step']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
