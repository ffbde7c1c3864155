"""ref.kernels: the Triton stubs let a record's kernel definitions execute, and each kernel
stand-in computes what its kernel computes, checked against a float64 reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ref import kernels
from ref.extract import execute

KERNEL_SOURCE = '''
import triton
import triton.language as tl

def _configs():
    return [triton.Config({"BLOCK_SIZE_M": bm}, num_stages=3, num_warps=4) for bm in (64, 128)]

@triton.autotune(configs=_configs(), key=["M"])
@triton.jit
def ns_line_1_kernel(A_ptr, M, BLOCK_SIZE_M: tl.constexpr):
    pass

def ns_line_1(A, out):
    grid = lambda meta: (triton.cdiv(A.size(-2), meta["BLOCK_SIZE_M"]),)
    ns_line_1_kernel[grid](A, A.size(-2))
    return out

def other_wrapper(A):
    ns_line_1_kernel[(1,)](A, A.size(-2))
'''


def _module():
    return execute(KERNEL_SOURCE, "<kernels>", namespace=dict(kernels.NAMESPACE))


def test_kernel_definitions_execute_and_wrappers_get_stand_ins():
    m = _module()
    assert kernels.install(m) == ["ns_line_1"]
    A = torch.randn(2, 8, 5)
    out = torch.empty(2, 8, 8)
    assert m.ns_line_1(A, out) is out
    torch.testing.assert_close(out, A @ A.mT)


def test_launching_a_kernel_without_stand_in_names_it():
    m = _module()
    with pytest.raises(RuntimeError, match="ns_line_1_kernel"):
        m.other_wrapper(torch.randn(4, 4))


def _bf16_ulp_bound(exact: np.ndarray) -> np.ndarray:
    """Half a bf16 ulp of each value (one rounding), plus fp32 accumulation slack."""
    return np.abs(exact) * 2.0**-8 + 1e-6 * np.abs(exact).max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("batched", [False, True])
def test_ns_lines_round_once_from_fp32(dtype, batched):
    """`ns_line_1` = A A^T and `ns_line_2` = alpha A A^T + beta A, accumulated and combined in
    fp32 and rounded once into `out`'s dtype: within half an ulp of the float64 result (fp32:
    1e-6 relative, the accumulation's rounding)."""
    g = torch.Generator().manual_seed(0)
    shape = (3, 24, 40) if batched else (24, 40)
    A = (torch.randn(*shape, generator=g) / 8).to(dtype)
    a64 = A.double()
    AAt = torch.empty(*shape[:-1], shape[-2], dtype=dtype)
    kernels.ns_line_1(A, out=AAt)
    exact = (a64 @ a64.mT).numpy()
    err = np.abs(AAt.double().numpy() - exact)
    bound = _bf16_ulp_bound(exact) if dtype == torch.bfloat16 else 1e-6 * np.abs(exact).max()
    assert (err <= bound).all()

    S = AAt  # square, as Newton-Schulz's second line takes it
    B = torch.empty_like(S)
    alpha, beta = 2.0315, -4.7750
    kernels.ns_line_2(S, alpha=alpha, beta=beta, out=B)
    s64 = S.double()
    exact = (alpha * (s64 @ s64.mT) + beta * s64).numpy()
    err = np.abs(B.double().numpy() - exact)
    bound = _bf16_ulp_bound(exact) if dtype == torch.bfloat16 else 1e-6 * np.abs(exact).max()
    assert (err <= bound).all()
    if dtype == torch.bfloat16:  # one rounding, not three: rounding each term first is worse
        three = (alpha * (S.float() @ S.float().mT)).bfloat16().float() + (beta * S.float()).bfloat16().float()
        assert not torch.equal(three.bfloat16(), B)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_relu_square_mlp_is_the_eager_mlp(dtype):
    """#59's kernel and Function stand-ins against #58's eager MLP (`relu(x W1^T)^2 W2`, bf16
    weights read in the activations' dtype): the same values and gradients; in bf16 the forward
    and the input gradient round at the same points (the weights' gradients are summed in
    another order by autograd's matmuls, so within a few bf16 ulps)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, 32, generator=g).to(dtype)
    W1 = (torch.randn(128, 32, generator=g) / 8).bfloat16()
    W2 = (torch.randn(128, 32, generator=g) / 8).bfloat16()
    grad = torch.randn(2, 16, 32, generator=g).to(dtype)

    def run(fn):
        xs, w1, w2 = (t.detach().clone().requires_grad_() for t in (x, W1, W2))
        out = fn(xs, w1, w2)
        out.backward(grad)
        return out.detach(), xs.grad, w1.grad, w2.grad

    fused = run(kernels.FusedLinearReLUSquareFunction.apply)
    eager = run(lambda xs, w1, w2: torch.nn.functional.linear(
        torch.relu(torch.nn.functional.linear(xs, w1.type_as(xs))).square(), w2.T.type_as(xs)))
    assert fused[2].dtype == fused[3].dtype == torch.bfloat16  # autograd rounds to the weights' dtype
    tol = 1e-6 if dtype == torch.float32 else 2e-2
    for a, b in zip(fused, eager):
        assert torch.linalg.norm((a - b).double()) <= tol * torch.linalg.norm(b.double())
    if dtype == torch.bfloat16:
        assert torch.equal(fused[0], eager[0])


def _softcapped_mtp_reference(logits: torch.Tensor, targets: torch.Tensor, weights: list[float]) -> torch.Tensor:
    """#60's loss written with plain torch ops in float64: autograd gives its exact gradient."""
    z = 23 * torch.sigmoid((logits.double() + 5) / 7.5)
    lse, n = torch.logsumexp(z, -1), len(targets)
    return sum(w * (lse[: n - k] - z[: n - k].gather(1, targets[k:, None])[:, 0]).sum() for k, w in enumerate(weights))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_softcapped_cross_entropy_stand_in_is_the_loss_and_its_gradient(dtype):
    """#60's FusedSoftcappedCrossEntropy stand-in: per-row losses summing to the multi-token loss,
    the softcapped logits recorded, and the exact gradient rounded once to the logits' dtype."""
    g = torch.Generator().manual_seed(0)
    logits = (3 * torch.randn(12, 40, generator=g)).to(dtype)
    targets = torch.randint(0, 40, (12,), generator=g)
    weights = [1.0, 0.5, 0.25]
    recorder = type("Recorder", (), {"logits": None})()
    fn = kernels._softcapped_cross_entropy(lambda: recorder)
    x = logits.clone().requires_grad_()
    losses = fn.apply(x, targets, torch.tensor(weights))
    losses.sum().backward()
    xr = logits.double().requires_grad_()
    expected = _softcapped_mtp_reference(xr, targets, weights)
    expected.backward()
    assert losses.dtype == torch.float32 and x.grad.dtype == dtype
    assert abs(losses.sum().item() - expected.item()) <= 1e-6 * abs(expected.item())
    np.testing.assert_allclose(recorder.logits.numpy(), 23 * torch.sigmoid((logits.double() + 5) / 7.5).numpy(),
                               rtol=1e-6)
    exact = xr.grad.to(dtype)  # rounded once
    if dtype == torch.float32:
        np.testing.assert_allclose(x.grad.numpy(), exact.numpy(), rtol=1e-5, atol=1e-8)
    else:  # a float32 result within rounding of a bf16 midpoint may round the other way
        assert (x.grad != exact).float().mean() < 0.01


