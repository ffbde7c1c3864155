"""The FlexAttention-era reference (records #12-#25): the CPU stand-ins of `ref.flex` against
dense brute-force references, and (with JNANO_UPSTREAM) every record's genuine code run through
`ref.drivers.FlexDriver`: model, masks, window schedule, optimizer step."""

from __future__ import annotations

import ast
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.nn.attention.flex_attention import BlockMask

import ref
from ref import flex

EOT = 50256
T = 512
BOS = (0, 40, 300)
FLEX_RECORDS = ["12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "21b", "21c", "22", "23", "24", "25",
                "26", "27", "28"]
VOCAB_50257 = {"17", "19", "20", "21", "21b", "21c", "22", "23"}  # embedding tables of 50257 rows
SUM_LOSS = {"21c", "22", "23", "24", "25", "26", "27", "28"}  # training loss is the sum over tokens
SHORT_LONG = {"20", "21", "21b", "21c", "22", "23", "24", "25", "26", "27", "28"}


# -- stand-ins, no upstream code ------------------------------------------------------------------

def _causal(b, h, q, k):
    return q >= k


def _brute_mask(partial, full, mask_mod, n, block=128):
    """Token mask by the flex rule, one entry at a time."""
    out = np.zeros((n, n), bool)
    for q in range(n):
        for k in range(n):
            r, c = q // block, k // block
            if c in full.get(r, ()):
                out[q, k] = True
            elif c in partial.get(r, ()):
                out[q, k] = bool(mask_mod(0, 0, torch.tensor(q), torch.tensor(k)))
    return out


def _lists(rows: dict, nq: int, width: int):
    num = torch.tensor([len(rows.get(r, ())) for r in range(nq)], dtype=torch.int32)
    idx = torch.zeros(nq, width, dtype=torch.int32)
    for r, cols in rows.items():
        idx[r, :len(cols)] = torch.tensor(cols, dtype=torch.int32)
    return num[None, None], idx[None, None]


def test_dense_mask_follows_partial_and_full_block_lists():
    n, nb = 4 * 128, 4
    # partial: the diagonal, plus a listed block whose tokens mask_mod would hide entirely
    # (row 1 lists block 2, above the diagonal); full: strictly-lower blocks, some omitted
    partial = {0: [0], 1: [1, 2], 2: [2], 3: [3, 1]}
    full = {1: [0], 2: [0], 3: [2]}  # row 2 omits block 1, row 3 omits block 0 (window-like)
    num, idx = _lists(partial, nb, nb)
    fnum, fidx = _lists(full, nb, nb)
    bm = BlockMask.from_kv_blocks(num, idx, fnum, fidx, BLOCK_SIZE=128, mask_mod=_causal)
    want = _brute_mask(partial, full, _causal, n)
    got = flex.dense_mask(bm, n, n).numpy()
    assert (got == want).all()
    # a negative count (#20+ clamp_max(F, -1) at window 1) lists nothing
    num2 = num.clone()
    num2[0, 0, 3] = -1
    bm2 = BlockMask.from_kv_blocks(num2, idx, None, None, BLOCK_SIZE=128, mask_mod=_causal)
    assert not flex.dense_mask(bm2, n, n)[384:].any()


def test_dense_mask_of_create_block_mask_is_its_mask_mod():
    docs = torch.zeros(T, dtype=torch.int64)
    docs[100:] += 1
    docs[333:] += 1

    def doc_causal(b, h, q, k):
        return (q >= k) & (docs[q] == docs[k]) & (q - k < 200)

    bm = flex.create_block_mask(doc_causal, None, None, T, T, device="cuda", _compile=True)
    q, k = torch.arange(T)[:, None], torch.arange(T)[None]
    assert torch.equal(flex.dense_mask(bm, T, T), doc_causal(0, 0, q, k))


