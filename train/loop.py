"""The training run: plan, mesh, model, optimizer, data, the loop, checkpoints, logs."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jnano
from jnano import records
from jnano.optim.build import build_optimizer
from train import sharding as S
from train.checkpoint import Checkpointer
from train.flops import flops_per_token, peak_flops
from train.presets import Plan, make_plan
from train.runlog import RunLog, plot
from train.step import make_eval_step, make_train_step
from train.stream import TrainStream, locate, validation


class TrainingError(RuntimeError):
    """A run that cannot go on; the message says why and what is kept."""


@dataclass(frozen=True)
class RunArgs:
    record: str
    preset: str = "record"
    data: Path | None = None
    steps: int | None = None
    val_every: int | None = None
    val_tokens: int | None = None
    out: Path | None = None
    seed: int = 0
    mesh: str | None = None
    micro_batch: int | None = None  # sequences per device per micro-step
    checkpoint_every: int = 0  # 0: only at the end
    resume: bool = False
    progress: bool = True
    quiet: bool = False


@dataclass
class Result:
    run_dir: Path
    steps: int
    final_val_loss: float | None
    train_losses: list[float]
    train_time_ms: float


def _run_dir(args: RunArgs, plan: Plan) -> Path:
    if args.out is not None:
        return Path(args.out)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"record{plan.record.id}-{plan.preset.name}-{stamp}"


def _micro_steps(plan: Plan, data_devices: int, micro_batch: int | None) -> int:
    """Micro-steps per optimizer step so each device holds `micro_batch` sequences at a time
    (default: the record's sequences per GPU)."""
    seqs = plan.batch_sequences
    per_device = micro_batch or plan.training.device_batch
    if seqs % data_devices:
        raise ValueError(f"the batch of {seqs} sequences does not split over {data_devices} data-parallel devices")
    n = max(1, seqs // (data_devices * per_device))
    while seqs % (n * data_devices):
        n += 1
    return n


def _config(args: RunArgs, plan: Plan, mesh, n_micro: int) -> dict:
    return {
        "record": plan.record.id, "stage": plan.record.stage, "preset": plan.preset.name,
        "seed": args.seed, "model": dataclasses.asdict(jnano.config(plan.record.id, **plan.model)),
        "training": dataclasses.asdict(plan.training), "optimizer": repr(plan.optimizer),
        "val_steps": plan.val_steps, "mesh": dict(mesh.shape), "micro_steps": n_micro,
        "devices": [str(d) for d in jax.devices()], "data": str(args.data) if args.data else "shipped sample",
    }


def train(args: RunArgs) -> Result:
    S.initialize_distributed()
    record = records.get(args.record)
    plan = make_plan(record, args.preset, args.steps, args.val_every, args.val_tokens)
    files, val_file = locate(args.data, plan.preset.sample_data)
    mesh = S.make_mesh(args.mesh)
    n_data = mesh.shape[S.DATA]
    n_micro = _micro_steps(plan, n_data, args.micro_batch)
    t = plan.training
    N = t.num_iterations

    run_dir = _run_dir(args, plan)
    ckpt = Checkpointer(run_dir / "checkpoints")
    latest = ckpt.latest()
    if latest is not None and not args.resume:
        raise TrainingError(f"{run_dir} already holds checkpoints (latest: step {latest}); pass --resume to "
                            "continue that run, or choose another --out")
    log = RunLog(run_dir, quiet=args.quiet)
    config = _config(args, plan, mesh, n_micro)

    # model, optimizer, shardings
    model = jnano.build_model(record.id, seed=args.seed, **plan.model)
    params, static = eqx.partition(model, eqx.is_array)
    p_shard = S.param_shardings(model, mesh)
    params = jax.device_put(params, p_shard)
    opt = build_optimizer(plan.optimizer, model, S.stack_sharding(mesh) if n_data > 1 else None)
    s_shape = jax.eval_shape(opt.init, params)
    s_shard = S.like_params(s_shape, params, p_shard, mesh)
    opt_state = jax.jit(opt.init, out_shardings=s_shard)(params)
    replicated = NamedSharding(mesh, P())

    rows = plan.batch_sequences
    val_shape = (rows, t.val_seq_len or t.seq_len)
    v_shard = S.activation("tokens", mesh, val_shape)
    schedule_of = _schedule(record, plan.optimizer.schedule)
    sched = schedule_of(0)
    sched_shard = jax.tree.map(lambda _: replicated, sched)
    eval_fn = jax.jit(make_eval_step(static), in_shardings=(p_shard, v_shard, v_shard, sched_shard),
                      out_shardings=replicated)
    stream = TrainStream(t, files, plan.optimizer.schedule.num_iterations)

    def compiled_step(seq: int):
        """The train step for batches of `rows` x `seq` tokens, compiled, and their sharding."""
        b_shard = S.activation("tokens", mesh, (rows, seq))
        micro_shard = S.activation("micro_tokens", mesh, (n_micro, rows // n_micro, seq))
        step_fn = jax.jit(make_train_step(static, opt, n_micro, b_shard, micro_shard if n_micro > 1 else None),
                          in_shardings=(p_shard, s_shard, b_shard, b_shard, sched_shard),
                          out_shardings=(p_shard, s_shard, replicated), donate_argnums=(0, 1))
        tokens = jax.ShapeDtypeStruct((rows, seq), jnp.int32, sharding=b_shard)
        return step_fn.lower(params, opt_state, tokens, tokens, sched).compile(), b_shard

    # compile ahead of the timed loop (upstream's untimed warmup does this for torch.compile): one
    # train step per batch length (#46 on: one per batch stage)
    t0 = time.perf_counter()
    lengths = sorted({stream.tokens_at(s) // rows for s in range(N)}) if t.batch_stages else [t.seq_len]
    steps_c = {seq: compiled_step(seq) for seq in lengths}
    val_tokens = jax.ShapeDtypeStruct(val_shape, jnp.int32, sharding=v_shard)
    eval_c = eval_fn.lower(params, val_tokens, val_tokens, sched).compile()
    compile_s = time.perf_counter() - t0

    start = 0
    if latest is not None:
        params, opt_state, meta = ckpt.restore(latest, params, opt_state)
        for key in ("record", "preset", "seed", "training"):
            if json_safe(meta["config"][key]) != json_safe(config[key]):
                raise TrainingError(f"--resume: this command's {key} differs from the run in {run_dir}: "
                                    f"{config[key]} vs {meta['config'][key]}")
        start = meta["step"]
        stream.skip(meta["stream_position"])
        log.line(f"resumed from {ckpt.directory}/{latest} at step {start}")

    c = jnano.config(record.id, **plan.model)
    fpt = flops_per_token(model, t.seq_len)
    peak = peak_flops(jax.devices()[0])
    n_params = jnano.param_count(model)
    if start == 0:
        log.write_json("config.json", config)
        log.line(f"record #{record.id} ({record.stage}, preset {plan.preset.name}): {record.description}")
        log.line(f"model {c}; {n_params:,} parameters; {fpt / 1e9:.3f} GFLOP per token")
        if t.batch_stages:
            log.line(f"batch stages: {' -> '.join(f'{k:,}' for k in t.batch_stages.stages)} tokens per step over "
                     f"the thirds of {stream.scheduled} steps, {t.batch_stages.extension:,} after; "
                     f"{len(lengths)} train steps compiled")
        log.line(f"batch {plan.batch_sequences} x {t.seq_len} tokens = {t.batch_tokens:,} per step, {N} steps; "
                 f"mesh {dict(mesh.shape)} on {jax.device_count()} {jax.devices()[0].platform} device(s), "
                 f"{n_micro} micro-step(s)")
        log.line(f"compiled the train and eval steps in {compile_s:.1f}s (not timed)")
    log.event(kind="start", step=start, compile_s=compile_s, params=n_params, flops_per_token=fpt,
              config=config)

    def evaluate(step: int) -> float:
        losses = [eval_c(params, S.host_to_global(x, v_shard), S.host_to_global(y, v_shard), schedule_of(step))
                  for x, y in validation(t, val_file, plan.val_steps)]
        return float(np.mean([float(v) for v in losses]))

    def save(step: int) -> None:
        ckpt.save(step, params, opt_state, {"step": step, "stream_position": stream.position,
                                            "seed": args.seed, "config": json_safe(config)})

    progress = _progress(args.progress and not args.quiet, N, start)
    if progress is not None:
        log.write_line = progress.write
    train_ms, timed_steps, losses, val_loss = 0.0, 0, [], None
    # #21c on train on each row's summed loss; the log shows it per token, like every other record
    summed = type(model).train_loss_reduction == "sum"
    trained_tokens = 0
    try:
        for step in range(start, N + 1):
            last = step == N
            if last or (t.val_every > 0 and step % t.val_every == 0):
                val_loss = evaluate(step)
                avg = train_ms / max(timed_steps, 1)
                log.line(f"step:{step}/{N} val_loss:{val_loss:.4f} train_time:{train_ms:.0f}ms step_avg:{avg:.2f}ms")
                log.event(kind="val", step=step, loss=val_loss, train_time_ms=train_ms)
            if step > start and (last or (args.checkpoint_every and step % args.checkpoint_every == 0)):
                save(step)
            if last:
                break
            x, y = stream.next()
            step_c, b_shard = steps_c[x.shape[1]]
            xg, yg = S.host_to_global(x, b_shard), S.host_to_global(y, b_shard)
            t0 = time.perf_counter()
            params, opt_state, loss = step_c(params, opt_state, xg, yg, schedule_of(step))
            # waits for the step: the clock stops when the device is done
            loss = float(loss) / (x.shape[1] if summed else 1) / type(model).train_loss_scale
            trained_tokens += x.size
            train_ms += 1000 * (time.perf_counter() - t0)
            timed_steps += 1
            if not math.isfinite(loss):
                kept = ckpt.latest()
                raise TrainingError(f"step {step + 1}: the training loss is {loss}; stopping. The last good "
                                    + (f"checkpoint is step {kept} in {ckpt.directory}" if kept is not None
                                       else "state was never checkpointed (use --checkpoint-every)"))
            losses.append(loss)
            avg = train_ms / timed_steps
            log.line(f"step:{step + 1}/{N} train_loss:{loss:.4f} train_time:{train_ms:.0f}ms step_avg:{avg:.2f}ms")
            log.event(kind="train", step=step + 1, loss=loss, train_time_ms=train_ms)
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{loss:.3f}")
    finally:
        if progress is not None:
            progress.close()
        ckpt.close()

    seconds = train_ms / 1000
    throughput = trained_tokens / seconds if seconds else 0.0
    mfu = throughput * fpt / (peak * jax.device_count()) if peak else None
    log.line(f"done: {timed_steps} steps in {seconds:.1f}s of training, {throughput:,.0f} tokens/s"
             + (f", MFU {100 * mfu:.1f}%" if mfu is not None else " (MFU: no peak FLOP/s known for this device)"))
    log.event(kind="end", step=N, train_time_ms=train_ms, tokens_per_s=throughput, mfu=mfu, val_loss=val_loss)
    png = plot(run_dir)
    log.line(f"run folder: {run_dir} (config.json, log.txt, metrics.jsonl{', loss.png' if png else ''}, checkpoints/)")
    log.close()
    return Result(run_dir, N, val_loss, losses, train_ms)


def _schedule(record, schedule):
    """step -> the model's per-step arguments (`Record.model_args`: the attention window from
    #13, #53's multi-token weights and untie flag), evaluated on the host in upstream's float
    order over the lr `schedule`'s steps (its extension included, #35 on)."""
    return lambda step: record.model_args(step, schedule)


def json_safe(obj):
    import json

    return json.loads(json.dumps(obj, default=str))


def _progress(enabled: bool, total: int, start: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, leave=False)
