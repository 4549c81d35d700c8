"""Declare once, prove and measure: the closed forms proved in ``proofs`` (lambdified SymPy)
against numeric's oracles (declared once in proofs/, measured here: docs/design.md §2).

Each test names the closed form it evaluates; a missing name fails (undecided is not a pass).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numeric
import proofs
from numeric import GaussianMixture, Schedule

F64 = torch.float64
TOL = numeric.tolerance(F64)
Z = 5.3  # two-sided false-alarm ≈ 1.2e-7 per statistical assertion


def form(name: str, **values: Any) -> np.ndarray:
    """proofs.closed_form(name) evaluated with NumPy, broadcast to a float64 array."""
    return np.asarray(proofs.closed_form(name)(**values), dtype=np.float64)


def close(got: torch.Tensor, want: np.ndarray | float, *, rtol: float = TOL.rtol,
          atol: float = TOL.atol) -> None:
    want_t = torch.tensor(np.broadcast_to(np.asarray(want, dtype=np.float64), got.shape).copy())
    torch.testing.assert_close(got.to(F64).cpu(), want_t, rtol=rtol, atol=atol)


# ---- Gaussian data -----------------------------------------------------------------------
pos = st.floats(0.05, 5.0)


@given(pos, pos, pos, st.integers(1, 6))
def test_gaussian_constant_isotropic(alpha: float, sigma: float, s: float, d: int) -> None:
    """C = d/σ² − d/(α²s² + σ²) for p_0 = N(μ, s²I), vs GaussianMixture K = 1."""
    mix = GaussianMixture([1.0], torch.zeros(1, d), torch.tensor([s * s], dtype=F64))
    close(mix.constant(alpha, sigma), form("gaussian_constant_isotropic", alpha=alpha,
                                           sigma=sigma, s=s, d=d), rtol=1e-10)


@given(pos, pos, pos)
def test_gaussian_constant_1d(alpha: float, sigma: float, tau: float) -> None:
    mix = GaussianMixture([1.0], [[0.3]], [tau * tau])
    close(mix.constant(alpha, sigma), form("gaussian_constant_1d", alpha=alpha, sigma=sigma,
                                           tau=tau), rtol=1e-10)


@given(pos, pos, pos, st.floats(-3, 3), st.floats(-5, 5))
def test_gaussian_posterior_1d(alpha: float, sigma: float, tau: float, mu: float,
                               x: float) -> None:
    mix = GaussianMixture([1.0], [[mu]], [tau * tau])
    post = mix.posterior(torch.tensor([[x]], dtype=F64), alpha, sigma)
    close(post.mean[0, 0], form("gaussian_posterior_mean_1d", alpha=alpha, sigma=sigma, tau=tau,
                                mu=mu, x=x), rtol=1e-10, atol=1e-12)
    close(post.covs[0, 0], form("gaussian_posterior_variance_1d", alpha=alpha, sigma=sigma,
                                tau=tau), rtol=1e-10)


@pytest.mark.parametrize("seed,alpha,sigma", [(0, 0.9, 0.3), (1, 0.2, 2.0), (2, 1.0, 1e-2)])
def test_tweedie_mean(seed: int, alpha: float, sigma: float) -> None:
    """E[x0|x_t] = (x_t + σ² score)/α, with the closed form applied coordinate-wise."""
    g = torch.Generator().manual_seed(seed)
    mix = GaussianMixture(torch.tensor([0.4, 0.6]), torch.randn(2, 3, generator=g),
                          torch.rand(2, 3, generator=g) + 0.2)
    x = mix.sample_xt(4, alpha, sigma, generator=g)[2]
    score = mix.score_t(x, alpha, sigma)
    want = form("tweedie_mean", alpha=alpha, sigma=sigma, x=x.numpy(), score=score.numpy())
    close(mix.denoise(x, alpha, sigma), want, rtol=1e-9, atol=1e-9)


# ---- schedules ---------------------------------------------------------------------------
# (schedule, closed-form prefix, params of the closed forms, which of alpha/sigma/g2 exist)
SCHEDULES = [
    (Schedule.vp_linear(), "vp_linear", {"beta_min": 0.1, "beta_max": 20.0}, "alpha sigma g2"),
    (Schedule.vp_linear(0.5, 5.0), "vp_linear", {"beta_min": 0.5, "beta_max": 5.0},
     "alpha sigma g2"),
    (Schedule.vp_cosine(), "vp_cosine", {"s": 0.008}, "alpha sigma g2"),
    (Schedule.ve(), "ve", {"sigma_min": 0.01, "sigma_max": 50.0}, "sigma g2"),
    (Schedule.sub_vp(), "subvp", {"beta_min": 0.1, "beta_max": 20.0}, "alpha sigma g2"),
    (Schedule.edm(), "edm", {}, "sigma g2"),
    (Schedule.rectified_flow(), "rectified_flow", {}, "alpha sigma g2"),
]


@pytest.mark.parametrize("sched,prefix,params,names", SCHEDULES,
                         ids=[f"{p}-{i}" for i, (_, p, _, _) in enumerate(SCHEDULES)])
def test_schedule_closed_forms(sched: Schedule, prefix: str, params: dict[str, float],
                               names: str) -> None:
    t = sched.grid(17)
    for name in names.split():
        want = form(f"{prefix}_{name}", t=t.numpy(), **params)
        close(getattr(sched, name)(t), want, rtol=1e-12, atol=0.0)
    # α = 1 where the closed forms declare only σ (VE, EDM).
    if "alpha" not in names:
        close(sched.alpha(t), 1.0, rtol=0.0, atol=0.0)
    close(sched.log_snr(t), form("log_snr", alpha=sched.alpha(t).numpy(),
                                 sigma=sched.sigma(t).numpy()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("beta_schedule", ["linear", "scaled_linear", "squaredcos_cap_v2"])
def test_ddpm_closed_forms(beta_schedule: str) -> None:
    sched = Schedule.ddpm(beta_schedule=beta_schedule)
    t = sched.grid(50)
    abar = (sched.alpha(t) ** 2).numpy()
    close(sched.alpha(t), form("ddpm_alpha", alpha_bar=abar), rtol=1e-14, atol=0.0)
    close(sched.sigma(t), form("ddpm_sigma", alpha_bar=abar), rtol=1e-10, atol=0.0)


# ---- mixtures: the high-precision constant ---------------------------------------------
@pytest.mark.parametrize("weights,means,variances,alpha,sigma", [
    ([0.3, 0.7], [-1.0, 2.0], [0.5, 1.5], 0.8, 0.6),
    ([0.5, 0.5], [-3.0, 3.0], [0.2, 0.2], 1.0, 1.0),
    ([0.2, 0.3, 0.5], [0.0, 1.0, 4.0], [1.0, 0.1, 2.0], 0.5, 0.3),
])
def test_mixture_constant_against_mpmath(weights: list[float], means: list[float],
                                         variances: list[float], alpha: float,
                                         sigma: float) -> None:
    """1-D mixtures: proofs.mixture_constant (C as a quadrature in mpmath) vs the Monte Carlo
    oracle, |difference| ≤ 5.3 standard errors (false-alarm ≈ 1.2e-7)."""
    exact = float(proofs.mixture_constant(
        weights, means, variances, alpha, sigma))
    mix = GaussianMixture(weights, [[m] for m in means], [[v] for v in variances])
    est, err = mix.constant(alpha, sigma, n=100_000, generator=7, return_stderr=True)
    assert float(err) > 0
    z = (float(est) - exact) / float(err)
    assert abs(z) <= Z, f"got {float(est)} ± {float(err)}, expected {exact}: z = {z:.2f}"
    assert math.isfinite(exact)


def test_mixture_constant_in_three_dimensions() -> None:
    """d = 3, means on a line, equal isotropic variances (reducible to a 1-D quadrature)."""
    weights, means, variances = [0.25, 0.75], [[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], [0.4, 0.4]
    exact = float(proofs.mixture_constant(
        weights, means, variances, 0.9, 0.5))
    mix = GaussianMixture(weights, means, variances)
    est, err = mix.constant(0.9, 0.5, n=100_000, generator=3, return_stderr=True)
    z = (float(est) - exact) / float(err)
    assert abs(z) <= Z, f"got {float(est)} ± {float(err)}, expected {exact}: z = {z:.2f}"