def test_flex_standin_is_a_masked_softmax():
    torch.manual_seed(0)
    B, H, n, D = 1, 2, 256, 16
    q, k, v = (torch.randn(B, H, n, D, requires_grad=True) for _ in range(3))
    partial = {0: [0], 1: [1]}
    full = {1: [0]}
    num, idx = _lists(partial, 2, 2)
    fnum, fidx = _lists(full, 2, 2)
    mask_mod = lambda b, h, qi, ki: (qi >= ki) & ((qi - ki) % 3 != 1)  # noqa: E731
    bm = BlockMask.from_kv_blocks(num, idx, fnum, fidx, BLOCK_SIZE=128, mask_mod=mask_mod)
    out = flex.flex_attention(q, k, v, block_mask=bm, scale=0.3)
    mask = _brute_mask(partial, full, mask_mod, n)
    qd, kd, vd = (t.detach().double().numpy() for t in (q, k, v))
    want = np.zeros_like(qd)
    for h in range(H):
        for i in range(n):
            s = 0.3 * kd[0, h] @ qd[0, h, i]
            s = np.where(mask[i], s, -np.inf)
            p = np.exp(s - s.max())
            want[0, h, i] = (p / p.sum()) @ vd[0, h]
    np.testing.assert_allclose(out.detach().double().numpy(), want, rtol=1e-5, atol=1e-6)
    out.sum().backward()  # differentiable (torch's CPU flex has no backward)
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (q, k, v))
    assert flex.flex_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), block_mask=bm).dtype == torch.bfloat16


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32])
def test_scaled_mm_emulation_equals_torch(fast, out_dtype):
    g = torch.Generator().manual_seed(1)
    a = (torch.randn(32, 64, generator=g) * 4).to(torch.float8_e4m3fn)
    b = (torch.randn(48, 64, generator=g) * 4).to(torch.float8_e5m2 if not fast else torch.float8_e4m3fn)
    for sa, sb in [(0.5, 2.0 ** -9), (2.0, 32.0)]:
        scale_a, scale_b = torch.tensor(sa), torch.tensor(sb)
        want = torch._scaled_mm(a, b.T, out_dtype=out_dtype, scale_a=scale_a, scale_b=scale_b, use_fast_accum=fast)
        got = flex.scaled_mm(a, b.T, out_dtype=out_dtype, scale_a=scale_a, scale_b=scale_b, use_fast_accum=fast)
        assert got.dtype == want.dtype
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_dist_stub_copies_like_one_rank():
    d = flex.FlexDistStub()
    src, out = torch.arange(6.0), torch.zeros(1, 6)
    d.all_gather_into_tensor(out, src, async_op=True).get_future().wait()
    assert torch.equal(out[0], src)
    sl = torch.zeros(6)
    d.reduce_scatter_tensor(sl, src)
    assert torch.equal(sl, src) and d.get_world_size() == 1 and d.get_rank() == 0


def test_split_by_rank_gives_each_ranks_chunk_its_own_group():
    """#36's groups of 1, 10, 16 and 16 matrices over 8 ranks: chunks of 1, 2, 2 and 2 (the
    ranks past a group's end hold padding only); every other group field is kept."""
    sizes = (1, 10, 16, 16)
    params = [[torch.nn.Parameter(torch.zeros(2, 2)) for _ in range(n)] for n in sizes]
    opt = torch.optim.SGD([{"params": p} for p in params], lr=0.1)
    for g in opt.param_groups:
        g["initial_lr"] = 0.05
    flex.split_by_rank(opt)
    assert [len(g["params"]) for g in opt.param_groups] == [1] + [2] * 5 + [2] * 8 + [2] * 8
    flat = [p for g in opt.param_groups for p in g["params"]]
    assert all(a is b for a, b in zip(flat, [p for ps in params for p in ps]))
    assert all(g["initial_lr"] == 0.05 and g["lr"] == 0.1 for g in opt.param_groups)


def test_window_statements_keep_only_what_sets_the_window():
    """A window set in a nested `if` of the validation block (#36) is kept without the block."""
    import ast

    from ref.toplevel import _setting

    loop = ast.parse(
        "if new != ws:\n    model.yarn.apply(ws, new)\n    ws = new\n"
        "if last_step or step % 5 == 0:\n    torch.cuda.synchronize()\n    if last_step:\n        ws = 20\n"
        "x = 1\n").body
    kept = [k for k in (_setting(s, {"ws"}) for s in loop) if k is not None]
    assert ast.unparse(kept[0]) == ast.unparse(loop[0])  # a direct setter runs whole
    assert ast.unparse(kept[1]) == "if last_step or step % 5 == 0:\n    if last_step:\n        ws = 20"
    assert len(kept) == 2


