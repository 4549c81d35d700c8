"""numeric.EmpiricalDistribution: the finite data set's exact score and ideal denoiser."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numeric
from numeric import EmpiricalDistribution, GaussianMixture, InvalidArgument

F64 = torch.float64
TOL = numeric.tolerance(F64)


def data(seed: int, b: int, d: int) -> EmpiricalDistribution:
    g = torch.Generator().manual_seed(seed)
    return EmpiricalDistribution(torch.randn(b, d, generator=g, dtype=F64))


datasets = st.builds(data, st.integers(0, 2**31 - 1), st.integers(1, 8), st.integers(1, 4))
kernels = st.tuples(st.floats(0.05, 2.0), st.floats(0.1, 3.0))
seeds = st.integers(0, 2**31 - 1)


def xts(e: EmpiricalDistribution, n: int, seed: int, alpha: float, sigma: float) -> torch.Tensor:
    return e.sample_xt(n, alpha, sigma, generator=torch.Generator().manual_seed(seed))[2]


@given(datasets, kernels, seeds)
def test_score_is_the_gradient_of_log_p_t(e: EmpiricalDistribution, ker: tuple[float, float],
                                          seed: int) -> None:
    alpha, sigma = ker
    x = xts(e, 5, seed, alpha, sigma).requires_grad_(True)
    (grad,) = torch.autograd.grad(e.log_prob_t(x, alpha, sigma).sum(), x)
    torch.testing.assert_close(e.score_t(x, alpha, sigma), grad, rtol=1e-9, atol=1e-9)


@given(datasets, kernels, seeds)
def test_score_is_the_ratio_form_estimator(e: EmpiricalDistribution, ker: tuple[float, float],
                                           seed: int) -> None:
    """∇log p_t = Σ_i ∇p(x_t|x_i) / Σ_i p(x_t|x_i) (eq. "score-1"), evaluated naively."""
    alpha, sigma = ker
    x = xts(e, 5, seed, alpha, sigma)
    diff = x.unsqueeze(1) - alpha * e.points                         # [n, B, d]
    kern = torch.exp(-0.5 * (diff**2).sum(-1) / sigma**2)            # unnormalised p(x_t|x_i)
    grad = -(kern.unsqueeze(-1) * diff).sum(1) / sigma**2
    torch.testing.assert_close(e.score_t(x, alpha, sigma), grad / kern.sum(1, keepdim=True),
                               rtol=1e-9, atol=1e-9)


@given(datasets, kernels, seeds)
def test_ideal_denoiser_is_tweedie_and_posterior_mean(e: EmpiricalDistribution,
                                                      ker: tuple[float, float], seed: int) -> None:
    """D(x_t) = Σ_i r_i x_i (Karras et al. 2022, eq. 57) = (x_t + σ²∇log p_t)/α."""
    alpha, sigma = ker
    x = xts(e, 6, seed, alpha, sigma)
    den = e.denoise(x, alpha, sigma)
    torch.testing.assert_close(den, (x + sigma**2 * e.score_t(x, alpha, sigma)) / alpha,
                               rtol=1e-9, atol=1e-9)
    post = e.posterior(x, alpha, sigma)
    torch.testing.assert_close(post.weights.sum(-1), torch.ones(6, dtype=F64), rtol=0, atol=1e-14)
    torch.testing.assert_close(post.mean, den, rtol=TOL.rtol, atol=TOL.atol)
    assert post.weights.shape == (6, e.n_points) and bool((post.trace_cov >= -1e-12).all())
    torch.testing.assert_close(post.noise_means, (x.unsqueeze(1) - alpha * e.points) / sigma)


def test_agrees_with_a_mixture_of_vanishing_components() -> None:
    """A Dirac mixture is the limit of a GaussianMixture with covariances → 0 (here 1e-30)."""
    e = data(3, 5, 3)
    mix = GaussianMixture(torch.full((5,), 0.2, dtype=F64), e.points,
                          torch.full((5,), 1e-30, dtype=F64))
    x = xts(e, 10, 1, 0.8, 0.5)
    for name in ("log_prob_t", "score_t", "denoise"):
        torch.testing.assert_close(getattr(e, name)(x, 0.8, 0.5), getattr(mix, name)(x, 0.8, 0.5),
                                   rtol=TOL.rtol, atol=TOL.atol)


def test_constant_and_fisher_information() -> None:
    """C(t) by the posterior trace vs plain MC of J = E‖∇log p_t‖² on independent draws:
    |J_C − J_MC| ≤ 5.3 combined standard errors (false-alarm ≈ 1.2e-7); one point gives C = 0."""
    e = data(4, 6, 2)
    alpha, sigma, n = 0.9, 0.6, 20_000
    c, c_err = e.constant(alpha, sigma, n=n, generator=1, return_stderr=True)
    j = e.fisher_information(alpha, sigma, n=n, generator=1)
    torch.testing.assert_close(c + j, torch.tensor(2 / sigma**2, dtype=F64))
    sq = (e.score_t(xts(e, n, 2, alpha, sigma), alpha, sigma) ** 2).sum(-1)
    z = (j - sq.mean()) / torch.sqrt(c_err**2 + sq.var() / n)
    assert abs(float(z)) <= 5.3 and float(c_err) > 0, f"z = {float(z)}"
    one = EmpiricalDistribution(torch.ones(1, 3))
    assert float(one.constant(alpha, sigma)) == 0.0
    assert float(one.fisher_information(alpha, sigma)) == pytest.approx(3 / sigma**2)


def test_weighted_points() -> None:
    pts = torch.tensor([[0.0], [1.0]], dtype=F64)
    e = EmpiricalDistribution(pts, weights=torch.tensor([0.25, 0.75]))
    x = e.sample(20_000, generator=torch.Generator().manual_seed(0))
    frac = float(x.mean())  # fraction of draws equal to 1; binomial z-test at 5.3
    assert abs(frac - 0.75) <= 5.3 * (0.75 * 0.25 / 20_000) ** 0.5
    mix = GaussianMixture(torch.tensor([0.25, 0.75]), pts, torch.full((2,), 1e-30))
    xt = torch.linspace(-2, 3, 11, dtype=F64).unsqueeze(-1)
    torch.testing.assert_close(e.score_t(xt, 1.0, 0.7), mix.score_t(xt, 1.0, 0.7))


def test_single_point_score_is_the_conditional_score() -> None:
    x1 = torch.tensor([[1.0, -2.0, 0.5]], dtype=F64)
    e = EmpiricalDistribution(x1)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    torch.testing.assert_close(e.score_t(x, 0.6, 0.3), (0.6 * x1 - x) / 0.09)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_extreme_noise_levels(dtype: torch.dtype) -> None:
    """σ = 1e-4: the denoiser snaps to the nearest point; σ = 1e4: it returns the data mean.
    d = 1024, points ~unit scale, log-sum-exp keeps everything finite."""
    g = torch.Generator().manual_seed(0)
    pts = torch.randn(16, 1024, generator=g, dtype=F64)
    e = EmpiricalDistribution(pts, dtype=dtype)
    tol = numeric.tolerance(dtype)
    near = (pts[:4] + 1e-6 * torch.randn(4, 1024, generator=g, dtype=F64)).to(dtype)
    torch.testing.assert_close(e.denoise(near, 1.0, 1e-4), pts[:4].to(dtype),
                               rtol=tol.rtol, atol=tol.atol)
    far = (100.0 * torch.randn(4, 1024, generator=g, dtype=F64)).to(dtype)
    for x, sigma in ((near, 1e-4), (far, 1e-4), (far, 1e4)):
        for v in (e.log_prob_t(x, 1.0, sigma), e.score_t(x, 1.0, sigma), e.denoise(x, 1.0, sigma)):
            assert bool(torch.isfinite(v).all())
    # σ = 1e4: r_i = softmax(−‖x − x_i‖²/2σ²) deviates from 1/B by O(‖x‖‖x_i‖/σ²) ≈ 3e-3.
    torch.testing.assert_close(e.denoise(far, 1.0, 1e4).double(),
                               pts.mean(0).expand(4, -1), rtol=0, atol=0.05)


def test_device_agrees_with_cpu(device: str) -> None:
    ref = data(5, 6, 3)
    x = xts(ref, 8, 0, 0.7, 0.4)
    for dtype in (F64, torch.float32):
        e = EmpiricalDistribution(ref.points, dtype=dtype, device=device)
        tol = numeric.tolerance(dtype, device)
        for name in ("log_prob_t", "score_t", "denoise"):
            got = getattr(e, name)(x.to(device=device, dtype=dtype), 0.7, 0.4)
            assert got.device.type == torch.device(device).type
            torch.testing.assert_close(got.cpu().double(), getattr(ref, name)(x, 0.7, 0.4),
                                       rtol=tol.rtol, atol=tol.atol)


@pytest.mark.parametrize("points,argument", [
    (torch.zeros(3), "points"), (torch.zeros(0, 2), "points"),
    (torch.tensor([[0.0, float("nan")]]), "points"), ("abc", "points"),
])
def test_bad_points_raise(points: object, argument: str) -> None:
    with pytest.raises(InvalidArgument, match=f"`{argument}`"):
        EmpiricalDistribution(points)


def test_bad_weights_and_calls_raise() -> None:
    with pytest.raises(InvalidArgument, match="`weights`"):
        EmpiricalDistribution(torch.zeros(2, 1), weights=[0.5, 0.6])
    with pytest.raises(InvalidArgument, match="`weights`"):
        EmpiricalDistribution(torch.zeros(2, 1), weights=[0.2, 0.3, 0.5])
    e = data(0, 3, 2)
    with pytest.raises(InvalidArgument, match="`sigma`"):
        e.score_t(torch.zeros(1, 2, dtype=F64), 1.0, 0.0)
    with pytest.raises(InvalidArgument, match="`xt`"):
        e.score_t(torch.zeros(1, 3, dtype=F64), 1.0, 1.0)
    with pytest.raises(InvalidArgument, match="`xt`"):
        e.denoise(torch.zeros(1, 2, dtype=torch.float32), 1.0, 1.0)
    with pytest.raises(InvalidArgument, match="`generator`"):
        e.sample(3, generator="seed")  # type: ignore[arg-type]
