"""YaRN (record #31 on): the frequencies and attention scales per window, against the formula
restated in torch fp32 ops; the model picks them with the traced window."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import torch

from jnano.nn import half_truncated_frequencies
from jnano.nn.yarn import apply_yarn, attention_scales, frequencies_by_window, window_order


def _torch_apply_yarn(freq: torch.Tensor, old: int, new: int) -> torch.Tensor:
    rotations = 128 * old * freq / (2 * torch.pi)
    s = old / new
    ramp = torch.clamp((rotations - 1) / (32 - 1), 0, 1)
    return freq * (s + ramp * (1 - s))


def test_apply_yarn_matches_torch_fp32_bit_for_bit():
    base = half_truncated_frequencies(128)
    freq = torch.from_numpy(base.copy())
    ours = base
    for old, new in ((3, 7), (7, 11), (11, 13)):
        freq = _torch_apply_yarn(freq, old, new)
        ours = apply_yarn(ours, old, new)
        np.testing.assert_array_equal(ours, freq.numpy())


def test_yarn_keeps_fast_rotations_and_slows_slow_ones():
    """Frequencies that turn more than 32 times across the old window stay; those under one
    turn scale by old/new; the zero half stays zero."""
    base = half_truncated_frequencies(128)
    after = apply_yarn(base, 3, 7)
    turns = 128 * 3 * base / (2 * math.pi)
    np.testing.assert_array_equal(after[turns >= 32], base[turns >= 32])
    np.testing.assert_allclose(after[(turns <= 1) & (base > 0)], base[(turns <= 1) & (base > 0)] * 3 / 7, rtol=1e-6)
    assert (after[32:] == 0).all()


def test_windows_and_scales_in_run_order():
    windows = window_order((3, 7, 11), 13)
    assert windows == (3, 7, 11, 13) and window_order((3, 7, 11), 11) == (3, 7, 11)
    scales = attention_scales(windows)
    assert scales[0] == 0.1
    np.testing.assert_allclose(scales[3], 0.1 * (0.2 * math.log(7 / 3) + 1) * (0.2 * math.log(11 / 7) + 1)
                               * (0.2 * math.log(13 / 11) + 1), rtol=1e-15)
    table = frequencies_by_window(half_truncated_frequencies(128), windows)
    assert table.shape == (4, 64) and table.dtype == np.float32
    np.testing.assert_array_equal(table[0], half_truncated_frequencies(128))


def test_the_model_picks_its_tables_by_the_traced_window():
    from jnano.stages import s18_yarn

    traced = jax.jit(lambda w: s18_yarn.yarn_tables(w, 16))
    for i, w in enumerate(s18_yarn.WINDOWS):
        cos, sin, scale = traced(jnp.int32(w))
        freqs = frequencies_by_window(half_truncated_frequencies(128), s18_yarn.WINDOWS)[i]
        np.testing.assert_allclose(np.asarray(cos), np.cos(np.outer(np.arange(16), freqs)), atol=2e-6)
        assert float(scale) == np.float32(attention_scales(s18_yarn.WINDOWS)[i])
