"""Each shared block against PyTorch's own function, fp32 on the CPU, on random inputs."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jnano import nn

rng = np.random.default_rng(0)


def close(ours, theirs, rtol):
    ours, theirs = np.asarray(ours, np.float64), theirs.detach().double().numpy()
    err = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
    assert err <= rtol, err


def test_layernorm_matches_torch():
    x = rng.standard_normal((3, 5, 32)).astype(np.float32)
    w, b = rng.standard_normal(32).astype(np.float32), rng.standard_normal(32).astype(np.float32)
    ln = torch.nn.LayerNorm(32)
    with torch.no_grad():
        ln.weight.copy_(torch.from_numpy(w))
        ln.bias.copy_(torch.from_numpy(b))
    # fp32 reductions in another order: a few ulps
    close(nn.LayerNorm(jnp.asarray(w), jnp.asarray(b))(jnp.asarray(x)), ln(torch.from_numpy(x)), 1e-6)


def test_rms_norm_eps_is_fp32_with_eps_1e6():
    x = rng.standard_normal((4, 16)).astype(np.float32) * 1e-3  # small enough for eps to matter
    t = torch.from_numpy(x)
    expected = t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-6)
    close(nn.rms_norm_eps(jnp.asarray(x)), expected, 1e-6)
    bf = nn.rms_norm_eps(jnp.asarray(x, jnp.bfloat16))
    assert bf.dtype == jnp.bfloat16


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_matches_torch_eps_none(dtype):
    x = rng.standard_normal((4, 128)).astype(np.float32) * 1e-4
    t = torch.from_numpy(x).to(dtype)
    theirs = F.rms_norm(t, (128,))
    ours = nn.rms_norm(jnp.asarray(t.float().numpy(), jnp.bfloat16 if dtype == torch.bfloat16 else jnp.float32))
    close(ours.astype(jnp.float32), theirs.float(), 1e-6 if dtype == torch.float32 else 4e-3)


def test_inverse_frequencies_bitwise_as_torch():
    for dim in (16, 64, 128):
        theirs = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        assert np.array_equal(nn.inverse_frequencies(dim), theirs.numpy())


def test_rotary_half_split_uses_minus_theta():
    B, T, H, D = 2, 7, 3, 8
    x = rng.standard_normal((B, T, H, D)).astype(np.float32)
    cos, sin = nn.rotary_cos_sin(T, nn.inverse_frequencies(D))
    y = np.asarray(nn.apply_rotary_half_split(jnp.asarray(x), cos, sin))
    # rotate pair (j, j + D/2) by -theta_{t,j}: [x1, x2] -> [x1 cos + x2 sin, -x1 sin + x2 cos]
    theta = np.arange(T)[:, None] * nn.inverse_frequencies(D)[None, :]
    c, s = np.cos(theta)[None, :, None, :], np.sin(theta)[None, :, None, :]
    x1, x2 = x[..., : D // 2], x[..., D // 2 :]
    expected = np.concatenate([x1 * c + x2 * s, -x1 * s + x2 * c], axis=-1)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    # a rotation: norms of each pair are preserved, position 0 is the identity
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)
    np.testing.assert_array_equal(y[:, 0], x[:, 0])


def test_attention_matches_sdpa_causal():
    B, T, H, D = 2, 9, 3, 16
    q, k, v = (rng.standard_normal((B, T, H, D)).astype(np.float32) for _ in range(3))
    ours = nn.dense_causal_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), 1 / math.sqrt(D))
    tq, tk, tv = (torch.from_numpy(a).transpose(1, 2) for a in (q, k, v))
    theirs = F.scaled_dot_product_attention(tq, tk, tv, is_causal=True).transpose(1, 2)
    close(ours, theirs, 1e-6)


def test_attention_is_causal():
    B, T, H, D = 1, 6, 2, 4
    q, k, v = (jnp.asarray(rng.standard_normal((B, T, H, D)), jnp.float32) for _ in range(3))
    y = nn.dense_causal_attention(q, k, v, 0.5)
    v2 = v.at[:, 3:].set(100.0)  # the future must not reach positions 0..2
    y2 = nn.dense_causal_attention(q, k.at[:, 3:].set(-7.0), v2, 0.5)
    np.testing.assert_array_equal(np.asarray(y[:, :3]), np.asarray(y2[:, :3]))


def test_gelus_match_torch():
    x = rng.standard_normal(1000).astype(np.float32) * 3
    close(nn.gelu_tanh(jnp.asarray(x)), F.gelu(torch.from_numpy(x), approximate="tanh"), 1e-6)
    close(nn.gelu_exact(jnp.asarray(x)), F.gelu(torch.from_numpy(x)), 1e-6)


def test_cross_entropy_matches_torch_with_ignore_index():
    logits = rng.standard_normal((2, 5, 11)).astype(np.float32) * 4
    targets = rng.integers(0, 11, (2, 5))
    targets[0, 1] = -1
    theirs = F.cross_entropy(torch.from_numpy(logits).view(-1, 11), torch.from_numpy(targets).view(-1), ignore_index=-1)
    ours = nn.cross_entropy(jnp.asarray(logits), jnp.asarray(targets))
    assert abs(float(ours) - theirs.item()) <= 1e-6 * theirs.item()


def test_linear_and_embedding_use_torch_layout():
    w = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    close(nn.Linear(jnp.asarray(w), jnp.asarray(b))(jnp.asarray(x)),
          F.linear(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)), 1e-6)
    emb = nn.Embedding(jnp.asarray(w))
    np.testing.assert_array_equal(np.asarray(emb(jnp.array([4, 0]))), w[[4, 0]])


def test_bf16_cross_entropy_follows_cudas_epilogues():
    """#37: `F.cross_entropy(bf16 logits, reduction="sum")` as CUDA computes it, restated here in
    numpy: log-probabilities in fp32 rounded once to bf16 (`LogSoftMaxForwardEpilogue`), their
    sum in fp32 rounded to bf16, gradient `g - exp(out) * sum(g)` in fp32 rounded to bf16.
    Eager CPU torch rounds the log-probabilities differently (an ulp in a few %) and sums in bf16
    partial sums: it stays within an ulp of each log-probability."""
    from jnano.nn.losses import cross_entropy, cross_entropy_sum_in

    def bf16(a):
        return np.asarray(jnp.asarray(a, jnp.float32).astype(jnp.bfloat16).astype(jnp.float32), np.float64)

    rng = np.random.default_rng(37)
    z = bf16(rng.standard_normal((96, 300)) * 4)
    t = rng.integers(0, 300, 96)
    x = z.astype(np.float32)
    m = x.max(-1, keepdims=True)
    out = bf16(x - m - np.log(np.exp(x - m).sum(-1, keepdims=True, dtype=np.float32)))
    picked = -out[np.arange(96), t]
    g = np.zeros_like(out)
    g[np.arange(96), t] = -1.0
    want_grad = bf16(g - np.exp(out.astype(np.float32)) * g.sum(-1, keepdims=True))
    zj = jnp.asarray(z, jnp.bfloat16)
    ours, grad = jax.value_and_grad(cross_entropy_sum_in)(zj, jnp.asarray(t))
    assert float(ours) == float(bf16(picked.astype(np.float32).sum(dtype=np.float32)))
    assert float(ours) != float(cross_entropy(zj, jnp.asarray(t), reduction="sum"))  # a bf16 number
    assert grad.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(grad.astype(jnp.float32)), want_grad, rtol=2 ** -8, atol=1e-12)

    zt = torch.from_numpy(z.astype(np.float32)).bfloat16().requires_grad_()
    loss = F.cross_entropy(zt, torch.from_numpy(t), reduction="sum")
    loss.backward()
    assert abs(float(ours) - float(loss.detach().float())) <= 4 * 8  # a few ulps (8 at 1024-2048)
    # the gradient's entries are exp(log-probability): one ulp of a bf16 log-probability apart
    ulp = np.exp2(np.floor(np.log2(np.abs(out) + 1e-30)) - 7)
    mine, cpu = np.asarray(grad.astype(jnp.float32), np.float64), zt.grad.double().numpy()
    off = g == 0
    assert np.all(np.abs(np.log(mine[off]) - np.log(cpu[off])) <= ulp[off] + 2 ** -7)


def test_bf16_sigmoid_logits_round_like_torch_ops():
    """#37: `sigmoid(z / z.new_tensor(7.5)) * z.new_tensor(30.0)` on bf16, bit for bit."""

    from jnano.stages.s19c_bf16_cross_entropy import sigmoid_logits_in

    z = torch.from_numpy(np.random.default_rng(7).standard_normal(4096).astype(np.float32) * 20).bfloat16()
    want = torch.sigmoid(z / z.new_tensor(7.5)) * z.new_tensor(30.0)
    got = jax.jit(sigmoid_logits_in)(jnp.asarray(z.float().numpy()).astype(jnp.bfloat16))
    np.testing.assert_array_equal(np.asarray(got.astype(jnp.float32)), want.float().numpy())


