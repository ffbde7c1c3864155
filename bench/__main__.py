"""python -m bench: time record N's training step in JAX and in upstream's PyTorch, same device.

    python -m bench --record 4 --shape small                     # CPU-sized, JAX only
    python -m bench --record 4 --shape small --upstream ~/src/modded-nanogpt   # + PyTorch, ratio
    python -m bench --record 4 --shape full --batch 8 --seq 1024 --json out.json

Prints step time (median, p10-p90 over --reps after --warmup), tokens/s, MFU (model FLOPs per
token from the stage's shapes; needs a known device peak), peak memory, compile time, and the
JAX/PyTorch step-time ratio (`ratio`: below 1 means JAX is faster). Both sides run record N's
full optimizer step (forward, backward, update) in fp32 on one device, on the same random batch.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

SHAPES = {
    "small": dict(n_layer=4, n_embd=256, n_head=4, vocab_size=8192),
    "full": {},
}
# packed-sequence records (#12 on) keep their 12 layers; one row of 128-token blocks per step
PACKED_SHAPES = {
    "small": dict(n_embd=128, n_head=1, vocab_size=8192),
    "full": {},
}


def _schedule_args(record: str, step: int) -> dict:
    """The per-step model arguments (`Record.model_args`: window, #53's multi-token weights and
    untie) at `step` of the record's schedule."""
    from jnano import records

    r = records.get(record)
    return r.model_args(step, r.optimizer.schedule)


def _peak_host_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_jax(record: str, model_shape: dict, batch: int, seq: int, warmup: int, reps: int,
              step: int = 0) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import jnano
    from jnano import records
    from jnano.optim.build import build_optimizer
    from train.flops import flops_per_token, peak_flops
    from train.step import make_train_step

    model = jnano.build_model(record, seed=0, **model_shape)
    params, static = eqx.partition(model, eqx.is_array)
    opt = build_optimizer(records.get(record).optimizer, model)
    opt_state = opt.init(params)
    vocab = model.config.vocab_size
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.integers(0, vocab, (batch, seq)), jnp.int32)
    y = jnp.asarray(rng.integers(0, vocab, (batch, seq)), jnp.int32)
    train_step = jax.jit(make_train_step(static, opt, 1), donate_argnums=(0, 1))
    schedule = _schedule_args(record, step)
    t0 = time.perf_counter()
    compiled = train_step.lower(params, opt_state, x, y, schedule).compile()
    compile_s = time.perf_counter() - t0
    state = {"p": params, "s": opt_state}

    def run():
        state["p"], state["s"], loss = compiled(state["p"], state["s"], x, y, schedule)
        jax.block_until_ready(loss)

    from bench.timing import time_fn

    timing = time_fn(run, warmup, reps)
    device = jax.devices()[0]
    tokens = batch * seq
    fpt = flops_per_token(model, seq)
    peak = peak_flops(device)
    stats = device.memory_stats() or {}
    return {
        "framework": f"jax {jax.__version__}", "device": f"{device.platform}: {device.device_kind}",
        "compile_s": compile_s, **timing.as_json(), "tokens_per_s": tokens / timing.median_s,
        "mfu": tokens / timing.median_s * fpt / peak if peak else None,
        "peak_memory_mb": stats.get("peak_bytes_in_use", 0) / 2**20 or None, "host_peak_rss_mb": _peak_host_mb(),
        "flops_per_token": fpt,
    }


