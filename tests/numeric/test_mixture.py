"""numeric.GaussianMixture: exact p_t, score, posterior, J(p_t) and C(t) against independent routes.

Independent routes: autograd of log p_t; torch.distributions densities; the posterior in precision
form (Σ⁻¹ + α²/σ² I)⁻¹ by torch.linalg.solve; Tweedie's formula; plain Monte Carlo. Statistical
assertions use z ≤ 5.3 (two-sided false-alarm rate ≈ 1.2e-7 per assertion; Bonferroni-multiplied
by the number of coordinates where stated).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numeric
from numeric import GaussianMixture, Posterior

F64 = torch.float64
TOL = numeric.tolerance(F64)
Z = 5.3


def make_mixture(seed: int, k: int, d: int, kind: str, *, spread: float = 2.0,
                 dtype: torch.dtype = F64, device: str = "cpu") -> GaussianMixture:
    """A well-conditioned random mixture built from torch.Generator(seed)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(k, generator=g, dtype=F64) + 0.2
    means = spread * torch.randn(k, d, generator=g, dtype=F64)
    if kind == "isotropic":
        covs = torch.rand(k, generator=g, dtype=F64) + 0.3
    elif kind == "diagonal":
        covs = torch.rand(k, d, generator=g, dtype=F64) + 0.3
    else:
        a = torch.randn(k, d, d, generator=g, dtype=F64) / math.sqrt(d)
        covs = a @ a.mT + 0.3 * torch.eye(d, dtype=F64)
    return GaussianMixture(w / w.sum(), means, covs, dtype=dtype, device=device)


def full_covs(mix: GaussianMixture) -> torch.Tensor:
    c = mix.covs
    if mix.cov_kind == "isotropic":
        return c[:, None, None] * torch.eye(mix.dim, dtype=c.dtype, device=c.device)
    if mix.cov_kind == "diagonal":
        return torch.diag_embed(c)
    return c


KINDS = ["isotropic", "diagonal", "full"]
mixtures = st.builds(make_mixture, st.integers(0, 2**31 - 1), st.integers(1, 3),
                     st.integers(1, 4), st.sampled_from(KINDS))
kernels = st.tuples(st.floats(0.05, 2.0), st.floats(0.05, 3.0))
seeds = st.integers(0, 2**31 - 1)


def points(mix: GaussianMixture, n: int, seed: int, alpha: float, sigma: float) -> torch.Tensor:
    return mix.sample_xt(n, alpha, sigma, generator=torch.Generator().manual_seed(seed))[2]


@given(mixtures, kernels, seeds)
def test_score_is_the_gradient_of_log_p_t(mix: GaussianMixture, ker: tuple[float, float],
                                          seed: int) -> None:
    alpha, sigma = ker
    x = points(mix, 6, seed, alpha, sigma).requires_grad_(True)
    (grad,) = torch.autograd.grad(mix.log_prob_t(x, alpha, sigma).sum(), x)
    torch.testing.assert_close(mix.score_t(x, alpha, sigma), grad, rtol=1e-9, atol=1e-9)