def test_micro_step_statements_run_as_the_last_micro_step():
    """#44 arms its Adam hooks inside the micro-step loop; the loader's `next` is not run."""
    import ast

    from ref.toplevel import _micro_step_statements

    loop = ast.parse(
        "for idx in range(grad_accum_steps):\n"
        "    if idx == grad_accum_steps - 1 and step % 2 == 1:\n        optimizers[0].should_sync = True\n"
        "    inputs, targets = next(train_loader)\n"
        "    model(inputs, targets).backward()\n").body[0]
    call = loop.body[2].value.func.value
    kept = _micro_step_statements(loop, call)
    ns = {"grad_accum_steps": 8, "step": 3, "optimizers": [SimpleNamespace(should_sync=False)]}
    exec(compile(ast.Module(body=kept, type_ignores=[]), "<loop>", "exec"), ns)
    assert ns["idx"] == 7 and ns["optimizers"][0].should_sync
    assert not any("next(" in ast.unparse(k) for k in kept)


# -- genuine upstream code -----------------------------------------------------------------------

_LOADED: dict[str, ref.Reference] = {}


def _load(record, checkout):
    if record not in _LOADED:
        _LOADED[record] = ref.load(record, checkout)
    return _LOADED[record]


def _short_args(up) -> SimpleNamespace:
    declared = up.driver.declared_args()
    args = dict(num_iterations=12)
    for name, value in (("warmdown_iters", 5), ("cooldown_iters", 5), ("cooldown_frac", 0.4)):
        if name in declared:
            args[name] = value
    return SimpleNamespace(**args)


def _batch():
    g = torch.Generator().manual_seed(0)
    buf = torch.randint(0, EOT, (T + 1,), generator=g)
    buf[list(BOS)] = EOT
    return buf[:-1][None], buf[1:][None]


def _build(up, record):
    vocab = 50257 if record in VOCAB_50257 else 50304
    torch.manual_seed(0)
    model = up.build_model(vocab_size=vocab, n_layer=12, n_head=1, n_embd=128, seq_len=T)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # upstream zero-inits projections and head: give every path a signal
        for key, tensor in model.named_parameters():
            if tensor.ndim >= 2 and not tensor.any():
                tensor.copy_(torch.randn(tensor.shape, generator=g) * (0.05 if "lm_head" in key else 0.02))
    return model.train(), vocab