def bench_torch(record: str, upstream: str, model_shape: dict, batch: int, seq: int, warmup: int, reps: int,
                step: int = 0) -> dict:
    import torch

    import jnano
    import ref
    from jnano import records
    from parity.setup import is_flex, upstream_args

    up = ref.load(record, upstream)
    cfg = jnano.config(record, **model_shape)
    shape = {k: getattr(cfg, k) for k in ("vocab_size", "n_layer", "n_head", "n_embd", "block_size") if hasattr(cfg, k)}
    args = upstream_args(record, records.get(record).optimizer)
    if is_flex(record):
        shape["seq_len"] = seq
        declared = up.driver.declared_args()
        args = type(args)(**{k: v for k, v in vars(args).items() if k in declared})
    model = up.build_model(**shape).train()
    opt = up.build_optimizer(model, args)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, cfg.vocab_size, (batch, seq)))
    y = torch.from_numpy(rng.integers(0, cfg.vocab_size, (batch, seq)))
    counter = {"step": step}

    def run():
        up.train_step(model, opt, x, y, counter["step"])
        counter["step"] += 1

    from bench.timing import time_fn

    timing = time_fn(run, warmup, reps)
    return {"framework": f"torch {torch.__version__} eager", "device": "cpu", **timing.as_json(),
            "tokens_per_s": batch * seq / timing.median_s, "threads": torch.get_num_threads(),
            "host_peak_rss_mb": _peak_host_mb()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--record", default="latest", help="record number (default: the latest in the zoo)")
    p.add_argument("--shape", choices=sorted(SHAPES), default="small", help="small: CPU-sized model; full: the record's own")
    p.add_argument("--batch", type=int, default=None, help="sequences per step (default 8 small / 1 full)")
    p.add_argument("--seq", type=int, default=None, help="sequence length (default 256 small / 1024 full)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--upstream", default=None, help="modded-nanogpt / llm.c checkout: also time upstream's PyTorch step")
    p.add_argument("--step", type=int, default=0,
                   help="the schedule step whose window (and #53's multi-token weights) both sides run at "
                        "(default 0; upstream's loop counts on from it, so leave warmup + reps steps before its end)")
    p.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = p.parse_args(argv)

    from jnano import records

    try:
        record = records.get(args.record).id
    except KeyError as e:
        p.error(e.args[0])
    import dataclasses

    import jnano

    packed = "window" in {f.name for f in dataclasses.fields(jnano.config(record))}
    if packed:  # one packed row per step, as upstream trains it
        if args.batch not in (None, 1):
            p.error(f"record {record} trains on one packed row per step: --batch must be 1")
        batch = 1
        seq = args.seq or (1024 if args.shape == "small" else records.get(record).training.seq_len)
        if seq % 128:
            p.error(f"--seq must be a multiple of 128 for record {record} (128-token attention blocks)")
        shape = dict(PACKED_SHAPES[args.shape])
    else:
        batch = args.batch or (8 if args.shape == "small" else 1)
        seq = args.seq or (256 if args.shape == "small" else 1024)
        shape = dict(SHAPES[args.shape])

    if "block_size" in {f.name for f in dataclasses.fields(jnano.config(record))}:
        shape.setdefault("block_size", max(seq, 1024) if args.shape == "full" else seq)
    result = {"record": record, "shape": args.shape, "model": shape, "batch": batch, "seq": seq,
              "date": date.today().isoformat(), "host": platform.node(), "command": " ".join(sys.argv)}
    result["step"] = args.step
    result["jax"] = bench_jax(record, shape, batch, seq, args.warmup, args.reps, args.step)
    if args.upstream:
        result["torch"] = bench_torch(record, args.upstream, shape, batch, seq, args.warmup, args.reps, args.step)
        result["ratio"] = result["jax"]["median_s"] / result["torch"]["median_s"]
    _print(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def _print(r: dict) -> None:
    print(f"record #{r['record']} ({r['shape']} {r['model'] or 'record shape'}), batch {r['batch']} x {r['seq']} tokens")
    for side in ("jax", "torch"):
        if side not in r:
            continue
        s = r[side]
        mfu = f", MFU {100 * s['mfu']:.1f}%" if s.get("mfu") else ""
        comp = f", compile {s['compile_s']:.1f}s" if "compile_s" in s else ""
        mem = f", peak device memory {s['peak_memory_mb']:.0f} MB" if s.get("peak_memory_mb") else f", host peak RSS {s['host_peak_rss_mb']:.0f} MB"
        print(f"  {s['framework']:<24} step {1000 * s['median_s']:8.1f} ms (p10-p90 {1000 * s['p10_s']:.1f}-"
              f"{1000 * s['p90_s']:.1f}), {s['tokens_per_s']:,.0f} tokens/s{mfu}{comp}{mem}")
    if "ratio" in r:
        print(f"  ratio JAX/PyTorch step time: {r['ratio']:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