@given(mixtures, kernels, seeds)
def test_log_p_t_matches_torch_distributions(mix: GaussianMixture, ker: tuple[float, float],
                                             seed: int) -> None:
    alpha, sigma = ker
    x = points(mix, 6, seed, alpha, sigma)
    eye = torch.eye(mix.dim, dtype=F64)
    comps = torch.distributions.MultivariateNormal(alpha * mix.means,
                                                   alpha**2 * full_covs(mix) + sigma**2 * eye)
    ref = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(mix.weights), comps)
    torch.testing.assert_close(mix.log_prob_t(x, alpha, sigma), ref.log_prob(x),
                               rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(mix.marginal(alpha, sigma).log_prob(x),
                               mix.log_prob_t(x, alpha, sigma), rtol=TOL.rtol, atol=1e-11)


@given(mixtures, kernels, seeds)
def test_posterior_matches_the_precision_form(mix: GaussianMixture, ker: tuple[float, float],
                                              seed: int) -> None:
    """P_k = Σ_k⁻¹ + (α²/σ²)I, m_k = P_k⁻¹(Σ_k⁻¹μ_k + (α/σ²)x_t), w_k ∝ π_k N(x_t; αμ_k, ·)."""
    alpha, sigma = ker
    x = points(mix, 5, seed, alpha, sigma)
    post = mix.posterior(x, alpha, sigma)
    sig = full_covs(mix)
    eye = torch.eye(mix.dim, dtype=F64)
    prec = torch.linalg.inv(sig) + alpha**2 / sigma**2 * eye
    cov = torch.linalg.inv(prec)
    rhs = torch.linalg.solve(sig, mix.means.unsqueeze(-1)).squeeze(-1)      # Σ⁻¹μ, [K, d]
    rhs = rhs + alpha / sigma**2 * x.unsqueeze(-2)                          # [n, K, d]
    means = torch.einsum("kde,nke->nkd", cov, rhs)
    comps = torch.distributions.MultivariateNormal(alpha * mix.means,
                                                   alpha**2 * sig + sigma**2 * eye)
    logw = torch.log(mix.weights) + comps.log_prob(x.unsqueeze(-2))
    weights = torch.softmax(logw, -1)
    torch.testing.assert_close(post.weights, weights, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(post.weights.sum(-1), torch.ones(5, dtype=F64), rtol=0, atol=1e-14)
    torch.testing.assert_close(post.means, means, rtol=1e-8, atol=1e-9)
    got_cov = post.covs if post.covs.dim() == 3 else torch.diag_embed(post.covs)
    torch.testing.assert_close(got_cov, cov, rtol=1e-8, atol=1e-10)
    assert isinstance(post, Posterior)


@given(mixtures, kernels, seeds)
def test_posterior_mean_is_tweedie(mix: GaussianMixture, ker: tuple[float, float],
                                   seed: int) -> None:
    """E[x0|x_t] = (x_t + σ²∇log p_t)/α (Efron 2011)."""
    alpha, sigma = ker
    x = points(mix, 8, seed, alpha, sigma)
    tweedie = (x + sigma**2 * mix.score_t(x, alpha, sigma)) / alpha
    torch.testing.assert_close(mix.denoise(x, alpha, sigma), tweedie, rtol=1e-9, atol=1e-9)


@given(mixtures, kernels, seeds)
def test_posterior_sample_and_sqrt_are_consistent(mix: GaussianMixture, ker: tuple[float, float],
                                                  seed: int) -> None:
    alpha, sigma = ker
    post = mix.posterior(points(mix, 3, seed, alpha, sigma), alpha, sigma)
    basis = torch.eye(mix.dim, dtype=F64)[:, None, :].expand(-1, mix.n_components, -1)
    root = post.cov_sqrt_mul(basis).permute(1, 2, 0)  # root[k][:, j] = C_k^{1/2} e_j
    got = root @ root.mT
    want = post.covs if post.covs.dim() == 3 else torch.diag_embed(post.covs)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    x0 = post.sample(generator=torch.Generator().manual_seed(seed))
    assert x0.shape == (3, mix.dim) and bool(torch.isfinite(x0).all())
    assert post.trace_cov.shape == (3,) and bool((post.trace_cov > 0).all())


@given(mixtures, kernels, seeds)
def test_posterior_noise_means(mix: GaussianMixture, ker: tuple[float, float], seed: int) -> None:
    """noise_means_k = (x_t − α m_k)/σ, and Σ_k w_k noise_means_k = E[ε|x_t] = −σ∇log p_t."""
    alpha, sigma = ker
    x = points(mix, 5, seed, alpha, sigma)
    post = mix.posterior(x, alpha, sigma)
    naive = (x.unsqueeze(-2) - alpha * post.means) / sigma
    torch.testing.assert_close(post.noise_means, naive, rtol=1e-8, atol=1e-8)
    eps_mean = torch.einsum("nk,nkd->nd", post.weights, post.noise_means)
    torch.testing.assert_close(eps_mean, -sigma * mix.score_t(x, alpha, sigma),
                               rtol=TOL.rtol, atol=TOL.atol)


def test_noise_means_are_accurate_at_tiny_sigma() -> None:
    """At σ = 1e-7 the naive (x_t − α m_k)/σ loses ~9 digits; noise_means keeps E[ε|x_t] =
    −σ∇log p_t to float64 rounding."""
    mix = make_mixture(5, 2, 3, "full")
    x = points(mix, 6, 0, 0.9, 1e-7)
    post = mix.posterior(x, 0.9, 1e-7)
    eps_mean = torch.einsum("nk,nkd->nd", post.weights, post.noise_means)
    torch.testing.assert_close(eps_mean, -1e-7 * mix.score_t(x, 0.9, 1e-7),
                               rtol=TOL.rtol, atol=TOL.atol)


def test_batched_leading_dimensions() -> None:
    mix = make_mixture(3, 2, 3, "full")
    x = points(mix, 12, 0, 0.8, 0.6)
    shaped = x.reshape(3, 4, 3)
    torch.testing.assert_close(mix.score_t(shaped, 0.8, 0.6).reshape(12, 3),
                               mix.score_t(x, 0.8, 0.6))
    assert mix.log_prob_t(shaped, 0.8, 0.6).shape == (3, 4)
    post = mix.posterior(shaped, 0.8, 0.6)
    assert post.weights.shape == (3, 4, 2) and post.means.shape == (3, 4, 2, 3)
    assert post.mean.shape == (3, 4, 3)


@pytest.mark.parametrize("kind", KINDS)
def test_sampling_moments(kind: str) -> None:
    """Mean and E‖x − m‖² of x0 and of x_t = αx0 + σε, each a z-test at |z| ≤ 5.3 (two-sided
    false-alarm ≈ 1.2e-7 per coordinate; d + 2 assertions per case)."""
    mix = make_mixture(11, 3, 3, kind)
    alpha, sigma, n = 0.7, 0.5, 40_000
    x0, eps, xt = mix.sample_xt(n, alpha, sigma, generator=torch.Generator().manual_seed(5))
    mean0 = mix.weights @ mix.means
    cov0 = torch.einsum("k,kde->de", mix.weights, full_covs(mix)
                        + torch.einsum("kd,ke->kde", mix.means - mean0, mix.means - mean0))
    cov_t = alpha**2 * cov0 + sigma**2 * torch.eye(3, dtype=F64)
    for sample, mean, cov in ((x0, mean0, cov0), (xt, alpha * mean0, cov_t)):
        err = sample.mean(0) - mean
        se = sample.std(0) / math.sqrt(n)
        assert bool((err.abs() <= Z * se).all()), f"mean off: z = {(err / se).tolist()}"
        sq = ((sample - mean) ** 2).sum(-1)
        z = (sq.mean() - torch.trace(cov)) / (sq.std() / math.sqrt(n))
        assert abs(float(z)) <= Z, f"E‖x − m‖² off: z = {float(z)}"
    torch.testing.assert_close(xt, alpha * x0 + sigma * eps, rtol=0, atol=0)


def test_sampling_is_replayable_from_the_generator() -> None:
    mix = make_mixture(2, 3, 2, "diagonal")
    a = mix.sample(50, generator=torch.Generator().manual_seed(9))
    b = mix.sample(50, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b) and torch.equal(a, mix.sample(50, generator=9))
    assert not torch.equal(a, mix.sample(50, generator=torch.Generator().manual_seed(10)))


@given(st.integers(0, 2**31 - 1), st.integers(1, 5), st.sampled_from(KINDS), kernels)
def test_single_gaussian_constant_is_the_closed_form(seed: int, d: int, kind: str,
                                                     ker: tuple[float, float]) -> None:
    """K = 1: C = d/σ² − tr((α²Σ + σ²I)⁻¹) exactly, J = tr((α²Σ + σ²I)⁻¹), no Monte Carlo."""
    alpha, sigma = ker
    mix = make_mixture(seed, 1, d, kind)
    eye = torch.eye(d, dtype=F64)
    trace = torch.trace(torch.linalg.inv(alpha**2 * full_covs(mix)[0] + sigma**2 * eye))
    c, err = mix.constant(alpha, sigma, return_stderr=True)
    torch.testing.assert_close(c, d / sigma**2 - trace, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(mix.fisher_information(alpha, sigma), trace, rtol=1e-10, atol=0)
    assert float(err) == 0.0


@given(mixtures, kernels, seeds)
def test_fisher_plus_constant_is_d_over_sigma2(mix: GaussianMixture, ker: tuple[float, float],
                                               seed: int) -> None:
    alpha, sigma = ker
    c = mix.constant(alpha, sigma, n=64, generator=seed)
    j = mix.fisher_information(alpha, sigma, n=64, generator=seed)
    assert float(c) >= 0 and float(j) >= 0
    torch.testing.assert_close(c + j, torch.tensor(mix.dim / sigma**2, dtype=F64),
                               rtol=TOL.rtol, atol=TOL.atol)


def test_identical_components_give_the_single_gaussian_constant() -> None:
    """The between-component term vanishes exactly when all components coincide."""
    one = make_mixture(4, 1, 3, "full")
    three = GaussianMixture(torch.tensor([0.2, 0.3, 0.5]), one.means.expand(3, -1),
                            one.covs.expand(3, -1, -1))
    c3, err = three.constant(0.6, 0.4, n=256, return_stderr=True)
    torch.testing.assert_close(c3, one.constant(0.6, 0.4), rtol=TOL.rtol, atol=TOL.atol)
    assert float(err) <= 1e-12


@pytest.mark.parametrize("kind", KINDS)
def test_constant_and_fisher_agree_with_plain_monte_carlo(kind: str) -> None:
    """J = E‖∇log p_t‖² and C = (α²/σ⁴) E tr Cov(x0|x_t), by plain MC on independent draws:
    |difference| ≤ 5.3 combined standard errors (false-alarm ≈ 1.2e-7 each)."""
    mix = make_mixture(21, 3, 2, kind, spread=1.0)
    alpha, sigma, n = 0.8, 0.7, 20_000
    c, c_err = mix.constant(alpha, sigma, n=n, generator=1, return_stderr=True)
    j, j_err = mix.fisher_information(alpha, sigma, n=n, generator=1, return_stderr=True)
    xt = points(mix, n, 2, alpha, sigma)
    sq = (mix.score_t(xt, alpha, sigma) ** 2).sum(-1)
    tr = alpha**2 / sigma**4 * mix.posterior(xt, alpha, sigma).trace_cov
    for est, err, samples in ((j, j_err, sq), (c, c_err, tr)):
        z = (est - samples.mean()) / torch.sqrt(err**2 + samples.var() / n)
        assert abs(float(z)) <= Z, f"z = {float(z)}"
    assert float(c_err) > 0  # K = 3 really is estimated


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("sigma", [1e-4, 1.0, 1e4])
@pytest.mark.parametrize("gap", ["100sigma", "100scale"])
def test_extremes_stay_finite(dtype: torch.dtype, sigma: float, gap: str) -> None:
    """d = 1024 (diagonal), σ ∈ {1e-4, 1, 1e4}, components 100σ apart (or 100× their scale)."""
    d, k = 1024, 3
    g = torch.Generator().manual_seed(0)
    scale = sigma if gap == "100sigma" else 1.0
    means = torch.zeros(k, d, dtype=F64)
    means[:, 0] = torch.tensor([0.0, 100.0, 200.0]) * scale
    covs = (torch.rand(k, d, generator=g, dtype=F64) + 0.5) * scale**2
    mix = GaussianMixture(torch.tensor([0.3, 0.3, 0.4]), means, covs, dtype=dtype)
    xt = mix.sample_xt(32, 1.0, sigma, generator=1)[2]
    far = xt + 50.0 * max(sigma, scale)  # off every component
    for x in (xt, far):
        post = mix.posterior(x, 1.0, sigma)
        outs = {"log_prob_t": mix.log_prob_t(x, 1.0, sigma), "score_t": mix.score_t(x, 1.0, sigma),
                "weights": post.weights, "means": post.means, "trace_cov": post.trace_cov}
        for name, v in outs.items():
            assert bool(torch.isfinite(v).all()), f"{name} not finite"
        tol = numeric.tolerance(dtype)
        torch.testing.assert_close(post.weights.sum(-1), torch.ones(32, dtype=dtype),
                                   rtol=0, atol=10 * tol.rtol)
    c, err = mix.constant(1.0, sigma, n=64, return_stderr=True)
    j = mix.fisher_information(1.0, sigma, n=64)
    assert bool(torch.isfinite(c) & torch.isfinite(j) & torch.isfinite(err))
    assert float(c) >= 0 and float(j) > 0


@given(st.integers(0, 2**31 - 1), st.sampled_from(KINDS))
def test_float32_agrees_with_float64(seed: int, kind: str) -> None:
    mix64 = make_mixture(seed, 2, 3, kind)
    mix32 = mix64.to(dtype=torch.float32)
    x = points(mix64, 8, seed, 0.9, 0.8)
    tol = numeric.tolerance(torch.float32)
    for name in ("log_prob_t", "score_t", "denoise"):
        got = getattr(mix32, name)(x.float(), 0.9, 0.8)
        torch.testing.assert_close(got.double(), getattr(mix64, name)(x, 0.9, 0.8),
                                   rtol=tol.rtol, atol=tol.atol)


@pytest.mark.parametrize("kind", KINDS)
def test_device_agrees_with_cpu_float64(kind: str, device: str) -> None:
    """On every device, float64 and float32 agree with CPU float64 within numeric.tolerance."""
    ref = make_mixture(8, 3, 4, kind)
    x = points(ref, 16, 3, 0.7, 0.4)
    for dtype in (F64, torch.float32):
        mix = ref.to(dtype=dtype, device=device)
        assert mix.device.type == torch.device(device).type
        xd = x.to(device=device, dtype=dtype)
        tol = numeric.tolerance(dtype, device)
        for name in ("log_prob_t", "score_t", "denoise"):
            got = getattr(mix, name)(xd, 0.7, 0.4)
            assert got.device.type == torch.device(device).type
            torch.testing.assert_close(got.cpu().double(), getattr(ref, name)(x, 0.7, 0.4),
                                       rtol=tol.rtol, atol=tol.atol)
        c = mix.constant(0.7, 0.4, n=2)
        assert c.device.type == torch.device(device).type and bool(torch.isfinite(c))
        s = mix.sample(4, generator=torch.Generator(device=device).manual_seed(0))
        assert s.device.type == torch.device(device).type and s.dtype == dtype


def test_mixture_is_immutable() -> None:
    mix = make_mixture(0, 2, 2, "diagonal")
    with pytest.raises(AttributeError):
        mix.weights = torch.ones(2)  # type: ignore[misc]
    assert "GaussianMixture(n_components=2, dim=2" in repr(mix)
    assert (mix.dim, mix.n_components, mix.dtype) == (2, 2, F64)
