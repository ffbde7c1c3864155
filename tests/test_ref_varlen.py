"""ref.varlen: FlashAttention-3's varlen function on the CPU, against attention computed one
document at a time; and the cu_seqlens of a row, as upstream's loader builds them."""

from __future__ import annotations

import pytest
import torch

from ref import varlen


def _per_document(q, k, v, cu, scale, left):
    """Each segment on its own: causal softmax attention within `left` tokens back."""
    out = torch.zeros_like(q, dtype=torch.float32)
    bounds = sorted(set(cu.tolist()))
    for s, e in zip(bounds, bounds[1:]):
        n = e - s
        i = torch.arange(n)[:, None]
        j = torch.arange(n)[None, :]
        allowed = (j <= i) & ((i - j <= left) if left >= 0 else True)
        for h in range(q.shape[1]):
            scores = (q[s:e, h].double() @ k[s:e, h].double().T) * scale
            scores = scores.masked_fill(~allowed, float("-inf"))
            out[s:e, h] = (torch.softmax(scores, -1) @ v[s:e, h].double()).float()
    return out


@pytest.mark.parametrize("left", [-1, 0, 5, 40])
def test_varlen_standin_is_attention_within_each_document(left):
    g = torch.Generator().manual_seed(1)
    total, heads, dim = 96, 2, 8
    q, k, v = (torch.randn(total, heads, dim, generator=g) for _ in range(3))
    cu = torch.tensor([0, 17, 18, 60, 96, 96, 96], dtype=torch.int32)  # a 1-token document, padding
    got = varlen.flash_attn_varlen_func(q, k, v, cu, cu, 64, 64, softmax_scale=0.12, causal=True,
                                        window_size=(left, 0))
    torch.testing.assert_close(got, _per_document(q, k, v, cu, 0.12, left), rtol=1e-5, atol=1e-6)


def test_varlen_output_keeps_the_input_dtype():
    q = torch.randn(32, 1, 8).bfloat16()
    cu = torch.tensor([0, 32], dtype=torch.int32)
    assert varlen.flash_attn_varlen_func(q, q, q, cu, cu, causal=True).dtype == torch.bfloat16


def test_cu_seqlens_of_a_row_starts_segments_at_each_bos():
    row = torch.tensor([5, 6, 50256, 7, 8, 50256, 9])
    cu = varlen.cu_seqlens_of(row, 50256, 8)
    assert cu.tolist() == [0, 2, 5, 7, 7, 7, 7, 7] and cu.dtype == torch.int32
    seg = varlen.segment_ids(cu, 7)
    assert seg.tolist() == [0, 0, 1, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="do not fit"):
        varlen.cu_seqlens_of(row, 50256, 2)


# -- genuine upstream code (JNANO_UPSTREAM) ---------------------------------------------------------

VARLEN_RECORDS = ["29", "30", "31", "33"]


@pytest.mark.upstream
@pytest.mark.parametrize("record", ["35"])
def test_extension_windows_follow_upstream(record, modded_checkout):
    """#35 on: the windows of the short parity schedule (8 + 2 extension steps), ours against
    upstream's own `get_ws` statements, the final validation at step 10."""
    from types import SimpleNamespace

    import ref
    from parity import setup

    up = ref.load(record, modded_checkout)
    up.set_args(SimpleNamespace(num_iterations=8, iteration_extension=2))
    ours = [tuple(setup.schedule_at(record, s).values()) for s in range(11)]
    assert [up.window_value(s) for s in range(11)] == ours
    assert ours[-1] == (13, 20)