def test_jax_softcapped_loss_is_the_stand_in():
    """`jnano.nn.losses.softcapped_multi_token_cross_entropy` against the reference's stand-in
    of #60's kernels: the loss and the gradient (float32), and the zero-padded weights of the
    last third (upstream passes a shorter list)."""
    import jax
    import jax.numpy as jnp

    from jnano.nn.losses import softcapped_multi_token_cross_entropy

    g = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(16, 50, generator=g)
    targets = torch.randint(0, 50, (16,), generator=g)
    fn = kernels._softcapped_cross_entropy(lambda: None)
    for theirs_w, ours_w in (([1.0, 0.5, 0.25], [1.0, 0.5, 0.25]), ([1.0, 0.3], [1.0, 0.3, 0.0]), ([1.0], [1.0, 0, 0])):
        x = logits.clone().requires_grad_()
        fn.apply(x, targets, torch.tensor(theirs_w)).sum().backward()
        loss, grad = jax.value_and_grad(softcapped_multi_token_cross_entropy)(
            jnp.asarray(logits.numpy()), jnp.asarray(targets.numpy()), jnp.asarray(ours_w, jnp.float32), 23.0, 5.0, 7.5)
        expected = fn.apply(logits, targets, torch.tensor(theirs_w)).sum().item()
        assert abs(float(loss) - expected) <= 1e-6 * abs(expected)
        np.testing.assert_allclose(np.asarray(grad), x.grad.numpy(), rtol=2e-5, atol=1e-7)