def _window_formula(record: str, s: int, n_iter: int = 12):
    """records_12_25.md §2: tokens for #13-#15, blocks from #16; None for #12."""
    x = s / n_iter
    if record == "12":
        return None
    if record in ("13", "14", "15"):
        return 64 * int((64 + 1728 * x) // 64)
    if record in ("16", "17"):
        return int(((1 - x) * 64 + x * 1792 + 64) // 128)
    if record == "18":
        blocks = ((1 - x) * 128 + x * 1856) // 128
        return int(blocks)
    return max(1, math.ceil(1728 * s / n_iter / 128))


def _expected_masks(record, ids, window):
    """records_12_25.md §2.2; returns (long, short) token masks (short is None before #20)."""
    docs = (ids == EOT).cumsum(0)
    q, k = torch.arange(T)[:, None], torch.arange(T)[None]
    base = (k <= q) & (docs[q] == docs[k])
    blocks = q // 128 - k // 128
    if record == "12":
        return base & (q - k < 1024), None
    if record in ("13", "14"):
        return base & (q - k < window), None
    if record == "15":
        return base & (q - k < window) & (blocks < (window + 127) // 128), None
    long = base & (blocks < window)
    if record not in SHORT_LONG:
        return long, None
    return long, base & (blocks < max(window // 2, 1))


@pytest.mark.upstream
@pytest.mark.parametrize("record", FLEX_RECORDS)
def test_flex_record_window_schedule(record, modded_checkout):
    up = _load(record, modded_checkout)
    up.set_args(_short_args(up))
    got = [up.window_value(s) for s in range(13)]
    assert got == [_window_formula(record, s) for s in range(13)]
    if record == "12":
        assert up.window_args(3) == ([], {})


@pytest.mark.upstream
@pytest.mark.parametrize("record", FLEX_RECORDS)
def test_flex_record_trains_with_the_masks_of_the_note(record, modded_checkout):
    up = _load(record, modded_checkout)
    model, vocab = _build(up, record)
    emb = [p for n, p in model.named_parameters() if n.endswith(("wte.weight", "embed.weight"))]
    assert emb and emb[0].shape[0] == vocab
    opt = up.build_optimizer(model, _short_args(up))
    idx, targets = _batch()

    seen: list = []
    standin = up.module.flex_attention

    def recording(q, k, v, block_mask=None, **kw):
        seen.append(block_mask)
        return standin(q, k, v, block_mask=block_mask, **kw)

    up.module.flex_attention = recording
    try:
        for step in (1, 2, 3):
            seen.clear()
            if step < 3:
                with torch.no_grad():
                    up.forward(model, idx, targets, step)
            else:
                logits, loss = up.forward(model, idx, targets, step)
            long, short = _expected_masks(record, idx[0], up.window_value(step))
            masks = [flex.dense_mask(bm, T, T) for bm in seen]
            assert len(masks) == (12 if record in {"12", "13", "14", "15", "16"} else 11)  # #17+: no attention in layer 7
            if short is None:
                assert all(torch.equal(m, long) for m in masks), record
            else:  # layers with attention: [L,S,S,S,L,S,S,-,S,S,S,L]
                pattern = "LSSSLSSSSSL"
                for m, kind in zip(masks, pattern):
                    assert torch.equal(m, long if kind == "L" else short), (record, step, kind)
    finally:
        up.module.flex_attention = standin

    assert logits.shape == (1, T, 50304) and logits.dtype == torch.float32
    assert torch.isfinite(loss)
    reduction = "sum" if record in SUM_LOSS else "mean"
    want = torch.nn.functional.cross_entropy(logits[0], targets[0], reduction=reduction)
    torch.testing.assert_close(loss, want)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None and p.grad.any()}
    # #28's gates feed the zero-initialised output projection: no gradient on the first step
    expected = [n for n, _ in model.named_parameters() if ".dampen." not in n]
    assert len(grads) >= 0.9 * len(expected)
    assert all(torch.isfinite(g).all() for g in grads.values())
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    up.apply_gradients(model, opt, 3, fp32_ns=True)
    unchanged = [n for n, p in model.named_parameters() if n in grads and torch.equal(p, before[n])]
    assert not unchanged, unchanged
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.upstream
def test_44_adam_steps_through_its_gradient_hooks(modded_checkout, monkeypatch):
    """#44's DistAdam updates only the parameters whose hooks ran with `should_sync` set (odd
    steps, last micro-step): the driver must arm and fire them, also for gradients set by hand."""
    from ref import drivers

    def adam_moves(fire: bool) -> bool:
        if not fire:
            monkeypatch.setattr(drivers, "_fire_gradient_hooks", lambda model: None)
        up = ref.load("44", modded_checkout)
        model, _ = _build(up, "44")
        opt = up.build_optimizer(model, SimpleNamespace(num_scheduled_iterations=12))
        head = dict(model.named_parameters())["lm_head.weight"]
        before = head.detach().clone()
        for step in (0, 1):
            for p in model.parameters():
                g = torch.full_like(p, 1e-3)
                p.grad = g if p.grad is None else p.grad + g
            up.apply_gradients(model, opt, step)
        monkeypatch.undo()
        return not torch.equal(head.detach(), before)

    assert adam_moves(fire=True)
    assert not adam_moves(fire=False)


@pytest.mark.upstream
def test_52s_transitions_come_from_its_own_loop(modded_checkout):
    """#52's `is_transition` (which freezes its scalar Adam) as the loop's own statements compute
    it, re-run by the driver, at the steps our schedule says: the window and batch changes."""
    from jnano import records
    from jnano.optim.schedules import stage_transitions
    from parity import setup

    up = ref.load("52", modded_checkout)
    schedule = setup.short_schedule(records.get("52").optimizer.schedule)
    args = vars(setup.upstream_args("52", records.get("52").optimizer.with_schedule(schedule)))
    up.set_args(SimpleNamespace(**setup.for_declared(args, up.driver.declared_args())))
    flags = [up.driver.step_state(s)["is_transition"] for s in range(schedule.steps)]
    assert [s for s, f in enumerate(flags) if f] == stage_transitions(schedule) == [3, 6, 8]


@pytest.mark.upstream
def test_53s_loop_unties_and_weights_as_our_schedules_say(modded_checkout):
    """#53's loop, as the driver runs it: the multi-token weights come from the list its top-level
    loop fills, `model.split_embed` turns on at our split step, and `copy_lm_to_embed` runs after
    the optimizer step our untie copies at."""
    from jnano import records
    from parity import setup

    rec = records.get("53")
    schedule = setup.short_schedule(rec.optimizer.schedule)
    up = ref.load("53", modded_checkout)
    args = vars(setup.upstream_args("53", rec.optimizer.with_schedule(schedule)))
    up.set_args(SimpleNamespace(**setup.for_declared(args, up.driver.declared_args())))
    plan = up.driver.plan
    hooks = ast.unparse(plan.hooks)
    assert "copy_lm_to_embed()" in hooks and "split_step - 2 | 1" in hooks
    assert "model.split_embed = True" in ast.unparse(plan.window_pre)
    assert "mtp_weights_schedule.append" in ast.unparse(plan.window_init)
    for step in range(schedule.steps):
        up_args, _ = up.driver.window_args(step)
        weights = next(a for a in up_args if isinstance(a, torch.Tensor) and a.dtype == torch.float32)
        ours = rec.model_args(step, schedule)["mtp_weights"]
        np.testing.assert_array_equal(np.pad(weights.numpy(), (0, 3 - weights.numel())), ours)
    ns = vars(up.driver.m)
    assert ns["split_step"] == rec.optimizer.untie.split_step(schedule.num_iterations)
    assert eval("split_step - 2 | 1", ns) == rec.optimizer.untie.copy_step(schedule.num_iterations)


@pytest.mark.upstream
def test_54s_training_manager_runs_as_our_schedules_say(modded_checkout):
    """#54's loop calls the methods of a `TrainingManager`: the driver's set-up builds it, the
    window and multi-token weights come from its `advance_schedule`, and its `step_optimizers`
    copies the head into `embed` and splits the model after our copy step, so the model reads
    `embed` from our split step on."""
    from jnano import records
    from parity import setup

    rec = records.get("54")
    schedule = setup.short_schedule(rec.optimizer.schedule)
    untie = rec.optimizer.untie
    up = ref.load("54", modded_checkout)
    args = vars(setup.upstream_args("54", rec.optimizer.with_schedule(schedule)))
    args = SimpleNamespace(**setup.for_declared(args, up.driver.declared_args()))
    plan = up.driver.plan
    assert ast.unparse(plan.setup).splitlines()[0] == "training_manager = TrainingManager(model)"
    assert plan.window_setup_names == ["training_manager"] and plan.clears_grads
    assert "training_manager.advance_schedule(step)" in ast.unparse(plan.window_pre)
    with pytest.raises(ValueError, match="pass the model"):
        up.window_value(1)

    torch.manual_seed(0)
    model = up.build_model(vocab_size=50304, n_layer=11, n_head=1, n_embd=128, seq_len=512)
    opt = up.build_optimizer(model, args)
    assert opt.names["training_manager"].split_step == untie.copy_step(schedule.num_iterations)
    copied = []
    for step in range(schedule.steps):
        (_, config), _ = up.driver.window_args(step, {"cum_seqlens": None}, model)
        ours = rec.model_args(step, schedule)
        np.testing.assert_array_equal(np.pad(config.mtp_weights.numpy(), (0, 3 - config.mtp_weights.numel())),
                                      ours["mtp_weights"])
        assert model.split_embed == bool(ours["untied"]), step
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        up.apply_gradients(model, opt, step)
        if torch.equal(model.embed.weight, model.lm_head.weight):
            copied.append(step)
    assert copied[0] == untie.copy_step(schedule.num_iterations)
    assert untie.split_step(schedule.num_iterations) == copied[0] + 1


@pytest.mark.upstream
@pytest.mark.parametrize("scheduled,extension", [(8, 2), (11, 3), (1535, 40)])
def test_65s_training_schedule_is_ours(modded_checkout, scheduled, extension):
    """#65's `TrainingSchedule`, built by the driver from the arguments it is given: its stage
    bounds, lr, multi-token weights, windows, batch sizes and split step are our record's
    (`hp.stage_bounds`, `StageCooldown`, `StagedMultiTokenWeights`, `STAGES_65`, `BatchStages`
    with round bounds, `UntieAtStage`) at every step, for lengths whose thirds round both ways."""
    import dataclasses

    from jnano import hparams as hp
    from jnano import records
    from jnano.optim.schedules import host_multiplier
    from parity import setup

    rec = records.get("65")
    schedule = dataclasses.replace(rec.optimizer.schedule, num_iterations=scheduled, extension=extension)
    up = ref.load("65", modded_checkout)
    args = vars(setup.upstream_args("65", rec.optimizer.with_schedule(schedule)))
    up.set_args(SimpleNamespace(**setup.for_declared(args, up.driver.declared_args())))
    ns = vars(up.driver.m)
    exec(ast.unparse(up.driver.plan.setup.body[0]) + "\n" + ast.unparse(up.driver.plan.setup.body[1]), ns)
    theirs = ns["training_schedule"]
    assert theirs.boundaries == hp.stage_bounds(scheduled, extension)
    assert theirs.split_step == rec.optimizer.untie.copy_step(scheduled)
    for step in range(schedule.steps + 1):
        stage, _ = theirs.lookup(step)
        assert theirs.get_lr(step) == host_multiplier(schedule, step), step
        ours = rec.model_args(step, schedule)
        w = theirs.mtp_weights[step].numpy()
        np.testing.assert_array_equal(np.pad(w, (0, 3 - w.size)), ours["mtp_weights"])
        if step < schedule.steps:
            assert stage.window_sizes[1] == ours["window"] and stage.window_sizes[0] == ours["window"] // 2
            assert stage.batch_size == rec.training.batch_stages.tokens(step, scheduled)


@pytest.mark.upstream
def test_72s_hard_coded_steps_are_our_stages(modded_checkout):
    """#72's `advance_schedule` hard-codes steps 1, 505, 1010 and 1515: at its 1515 + 40 steps they
    are the `TrainingStage` bounds, so our stage-keyed forms say the same at every step: the
    short window (2 blocks in the third stage, `s35.GPT.window_tokens`), the documents' cut
    (`BatchStages.max_seq_len`, 2048 at step 0 in a fresh process) and the lr floor 0.15."""
    from jnano import records
    from jnano.optim.schedules import host_multiplier
    from jnano.stages import s35_short_window
    from parity import setup

    rec = records.get("72")
    schedule = rec.optimizer.schedule
    up = ref.load("72", modded_checkout)
    args = vars(setup.upstream_args("72", rec.optimizer))
    up.set_args(SimpleNamespace(**setup.for_declared(args, up.driver.declared_args())))
    torch.manual_seed(0)
    model = up.build_model(vocab_size=50304, n_layer=11, n_head=2, n_embd=128, seq_len=512)
    up.build_optimizer(model, SimpleNamespace(**setup.for_declared(args, up.driver.declared_args())))
    window_tokens = s35_short_window.GPT.window_tokens
    stages, first = rec.training.batch_stages, rec.training.data.max_seq_len
    ns = vars(up.driver.m)
    for step in range(schedule.steps):
        config = up.driver.window_args(step, {"cum_seqlens": None, "bigram_inputs": None}, model)[0][-1]
        ours = window_tokens(None, rec.model_args(step, schedule)["window"])
        assert (config.ws_short, config.ws_long) == (int(ours["S"]), int(ours["L"])), step
        assert ns["args"].train_max_seq_len == stages.max_seq_len(step, schedule.num_iterations, first), step
        assert ns["training_schedule"].get_lr(step) == host_multiplier(schedule, step), step
    assert host_multiplier(schedule, schedule.steps) == 0.15