@pytest.mark.upstream
@pytest.mark.parametrize("record", VARLEN_RECORDS)
def test_varlen_record_calls_the_kernel_with_the_note_s_windows(record, modded_checkout):
    """#29-#31 run FA3 varlen over BOS-started segments with `window_size=(w, 0)`: long layers
    w = 128 n, short layers 128 (n // 2), n = 3, 7, 11 by thirds of the run (history.md S17);
    #31 validates at the end with n = 13, #33 with its last layer at 20 (a second window argument)."""
    from types import SimpleNamespace

    import ref

    up = ref.load(record, modded_checkout)
    up.set_args(SimpleNamespace(num_iterations=12, cooldown_frac=0.45))
    windows = [3] * 5 + [7] * 4 + [11] * 3 + [13 if record in ("31", "33") else 11]
    if record == "33":
        windows = [(n, n) for n in windows[:-1]] + [(13, 20)]
    assert [up.window_value(s) for s in range(13)] == windows
    torch.manual_seed(0)
    model = up.build_model(vocab_size=50304, n_layer=12, n_head=1, n_embd=128, seq_len=512)
    g = torch.Generator().manual_seed(0)
    buf = torch.randint(0, 50256, (513,), generator=g)
    buf[[0, 40, 300]] = 50256
    calls = []
    standin = up.module.flash_attn_varlen_func

    def recording(q, k, v, cu_seqlens_q, cu_seqlens_k, *a, window_size=(-1, -1), **kw):
        calls.append((cu_seqlens_q.clone(), window_size))
        return standin(q, k, v, cu_seqlens_q, cu_seqlens_k, *a, window_size=window_size, **kw)

    up.module.flash_attn_varlen_func = recording
    try:
        for step, n in ((1, 3), (6, 7)):
            calls.clear()
            with torch.no_grad():
                up.forward(model, buf[:-1][None], buf[1:][None], step)
            assert [w for _, w in calls] == [(128 * n if c == "L" else 128 * (n // 2), 0) for c in "LSSSLSSSSSL"]
            # the validation loader's form: a BOS at 0 opens an empty first segment
            assert all(cu[:5].tolist() == [0, 0, 40, 300, 512] and (cu[5:] == 512).all() for cu, _ in calls)
    finally:
        up.module.flash_attn_varlen_func = standin


@pytest.mark.upstream
def test_yarn_state_follows_the_steps_as_upstream(modded_checkout):
    """#31: driving upstream's model through the steps applies YaRN once per window change
    (3 -> 7 -> 11, and 11 -> 13 at the final step); its frequencies and attention scales are
    the rows of `jnano.nn.yarn`'s tables, bit for bit. Going back a step on the same model is
    refused: its window state cannot be undone."""
    from types import SimpleNamespace

    import numpy as np

    import ref
    from jnano.nn import half_truncated_frequencies
    from jnano.nn.yarn import attention_scales, frequencies_by_window
    from jnano.stages.s18_yarn import WINDOWS

    up = ref.load("31", modded_checkout)
    up.set_args(SimpleNamespace(num_iterations=12, cooldown_frac=0.5))
    model = up.build_model(vocab_size=50304, n_layer=12, n_head=1, n_embd=128, seq_len=512)
    table = frequencies_by_window(half_truncated_frequencies(128), WINDOWS)
    assert model.attn_scales == dict(zip(WINDOWS, attention_scales(WINDOWS)))
    row = {3: 0, 7: 1, 11: 2, 13: 3}
    for step in range(13):
        up.window_args(step, {"cum_seqlens": None}, model)
        np.testing.assert_array_equal(model.angular_freq.numpy(), table[row[up.window_value(step)]])
    with pytest.raises(ValueError, match="cannot go back"):
        up.window_args(3, {"cum_seqlens": None}, model)


def test_hub_kernel_import_binds_the_varlen_stand_in():
    """#38 on load FA3 from the kernel hub at module level; the extracted file keeps that line
    and gets the stand-in, and any other hub kernel is refused by name."""
    from ref.drivers import FlexDriver
    from ref.extract import execute

    source = ("from kernels import get_kernel\n"
              "flash_attn_interface = get_kernel('varunneal/flash-attention-3').flash_attn_interface\n")
    module = execute(source, "<hub>", dict(FlexDriver.NAMESPACE))
    assert module.flash_attn_interface.flash_attn_varlen_func is varlen.flash_attn_varlen_func
    with pytest.raises(ImportError, match="other/kernel"):
        varlen.get_kernel("other/kernel")