def test_fp8_loss_stand_in_is_our_fp8_head_and_loss():
    """#67's FusedSoftcappedCrossEntropy stand-in at record precision (FP8 head, e5m2 gradient
    straight from float32) against ours (`fp8_linear(..., float32_cotangent=True)` and
    `softcapped_multi_token_cross_entropy`): the loss, and the gradients of the stream and the
    head's weight, to the rounding of their float32 sums (an e5m2 or bf16 rounding decided
    either way now and then)."""
    import jax
    import jax.numpy as jnp

    from jnano.hparams import FP8_SCALES_65
    from jnano.nn.fp8 import fp8_linear
    from jnano.nn.losses import softcapped_multi_token_cross_entropy

    g = torch.Generator().manual_seed(2)
    x = torch.randn(64, 32, generator=g).bfloat16()
    w = (0.05 * torch.randn(32, 300, generator=g)).bfloat16()  # (d, V), #61's transposed head
    targets = torch.randint(0, 300, (64,), generator=g)
    weights = torch.tensor([1.0, 0.5, 0.25])
    sc = FP8_SCALES_65
    fn = kernels._fp8_softcapped_cross_entropy(lambda: None, "record")
    xt, wt = x.clone().requires_grad_(), w.clone().requires_grad_()
    theirs = fn.apply(xt, targets, weights, wt, sc.x_s, sc.w_s, sc.grad_s).sum()
    theirs.backward()

    def ours(xj, wj):
        z = fp8_linear(xj, wj.T, sc, native=False, float32_cotangent=True)
        return softcapped_multi_token_cross_entropy(z, jnp.asarray(targets.numpy()), jnp.asarray(weights.numpy()),
                                                    23.0, 5.0, 7.5)

    xj, wj = (jnp.asarray(t.float().numpy()).astype(jnp.bfloat16) for t in (x, w))
    loss, (gx, gw) = jax.value_and_grad(ours, argnums=(0, 1))(xj, wj)
    # the bf16 logits round float32 sums taken in another order: a few land an ulp (2^-8) apart
    assert abs(float(loss) - theirs.item()) <= 1e-4 * abs(theirs.item())
    for mine, other in ((gx, xt.grad), (gw, wt.grad)):
        mine, other = np.asarray(mine, np.float64), other.double().numpy()
        assert np.linalg.norm(mine - other) <= 2e-2 * np.linalg.norm(other)


def test_cuda_loss_stand_in_is_ours_last_rows_quirk_included():
    """#79's fused CUDA loss: our `fused_softcapped_multi_token_cross_entropy` against the
    reference's stand-in at fp32 (the plain head), loss and the stream's gradient; both give the
    last two rows every weight's softmax share, which #60's exact gradient does not."""
    import jax
    import jax.numpy as jnp

    from jnano.nn.losses import fused_softcapped_multi_token_cross_entropy, softcapped_multi_token_cross_entropy

    g = torch.Generator().manual_seed(3)
    x = torch.randn(24, 16, generator=g)
    w = torch.randn(16, 50, generator=g)
    targets = torch.randint(0, 50, (24,), generator=g)
    weights = torch.tensor([1.0, 0.5, 0.25])
    fn = kernels._cuda_softcapped_cross_entropy(lambda: None, "fp32")
    xt = x.clone().requires_grad_()
    theirs = fn.apply(xt, targets, weights, w, 1.0, 1.0, 1.0, 1.0).sum()
    theirs.backward()
    wj = jnp.asarray(w.numpy())

    def ours(xj, kernel=fused_softcapped_multi_token_cross_entropy):
        return kernel(xj @ wj, jnp.asarray(targets.numpy()), jnp.asarray(weights.numpy()), 23.0, 5.0, 7.5)

    loss, gx = jax.value_and_grad(ours)(jnp.asarray(x.numpy()))
    assert abs(float(loss) - theirs.item()) <= 1e-5 * abs(theirs.item())
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    exact = jax.grad(lambda xj: ours(xj, softcapped_multi_token_cross_entropy))(jnp.asarray(x.numpy()))
    differs = np.abs(np.asarray(exact) - np.asarray(gx)).max(axis=1) > 1e-4
    assert differs[-2:].all() and not differs[:-2].any()


