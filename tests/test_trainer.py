"""The trainer: a run end to end, checkpoints and exact resume after SIGKILL, 1 vs 8 devices,
tensor parallelism, NaN handling, bad input, export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnano
import trainer_helpers as H
from train import loop
from train.export import load_checkpoint
from train.runlog import read_metrics

HERE = Path(__file__).parent
H.register()


def run(tmp_path, name="run", **kw):
    args = dict(record="4", preset="tiny", data=H.tiny_data(tmp_path / "data"), out=tmp_path / name,
                progress=False, quiet=True)
    args.update(kw)
    return loop.train(loop.RunArgs(**args))


def params_of(run_dir):
    model, meta = load_checkpoint(run_dir)
    return jnano.to_state_dict(model), meta


def test_run_end_to_end(tmp_path):
    result = run(tmp_path, checkpoint_every=3)
    d = result.run_dir
    assert {p.name for p in d.iterdir()} >= {"config.json", "log.txt", "metrics.jsonl", "loss.png", "checkpoints"}
    log = (d / "log.txt").read_text()
    assert "step:0/6 val_loss:" in log and "step:6/6 val_loss:" in log and "step:4/6 train_loss:" in log
    assert "train_time:" in log and "step_avg:" in log and "tokens/s" in log
    events = read_metrics(d)
    assert [e["step"] for e in events if e["kind"] == "val"] == [0, 3, 6]
    assert len(result.train_losses) == 6 and result.train_losses[-1] < result.train_losses[0]
    config = json.loads((d / "config.json").read_text())
    assert config["record"] == "4" and config["training"]["num_iterations"] == 6
    _, meta = params_of(d)
    assert meta["step"] == 6 and meta["stream_position"] == 6


def relative_param_error(a: dict, b: dict) -> float:
    return max(np.linalg.norm(a[k] - b[k]) / np.linalg.norm(a[k]) for k in a)


# Same step, other summation order. The loss agrees to fp32 rounding (measured ~5e-7). The
# parameters agree to the resolution of record #4's bf16 Newton-Schulz: a flipped bf16 rounding
# moves a Muon update by up to ~3e-2 of itself (parity measures 3.2e-2), and in this tiny model
# one Muon update is ~1e-2 of its weight matrix (lr 3.6e-4 x sqrt(256) x ||NS||_F 8 vs
# ||U(+-1/16)|| 4.6): 3e-4 per step, measured 2.3e-4. Adam's tensors agree to ~1e-6.
PARAM_RTOL = 5e-4


def test_gradient_accumulation_is_the_same_step(tmp_path):
    one = run(tmp_path, "one", micro_batch=16, steps=1)  # 16 sequences at once
    four = run(tmp_path, "four", micro_batch=4, steps=1)  # 4 micro-steps of 4
    np.testing.assert_allclose(one.train_losses, four.train_losses, rtol=2e-6)
    a, _ = params_of(one.run_dir)
    b, _ = params_of(four.run_dir)
    assert relative_param_error(a, b) <= PARAM_RTOL


@pytest.mark.parametrize("record", ["13", "24"])
def test_packed_record_trains_with_its_window_schedule(tmp_path, record):
    """#13 (token window, sum-form Muon, stride loader) and #24 (block windows, FP8 head, summed
    loss shown per token, DistAdam, one-pass loader): the window reaches the model as a traced
    value, so one compiled step serves every step."""
    result = run(tmp_path, record=record, preset="tiny_packed", steps=4)
    log = (result.run_dir / "log.txt").read_text()
    assert "step:4/4 val_loss:" in log
    losses = result.train_losses
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert 5.0 < losses[0] < 7.5  # per token: ln(512) = 6.2 at init, not a 128-token sum
    assert losses[-1] < losses[0]


@pytest.mark.slow
@pytest.mark.parametrize("record,steps", [("53", 6), ("54", 9), ("57", 9), ("61", 9)])
def test_multi_token_records_train_and_untie(tmp_path, record, steps):
    """#53 and #54 in the trainer on the shipped sample (smoke shapes, 6 or 9 steps, about a
    minute): the multi-token loss (per token it starts near (1 + 0.5 + 0.25) ln 50304 = 18.9)
    and the untie inside the run (#54 copies later, `ceil(2/3 N) | 1`); the exported `embed` is
    then the head's copy plus its own steps, not the N(0, 1) table it was drawn as."""
    from jnano import records
    from train import presets

    plan = presets.make_plan(records.get(record), "smoke", steps=steps)
    untie, n = plan.optimizer.untie, plan.optimizer.schedule.num_iterations
    assert untie.copy_step(n) < untie.split_step(n) < steps
    result = run(tmp_path, record=record, preset="smoke", steps=steps, data=None)
    losses = result.train_losses
    assert len(losses) == steps and all(np.isfinite(losses))
    assert 15.0 < losses[0] < 22.0
    sd, _ = params_of(result.run_dir)
    assert float(np.std(sd["embed.weight"])) < 0.1  # drawn N(0, 1)
    assert not np.array_equal(sd["embed.weight"], sd["lm_head.weight"])


def test_existing_run_needs_resume(tmp_path):
    run(tmp_path, steps=2)
    with pytest.raises(loop.TrainingError, match="--resume"):
        run(tmp_path, steps=2)
    with pytest.raises(loop.TrainingError, match="training differs"):
        run(tmp_path, steps=3, resume=True)


def test_nan_loss_stops_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    real = loop.make_train_step

    def poisoned(static, opt, n_micro, *a, **k):
        step = real(static, opt, n_micro, *a, **k)

        def wrapped(params, opt_state, x, y, schedule):
            params, opt_state, loss = step(params, opt_state, x, y, schedule)
            count = jax.tree.leaves(opt_state)[0]  # any step counter: poison from the 4th step
            return params, opt_state, jnp.where(count >= 4, jnp.nan, loss)
        return wrapped

    monkeypatch.setattr(loop, "make_train_step", poisoned)
    with pytest.raises(loop.TrainingError, match=r"step 4: the training loss is nan.*checkpoint is step 2"):
        run(tmp_path, checkpoint_every=2)
    _, meta = params_of(tmp_path / "run")
    assert meta["step"] == 2  # the NaN state was never saved


def _subprocess(tmp_path, env_extra=None, **kw):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-c", H.script(HERE, **kw)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_and_resume_continue_the_same_trajectory(tmp_path):
    data = H.tiny_data(tmp_path / "data")
    common = dict(record="4", preset="tiny", data=data, steps=10, checkpoint_every=2, progress=False, quiet=True)
    ref = loop.train(loop.RunArgs(out=tmp_path / "straight", **common))
    proc = _subprocess(tmp_path, out=str(tmp_path / "killed"), **{k: v for k, v in common.items()})
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and not (ckpts / "4").is_dir():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.communicate()}")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = loop.train(loop.RunArgs(out=tmp_path / "killed", resume=True, **common))
    a, _ = params_of(ref.run_dir)
    b, meta = params_of(resumed.run_dir)
    assert meta["step"] == 10
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # exactly the uninterrupted run
    assert resumed.train_losses == ref.train_losses[-len(resumed.train_losses):]


