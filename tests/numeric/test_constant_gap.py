"""Properties 2 and 3: DSM(θ) − SM(θ) is θ-free, and equals C(t) (Vincent 2011, eq. 11).

Posterior-coupled evaluation (docs/design.md §3) makes the θ-freeness exact on the same x_t:
the spread over θ is rounding, ≤ 1e-12 relative to DSM in float64. Plain Monte Carlo is checked by
paired two-sided z-tests at |z| ≤ 5.3 (false-alarm rate ≤ 1.2e-7 per assertion).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given

import numeric
import proofs
from numeric import strategies as sst

Z = 5.3  # two-sided P(|Z| > 5.3) = 1.2e-7
SPREAD = 1e-12  # relative θ-spread allowed for the coupled gap in float64 (rounding is ~1e-15)


def _spread(gaps: list[torch.Tensor], scale: torch.Tensor) -> float:
    stack = torch.stack(gaps)
    return float(((stack.max(0).values - stack.min(0).values) / scale).max())


@given(sst.sm_problems())
def test_coupled_gap_is_theta_free_per_xt(problem: sst.SMProblem) -> None:
    batch = numeric.coupled_batch(problem.mixture, problem.alpha, problem.sigma, 64,
                                  generator=problem.seed)
    gaps, scale = [], torch.zeros(64, dtype=torch.float64)
    for net in problem.networks:
        dsm = numeric.dsm_coupled(net, batch, problem.t).per_sample.detach()
        # SM from the mixture's own exact score (not from the coupled set): ties the set to p_t
        sm = numeric.sm_exact(net, problem.mixture, (problem.alpha, problem.sigma), problem.t,
                              xt=batch.xt)
        gaps.append(dsm - sm.per_sample.detach())
        scale = torch.maximum(scale, dsm.abs())
    spread = _spread(gaps, scale.clamp_min(1.0))
    assert spread <= SPREAD, (f"got a θ-spread of DSM − SM of {spread:.3e} relative, expected "
                              f"<= {SPREAD:.0e} [{problem.schedule!r}, t={problem.t}]")


@given(sst.sm_problems(min_networks=2, max_networks=2))
def test_plain_mc_gap_is_theta_free_paired(problem: sst.SMProblem) -> None:
    """With common random numbers the per-sample difference of gaps has mean 0 exactly."""
    net_a, net_b = problem.networks
    gaps = []
    for net in (net_a, net_b):
        dsm = numeric.dsm_mc(net, problem.mixture, problem.schedule, problem.t, n=512,
                             generator=problem.seed)
        sm = numeric.sm_exact(net, problem.mixture, problem.schedule, problem.t, xt=dsm.xt)
        gaps.append((dsm.per_sample - sm.per_sample).detach())
    diff = gaps[0] - gaps[1]
    se = float(diff.std()) / math.sqrt(diff.numel())
    assert abs(float(diff.mean())) <= Z * se + 1e-12 * float(gaps[0].abs().mean()), (
        f"got a θ-difference of DSM − SM of {float(diff.mean())!r}, expected 0 within {Z} "
        f"standard errors (se={se!r})")


def test_gap_constant_along_a_training_trajectory() -> None:
    """Train with plain-MC DSM (Adam, 30 steps); on one coupled batch the gap never moves and SM
    goes down."""
    mix = numeric.GaussianMixture([0.3, 0.7], [[-1.0, 0.5], [1.5, -0.5]], [0.3, 0.6])
    sched = numeric.Schedule.vp_linear()
    t = 0.3
    a, s = sched.kernel(t)
    batch = numeric.coupled_batch(mix, a, s, 256, generator=11)
    net = numeric.random_score_network(5, 2, width=16)
    opt = torch.optim.Adam(net.parameters(), lr=3e-2)
    g = torch.Generator().manual_seed(12)
    sms, gaps, scale = [], [], torch.zeros(256, dtype=torch.float64)
    for _ in range(30):
        with torch.no_grad():
            dsm_c = numeric.dsm_coupled(net, batch, t).per_sample
            sm_c = numeric.sm_exact(net, mix, (a, s), t, xt=batch.xt).per_sample
        sms.append(float(sm_c.mean()))
        gaps.append(dsm_c - sm_c)
        scale = torch.maximum(scale, dsm_c.abs())
        opt.zero_grad()
        numeric.dsm_mc(net, mix, sched, t, n=128, generator=g).value.backward()
        opt.step()
    spread = _spread(gaps, scale.clamp_min(1.0))
    assert spread <= SPREAD, f"got a θ-spread along training of {spread:.3e}, expected <= 1e-12"
    assert sms[-1] < 0.5 * sms[0], f"got SM {sms[0]!r} -> {sms[-1]!r}, expected it to halve"


def _closed_form(name: str) -> proofs.ClosedForm:
    if name not in proofs.CLOSED_FORMS:
        pytest.skip(f"proofs has not declared the closed form {name!r}")
    return proofs.closed_form(name)


@given(sst.gaussian_mixtures(max_components=1, covariance="isotropic"), sst.noise_schedules())
def test_gaussian_constant_matches_the_proved_closed_form(
        mix: numeric.GaussianMixture, sched: numeric.Schedule) -> None:
    form = _closed_form("gaussian_constant_isotropic")
    t = sched.grid(3)[1]
    a, s = (float(v) for v in sched.kernel(t))
    std = math.sqrt(float(mix.covs.reshape(-1)[0]))
    expected = float(form(alpha=a, sigma=s, s=std, d=mix.dim))
    got = float(mix.constant(a, s))
    assert math.isclose(got, expected, rel_tol=1e-10), f"got C = {got!r}, expected {expected!r}"
    # and the coupled gap, a Monte Carlo mean over x_t, agrees statistically
    batch = numeric.coupled_batch(mix, a, s, 256, generator=0, pairs=4)
    net = numeric.random_score_network(0, mix.dim)
    gap = (numeric.dsm_coupled(net, batch, t).per_sample
           - numeric.sm_coupled(net, batch, t).per_sample).detach()
    se = float(gap.std()) / math.sqrt(gap.numel())
    assert abs(float(gap.mean()) - expected) <= Z * se + 1e-10 * expected, (
        f"got a coupled gap {float(gap.mean())!r}, expected C = {expected!r} (se={se!r})")


@given(sst.sm_problems(min_networks=1, max_networks=1, max_dim=2))
def test_gap_equals_d_over_sigma2_minus_fisher(problem: sst.SMProblem) -> None:
    """DSM − SM = d/σ² − J(p_t) for any mixture (plain MC on both sides; independent draws)."""
    mix, net = problem.mixture, problem.networks[0]
    dsm = numeric.dsm_mc(net, mix, problem.schedule, problem.t, n=1024, generator=problem.seed)
    sm = numeric.sm_exact(net, mix, problem.schedule, problem.t, xt=dsm.xt)
    gap = (dsm.per_sample - sm.per_sample).detach()
    j, j_se = mix.fisher_information(problem.alpha, problem.sigma, n=1024,
                                     generator=problem.seed + 1, return_stderr=True)
    expected = mix.dim / problem.sigma**2 - float(j)
    se = math.hypot(float(gap.std()) / math.sqrt(gap.numel()), float(j_se))
    assert abs(float(gap.mean()) - expected) <= Z * se + 1e-9 * mix.dim / problem.sigma**2, (
        f"got DSM − SM = {float(gap.mean())!r}, expected d/σ² − J = {expected!r} (se={se!r})")


def test_mixture_gap_matches_high_precision_constant() -> None:
    """C(t) of a 1-D two-component mixture by mpmath quadrature vs the coupled gap (MC in x_t)
    and vs GaussianMixture.constant (exact in x0, MC in x_t): two-sided z-tests."""
    weights, means, variances = [0.3, 0.7], [-1.0, 2.0], [0.25, 1.0]
    mix = numeric.GaussianMixture(weights, [[m] for m in means], variances)
    a, s = 0.8, 0.6
    expected = float(proofs.mixture_constant(weights, means, variances, a, s))
    batch = numeric.coupled_batch(mix, a, s, 4096, generator=1)
    net = numeric.random_score_network(2, 1)
    gap = (numeric.dsm_coupled(net, batch, 0.5).per_sample
           - numeric.sm_coupled(net, batch, 0.5).per_sample).detach()
    se = float(gap.std()) / math.sqrt(gap.numel())
    assert abs(float(gap.mean()) - expected) <= Z * se, (
        f"got a coupled gap {float(gap.mean())!r}, expected {expected!r} (se={se!r})")
    value, err = mix.constant(a, s, n=4096, generator=2, return_stderr=True)
    assert abs(float(value) - expected) <= Z * float(err) + 1e-12 * expected, (
        f"got GaussianMixture.constant = {float(value)!r}, expected {expected!r}")


def test_coupled_set_is_the_exact_posterior_in_mean_and_in_law() -> None:
    mix = numeric.GaussianMixture([0.5, 0.5], [[0.0, 1.0], [1.0, -1.0]],
                                  [[[1.0, 0.4], [0.4, 0.6]], [[0.3, 0.0], [0.0, 0.8]]])
    a, s = 0.8, 0.7
    batch = numeric.coupled_batch(mix, a, s, 8, generator=4, pairs=2000)
    post = mix.posterior(batch.xt, a, s)
    torch.testing.assert_close(batch.weights.sum(1), torch.ones(8, dtype=torch.float64))
    torch.testing.assert_close(a * batch.x0 + s * batch.eps, batch.xt.unsqueeze(1).expand_as(
        batch.x0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(batch.expect(batch.x0), post.mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(batch.score, mix.score_t(batch.xt, a, s), rtol=1e-10, atol=1e-12)
    # second moments are right in law (4000 points per component: a few % error)
    centred = batch.x0 - post.mean.unsqueeze(1)
    tr_cov = batch.expect((centred * centred).sum(-1))
    torch.testing.assert_close(tr_cov, post.trace_cov, rtol=0.1, atol=0.0)


def test_coupled_set_of_a_data_set_is_its_dirac_posterior() -> None:
    points = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    data = numeric.EmpiricalDistribution(points)
    batch = numeric.coupled_batch(data, 0.9, 0.4, 16, generator=2)
    assert batch.x0.shape == (16, 7, 3)
    torch.testing.assert_close(batch.score, data.score_t(batch.xt, 0.9, 0.4),
                               rtol=1e-10, atol=1e-12)