def test_cuda_loss_rounds_the_sigmoid_to_the_logits_dtype():
    """#79 stores the softcap's sigmoid in bf16: with bf16 logits our loss is the one of the
    bf16-rounded sigmoid."""
    import jax.numpy as jnp

    from jnano.nn.losses import fused_softcapped_multi_token_cross_entropy

    g = torch.Generator().manual_seed(4)
    logits = (3 * torch.randn(8, 40, generator=g)).bfloat16()
    targets = torch.randint(0, 40, (8,), generator=g)
    s = torch.sigmoid(logits.float() * (1 / 7.5) + 5 * (1 / 7.5)).bfloat16().float()
    z = 23 * s
    expected = (torch.logsumexp(z, -1) - z.gather(1, targets[:, None])[:, 0]).sum().item()
    ours = fused_softcapped_multi_token_cross_entropy(jnp.asarray(logits.float().numpy()).astype(jnp.bfloat16),
                                                      jnp.asarray(targets.numpy()), jnp.ones((1,)), 23.0, 5.0, 7.5)
    assert abs(float(ours) - expected) <= 1e-5 * abs(expected)


def test_84s_fp8_mlp_stand_in_agrees_with_ours_and_falls_back_to_59s():
    """#84's `FusedLinearReLUSquareFunction(x, W1, W2, W1_f8, dequant_scale, x_f8)` stand-in: given
    e4m3 copies (made here as #84's main makes them) its output is `relu(pre)^2 W2` with the FP8 pre
    that `jnano.nn.fp8.fp8_up_projection` computes; without them it is #59's function, gradients too."""
    import jax.numpy as jnp

    from jnano.nn.fp8 import fp8_up_projection

    rng = np.random.default_rng(59)
    x = torch.from_numpy(rng.normal(size=(32, 64)).astype(np.float32)).bfloat16().requires_grad_()
    w1 = torch.from_numpy(0.1 * rng.normal(size=(128, 64)).astype(np.float32)).bfloat16()
    w2 = torch.from_numpy(0.1 * rng.normal(size=(128, 64)).astype(np.float32)).bfloat16()
    amax = x.detach().abs().max()
    s_w = w1.abs().max() / 448.0
    w1_f8, x_f8 = (w1 / s_w).to(torch.float8_e4m3fn), (x.detach() * (448.0 / amax)).to(torch.float8_e4m3fn)
    dequant = torch.ones(1).copy_(s_w.float()).mul_(amax).div_(448.0)
    out = kernels.FP8UpFusedLinearReLUSquareFunction.apply(x, w1, w2, w1_f8, dequant, x_f8)
    pre = np.asarray(fp8_up_projection(jnp.asarray(x.detach().float().numpy(), jnp.bfloat16),
                                       jnp.asarray(w1.float().numpy(), jnp.bfloat16)), np.float32)
    post = torch.from_numpy(pre).clamp_min(0).square().bfloat16()
    np.testing.assert_array_equal(out.detach().float().numpy(), (post @ w2).float().numpy())
    plain, ref59 = (f.apply(x, w1, w2) for f in (kernels.FP8UpFusedLinearReLUSquareFunction,
                                                 kernels.FusedLinearReLUSquareFunction))
    g = torch.ones_like(plain)
    (gx_a,), (gx_b,) = torch.autograd.grad(plain, [x], g), torch.autograd.grad(ref59, [x], g)
    np.testing.assert_array_equal(plain.detach().float().numpy(), ref59.detach().float().numpy())
    np.testing.assert_array_equal(gx_a.float().numpy(), gx_b.float().numpy())