EIGHT = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}


@pytest.mark.parametrize("mesh", ["data=8", "data=4,model=2"])
def test_eight_devices_match_one(tmp_path, mesh):
    data = H.tiny_data(tmp_path / "data")
    common = dict(record="4", preset="tiny", data=data, steps=3, progress=False, quiet=True)
    one = loop.train(loop.RunArgs(out=tmp_path / "one", **common))
    proc = _subprocess(tmp_path, EIGHT, out=str(tmp_path / "eight"), mesh=mesh, **common)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    eight_losses = json.loads(out.split("FINAL", 1)[1])
    config = json.loads((tmp_path / "eight" / "config.json").read_text())
    from train.sharding import parse_mesh

    assert tuple(config["mesh"].values()) == parse_mesh(mesh, 8) and len(config["devices"]) == 8
    assert eight_losses[0] == pytest.approx(one.train_losses[0], rel=2e-6)  # same weights, same batch
    np.testing.assert_allclose(eight_losses, one.train_losses, rtol=1e-4)  # later steps: see PARAM_RTOL
    a, _ = params_of(one.run_dir)
    b, _ = params_of(tmp_path / "eight")
    assert relative_param_error(a, b) <= 3 * PARAM_RTOL  # three steps of it


def test_cli_without_data_says_how_to_get_it(tmp_path):
    out = subprocess.run([sys.executable, "-m", "train", "--record", "4"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    assert "python -m train.data fineweb" in out.stderr and "--preset smoke" in out.stderr


def test_cli_help_explains_options():
    out = subprocess.run([sys.executable, "-m", "train", "--help"], capture_output=True, text=True)
    for opt in ("--record", "--preset", "--data", "--steps", "--val-every", "--out", "--seed", "--mesh", "--resume"):
        assert opt in out.stdout
    out = subprocess.run([sys.executable, "-m", "train.speedrun", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "latest" in out.stdout


def test_cli_bad_record_and_resume_without_out():
    out = subprocess.run([sys.executable, "-m", "train", "--record", "999", "--preset", "smoke"], capture_output=True, text=True)
    assert out.returncode == 2 and "valid records" in out.stderr
    out = subprocess.run([sys.executable, "-m", "train", "--resume"], capture_output=True, text=True)
    assert out.returncode == 2 and "--out" in out.stderr


def test_export_is_an_upstream_state_dict(tmp_path):
    result = run(tmp_path, steps=2)
    target = tmp_path / "m.safetensors"
    out = subprocess.run([sys.executable, "-m", "train.export", str(result.run_dir), "--out", str(target)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    from safetensors.numpy import load_file

    sd = load_file(str(target))
    assert np.array_equal(sd["lm_head.weight"], sd["transformer.wte.weight"])
    model = jnano.from_state_dict(4, sd, n_head=4)
    x = np.arange(32).reshape(1, 32) % 512
    trained, _ = load_checkpoint(result.run_dir)
    np.testing.assert_array_equal(np.asarray(jnano.logits(model, x)), np.asarray(jnano.logits(trained, x)))
    missing = subprocess.run([sys.executable, "-m", "train.export", str(tmp_path), "--out", str(target)],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "not a run folder" in missing.stderr


def test_record4_trains_its_first_batch_twice(tmp_path):
    from jnano import records
    from train.stream import TrainStream

    files = sorted((H.tiny_data(tmp_path / "d")).glob("*_train_*.bin"))
    t = records.get(4).training
    small = __import__("dataclasses").replace(t, seq_len=64, device_batch=2)
    s = TrainStream(small, files)
    b0, b1, b2 = s.next(), s.next(), s.next()
    np.testing.assert_array_equal(b0[0], b1[0])  # #4-#11: prefetch, reset, then read 0 again
    assert not np.array_equal(b1[0], b2[0]) and s.position == 3
    plain = TrainStream(__import__("dataclasses").replace(small, data=records.get(3).training.data), files)
    p0, p1 = plain.next(), plain.next()  # #3: step s trains on read s
    np.testing.assert_array_equal(p0[0], b0[0])
    np.testing.assert_array_equal(p1[0], b2[0])


def test_bos_aligned_records_start_every_row_at_a_document(tmp_path):
    """#26-#28: each rank's row starts at a BOS, rank r + 1's at least a row after rank r's."""
    import dataclasses

    from jnano import records
    from parity.synthetic_data import write_split
    from train.stream import TrainStream

    files = sorted(p for p in write_split(tmp_path, seed=5, shards=2, shard_tokens=50_000, mean_len=100,
                                          long_len=400) if "_train_" in p.name)
    training = dataclasses.replace(records.get(27).training, seq_len=256)
    stream = TrainStream(training, files)
    for _ in range(5):
        inputs, targets = stream.next()
        assert inputs.shape == (8, 256) and (inputs[:, 0] == 50256).all()
        np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])


def test_packed_records_pack_whole_documents(tmp_path):
    """#29 on: every row starts at a BOS; a document longer than max_seq_len is cut there and
    the rest of it skipped, so no run of tokens between BOS is longer."""
    import dataclasses

    from jnano import hparams as hp
    from jnano import records
    from parity.synthetic_data import write_split
    from train.stream import TrainStream

    files = sorted(p for p in write_split(tmp_path, seed=6, shards=2, shard_tokens=60_000, mean_len=150,
                                          long_len=900) if "_train_" in p.name)
    training = dataclasses.replace(records.get(29).training, seq_len=512, batch_tokens=8 * 512,
                                   data=hp.PackedData(max_seq_len=200))
    stream = TrainStream(training, files)
    for _ in range(4):
        inputs, targets = stream.next()
        assert inputs.shape == (8, 512) and (inputs[:, 0] == 50256).all()
        for row in inputs:
            starts = np.flatnonzero(row == 50256).tolist() + [len(row)]
            assert max(np.diff(starts)) <= 200


def test_batch_stages_grow_the_rows_and_resume_in_stage(tmp_path):
    """#46 on: the batch takes its stage's length over each third of the scheduled steps (the
    loader resized through `send`), then the extension's; a resumed stream is in the same stage."""
    import dataclasses

    from jnano import hparams as hp
    from jnano import records
    from parity.synthetic_data import write_split
    from train.presets import make_plan
    from train.stream import TrainStream

    files = sorted(p for p in write_split(tmp_path, seed=7, shards=2, shard_tokens=80_000, mean_len=150,
                                          long_len=900) if "_train_" in p.name)
    plan = make_plan(records.get(46), "smoke", steps=8)  # 256 tokens a row at the first stage
    assert plan.training.batch_stages == hp.BatchStages((2048, 4096, 6144), 6144)
    scheduled = plan.optimizer.schedule.num_iterations
    assert scheduled == 8  # the 40-step extension rescaled to 0 at 8 steps
    training = dataclasses.replace(plan.training, data=hp.PackedData(max_seq_len=200))
    stream = TrainStream(training, files, scheduled=6)  # 6 scheduled + 2 extension steps
    lengths = [stream.next()[0].shape for _ in range(8)]
    assert lengths == [(8, 256)] * 2 + [(8, 512)] * 2 + [(8, 768)] * 4
    resumed = TrainStream(training, files, scheduled=6)
    resumed.skip(3)
    assert resumed.next()[0].shape == (8, 512)
    with pytest.raises(ValueError, match="scheduled steps"):
        TrainStream(training, files)


def test_max_seq_len_stages_cut_documents_from_step_one(tmp_path):
    """#72: documents are cut at the first stage's length from step 1 on (step 0 keeps the
    loader's own length, what upstream's warmup left behind), at the later stages' after."""
    import dataclasses

    from jnano import hparams as hp
    from jnano import records
    from parity.synthetic_data import write_split
    from train.presets import make_plan
    from train.stream import TrainStream

    files = sorted(p for p in write_split(tmp_path, seed=7, shards=2, shard_tokens=80_000, mean_len=150,
                                          long_len=900) if "_train_" in p.name)
    plan = make_plan(records.get(46), "smoke", steps=8)
    stages = dataclasses.replace(plan.training.batch_stages, bounds="round", max_seq_lens=(100, 300, 300, 300))
    training = dataclasses.replace(plan.training, data=hp.PackedData(max_seq_len=300), batch_stages=stages)
    stream = TrainStream(training, files, scheduled=6)  # stages [0, 2), [2, 4), [4, 6)

    def longest_document(row):
        starts = np.flatnonzero(row == 50256).tolist() + [len(row)]
        return max(np.diff(starts))

    longest = [max(longest_document(r) for r in stream.next()[0]) for _ in range(6)]
    assert [stream.max_seq_len_at(s) for s in range(6)] == [300, 100, 300, 300, 300, 300]
    assert longest[1] <= 100 and all(n > 100 for n in (longest[0], *longest[2:])), longest
    assert all(n <= 300 for n in longest)


def test_max_num_docs_table_sizes_cu_seqlens_and_refuses_overflow(tmp_path):
    """#78: `cu_seqlens` has the table's length for a rank's token count; a batch with more
    documents than that fails with a clear error (upstream's assignment fails there too)."""
    import dataclasses

    from jnano import hparams as hp
    from jnano import records
    from parity.synthetic_data import write_split
    from train.presets import make_plan
    from train.stream import TrainStream

    files = sorted(p for p in write_split(tmp_path, seed=7, shards=2, shard_tokens=80_000, mean_len=40,
                                          long_len=200) if "_train_" in p.name)
    plan = make_plan(records.get(46), "smoke", steps=8)  # 256 tokens a rank at the first stage
    roomy = dataclasses.replace(plan.training, data=hp.PackedData(max_seq_len=200, max_num_docs=((256, 64),)))
    assert TrainStream(roomy, files, scheduled=6).next()[0].shape == (8, 256)
    tight = dataclasses.replace(plan.training, data=hp.PackedData(max_seq_len=200, max_num_docs=((256, 2),)))
    with pytest.raises(ValueError, match="do not fit cu_seqlens of length 2"):
        TrainStream(tight, files, scheduled=6).next()


# --- against upstream's own model + optimizer, on the trainer's batches --------------------------


@pytest.mark.upstream
@pytest.mark.parametrize("record", ["1", "2", "4"])
def test_trainer_trajectory_matches_upstream(tmp_path, record, request):
    """Our trainer's losses vs upstream's model and optimizer (ref drivers, fp32 CPU) stepping
    through the same global batches from the same initial weights. Newton-Schulz runs in bf16
    on both sides (record precision), hence parity's bf16 trajectory bound of 1e-3."""
    import torch

    import ref
    from parity.setup import upstream_args
    from train.presets import make_plan
    from train.stream import TrainStream

    checkout = request.getfixturevalue("llmc_checkout" if record == "1" else "modded_checkout")
    data = H.tiny_data(tmp_path / "data")
    result = run(tmp_path, record=record, steps=5, val_every=0)
    from jnano import records

    plan = make_plan(records.get(record), "tiny", steps=5, val_every=0)
    init = jnano.to_state_dict(jnano.build_model(record, seed=0, **plan.model))
    up = ref.load(record, checkout)
    shape = dict(plan.model)
    model = up.build_model(**shape)
    buffers = {n for n, _ in model.named_buffers()}
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in init.items() if k not in buffers}, strict=False)
    opt = up.build_optimizer(model, upstream_args(record, plan.optimizer))
    stream = TrainStream(plan.training, sorted(data.glob("*_train_*.bin")))
    theirs = []
    for step in range(5):
        x, y = stream.next()
        theirs.append(up.train_step(model, opt, torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64)), step))
    np.testing.assert_allclose(result.train_losses, theirs, rtol=1e-3)
    assert result.train_losses[0] == pytest.approx(theirs[0], rel=1e-5)  # before any update: fp32 exact-ish


@pytest.mark.upstream
def test_exported_checkpoint_loads_into_upstream_class(tmp_path, modded_checkout):
    import torch
    from safetensors.torch import load_file

    import ref

    result = run(tmp_path, steps=2)
    target = tmp_path / "m.safetensors"
    subprocess.run([sys.executable, "-m", "train.export", str(result.run_dir), "--out", str(target)], check=True)
    up = ref.load(4, modded_checkout)
    model = up.build_model(n_layer=2, n_embd=64, n_head=4, vocab_size=512)
    model.load_state_dict(load_file(str(target)), strict=True)
    x = torch.arange(32).reshape(1, 32) % 512
    theirs, _ = up.forward(model, x, x)
    trained, _ = load_checkpoint(result.run_dir)
    np.testing.assert_allclose(np.asarray(jnano.logits(trained, x.numpy())), theirs.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_changing_windows_do_not_recompile():
    """The window schedule reaches the step as a traced int: 3 steps, 3 windows, 1 compilation."""
    import equinox as eqx

    from jnano import records
    from jnano.optim.build import build_optimizer
    from train.step import make_train_step

    model = jnano.build_model("20", n_embd=64, n_head=1, vocab_size=512, head_fp8=None)
    params, static = eqx.partition(model, eqx.is_array)
    opt = build_optimizer(records.get("20").optimizer, model)
    step = jax.jit(make_train_step(static, opt, 1))
    state = opt.init(params)
    x = jnp.asarray(np.random.default_rng(0).integers(0, 512, (1, 256)), jnp.int32)
    losses = []
    for window in (1, 2, 3):
        params, state, loss = step(params, state, x, x, {"window": np.int32(window)})
        losses.append(float(loss))
    assert step._cache_size() == 1
    assert all(np.isfinite(losses))


def test_extension_scales_with_the_run_and_ends_at_the_final_validation():
    """#35's 1640 + 40 steps shrunk to a 150-step run keep the extension's share, the loop
    length is the schedule's, and the last step gets the final validation's windows."""
    from jnano import records
    from train.presets import make_plan

    plan = make_plan(records.get("35"), "smoke")
    s = plan.optimizer.schedule
    assert (s.num_iterations, s.extension, s.steps) == (146, 4, 150) == (146, 4, plan.training.num_iterations)
    windows = loop._schedule(plan.record, s)
    assert {k: int(v) for k, v in windows(150).items()} == {"window": 13, "final_window": 20}
    assert {k: int(v) for k, v in windows(149).items()} == {"window": 11, "final_window": 11}
    full = make_plan(records.get("35"))
    assert full.optimizer.schedule == records.get("35").optimizer.schedule and full.training.num_iterations == 1680