def _torch_interleaved_tables(positions: torch.Tensor, half_split: np.ndarray):
    """#58's `Yarn.reset`, restated: each rotating frequency twice, D/2 zeros, cos and sin of
    outer(positions, freqs), the sine's odd lanes negated."""
    quarter = len(half_split) // 2
    freqs = torch.from_numpy(half_split[:quarter]).repeat_interleave(2)
    freqs = torch.cat([freqs, freqs.new_zeros(len(half_split))])
    theta = torch.outer(positions.float(), freqs)
    factor2 = theta.sin()
    factor2[..., 1::2] *= -1
    return theta.cos(), factor2


def _torch_interleaved_rotary(x: torch.Tensor, factor1: torch.Tensor, factor2: torch.Tensor) -> torch.Tensor:
    """#58's `Yarn.rotary`, restated."""
    f1, f2 = factor1[None, : x.size(-3), None, :], factor2[None, : x.size(-3), None, :]
    x_flip = x.view(*x.shape[:-1], x.shape[-1] // 2, 2).flip(-1).view(x.shape)
    return f1 * x + f2 * x_flip


def test_interleaved_rotary_is_58s_yarn():
    B, T, H, D = 1, 11, 3, 16
    half = nn.half_truncated_frequencies(D)
    x = rng.standard_normal((B, T, H, D)).astype(np.float32)
    f1, f2 = nn.rotary.interleaved_tables(jnp.arange(T), nn.rotary.interleaved_frequencies(jnp.asarray(half)))
    t1, t2 = _torch_interleaved_tables(torch.arange(T), half)
    np.testing.assert_allclose(np.asarray(f1), t1.numpy(), atol=1e-6)
    np.testing.assert_allclose(np.asarray(f2), t2.numpy(), atol=1e-6)
    y = nn.rotary.InterleavedRope(f1, f2).rotate(jnp.asarray(x))
    close(y, _torch_interleaved_rotary(torch.from_numpy(x), t1, t2), 1e-6)
    # pairs (2m, 2m+1) rotate by -theta like the half split; the upper half of the head is fixed
    theta = 3 * half[1]
    pair = np.asarray(y)[0, 3, 0, 2:4]
    expected = [x[0, 3, 0, 2] * np.cos(theta) + x[0, 3, 0, 3] * np.sin(theta),
                x[0, 3, 0, 3] * np.cos(theta) - x[0, 3, 0, 2] * np.sin(theta)]
    np.testing.assert_allclose(pair, expected, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(y)[..., D // 2:], x[..., D // 2:])


def test_paired_head_tables_are_58s_yarn_paired_head():
    """`YarnPairedHead.reset`: row t holds the tables of positions 2t and 2t + 1 side by side."""
    import jnano

    D, T = 16, 9
    half = nn.half_truncated_frequencies(D)
    model = jnano.build_model("58", n_embd=2 * D, n_head=2, rope_dtype="float32")
    rope = model.paired_rope(3, T)  # the first window: no YaRN step yet
    t = torch.arange(T)
    even, odd = _torch_interleaved_tables(2 * t, half), _torch_interleaved_tables(2 * t + 1, half)
    np.testing.assert_allclose(np.asarray(rope.factor1), torch.cat((even[0], odd[0]), -1).numpy(), atol=2e-6)
    np.testing.assert_allclose(np.asarray(rope.factor2), torch.cat((even[1], odd[1]), -1).numpy(), atol=2e-6)