def _dc_loop_reference(base, q, k, v, w1, w2, cu_seqlens, scaling, window):
    """#85's post-only DC correction in float64, one query at a time, as its docstring defines it."""
    T, H, _ = base.shape
    bounds = cu_seqlens.tolist()
    out = []
    for t in range(T):
        start = max(b for b in bounds if b <= t)
        keys = [s for s in range(start, t + 1) if t - s < window]
        probs = [torch.softmax(scaling * (k[0, keys, h] @ q[0, t, h]), dim=0) for h in range(H)]
        shared = sum(w1[0, t, h] * probs[h] for h in range(H))
        out.append(torch.stack([base[t, h] + (w2[0, t, h] * shared) @ v[0, keys, h] for h in range(H)]))
    return torch.stack(out)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dc_correction_stand_in_is_the_composed_attention(dtype):
    """#85's `dc_attention_postonly_nodd_correction_add_base_triton` stand-in against a loop over
    queries in float64: three documents (one longer than the window of 5), the same values and
    gradients (fp32: 1e-5 relative, the order of fp32 sums; bf16: the kernel's two roundings,
    `w2 a` and the output, bound the forward to 2e-2, and gradients flow through the rounded
    weights, 5e-2)."""
    from ref.dc import dc_post_correction

    g = torch.Generator().manual_seed(0)
    T, H, D, window = 24, 3, 8, 5
    cu = torch.tensor([0, 4, 15, 24, 24], dtype=torch.int32)
    q, k, v = (torch.randn(1, T, H, D, generator=g).to(dtype) for _ in range(3))
    base = torch.randn(T, H, D, generator=g).to(dtype)
    w1, w2 = (torch.randn(1, T, H, generator=g).to(dtype) for _ in range(2))
    grad = torch.randn(T, H, D, generator=g)

    def run(fn, cast):
        xs = [t.detach().to(cast).requires_grad_() for t in (base, q, k, v, w1, w2)]
        out = fn(*xs)
        out.float().backward(grad.to(out.dtype).float())
        return [out.detach().double()] + [x.grad.double() for x in xs]

    ours = run(lambda b, q_, k_, v_, a, c: dc_post_correction(b, q_, k_, v_, (a, c), None, 0.3, window, cu), dtype)
    ref = run(lambda b, q_, k_, v_, a, c: _dc_loop_reference(b, q_, k_, v_, a, c, cu, 0.3, window), torch.float64)
    tol = (1e-5, 1e-5) if dtype == torch.float32 else (2e-2, 5e-2)
    for i, (a, b) in enumerate(zip(ours, ref)):
        assert torch.linalg.norm(a - b) <= tol[min(i, 1)] * torch.linalg.norm(b), i
    assert ours[0].shape == (T, H, D)
    # the window and the segments matter: a longer window gives another output
    wider = dc_post_correction(base, q, k, v, (w1, w2), None, 0.3, window + 3, cu)
    assert not torch.allclose(wider.double(), ours[0])


def test_dc_correction_jax_matches_the_stand_in():
    """jnano's `post_only_composition` (with `composition_mask` from the document mask) is the
    stand-in's function: fp32 to 1e-6 relative, bf16 to one rounding of the output (the same
    rounding points, different summation order)."""
    import jax.numpy as jnp

    from jnano.nn.dc_attention import composition_mask, post_only_composition
    from jnano.nn.masks import document_causal
    from ref.dc import dc_post_correction
    from ref.varlen import cu_seqlens_of

    g = torch.Generator().manual_seed(1)
    T, H, D, window = 32, 2, 8, 6
    tokens = torch.randint(0, 100, (T,), generator=g)
    tokens[[0, 9, 20]] = 50256
    cu = cu_seqlens_of(tokens, 50256, 6)
    for dtype, tol in ((torch.float32, 1e-6), (torch.bfloat16, 1e-2)):
        q, k, v = (torch.randn(1, T, H, D, generator=g).to(dtype) for _ in range(3))
        base = torch.randn(1, T, H, D, generator=g).to(dtype)
        w1, w2 = (torch.randn(1, T, H, generator=g).to(dtype) for _ in range(2))
        theirs = dc_post_correction(base, q, k, v, (w1, w2), None, 0.25, window, cu).double().numpy()
        jdt = jnp.float32 if dtype == torch.float32 else jnp.bfloat16
        arrays = [jnp.asarray(t.float().numpy()).astype(jdt) for t in (base, q, k, v, w1, w2)]
        mask = composition_mask(document_causal(jnp.asarray(tokens.numpy()))[None], window)
        ours = np.asarray(post_only_composition(*arrays, mask, 0.25).astype(jnp.float32), np.float64)
        assert np.linalg.norm(ours - theirs) <= tol * np.linalg.norm(theirs), dtype
