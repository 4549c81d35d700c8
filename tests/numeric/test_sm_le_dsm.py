"""Property 1: SM(θ) ≤ DSM(θ) (Jensen; docs/design.md §1, step 5 of §2).

Exactly per x_t with the posterior-coupled set (the gap is a weighted variance, so ≥ 0 up to
rounding), and statistically with plain Monte Carlo: a one-sided z-test at z = 5.3, a false-alarm
rate of at most 1e-7 per assertion (normal approximation of the mean of n ≥ 512 i.i.d. terms).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numeric
from numeric import strategies as sst

Z = 5.3  # one-sided P(Z > 5.3) = 5.8e-8 <= 1e-7


@given(sst.sm_problems())
def test_sm_le_dsm_per_xt_with_posterior_coupling(problem: sst.SMProblem) -> None:
    batch = numeric.coupled_batch(problem.mixture, problem.alpha, problem.sigma, 64,
                                  generator=problem.seed)
    for net in problem.networks:
        dsm = numeric.dsm_coupled(net, batch, problem.t).per_sample.detach()
        sm = numeric.sm_coupled(net, batch, problem.t).per_sample.detach()
        # The gap Σ_m w_m ‖h_m − h̄‖² is a sum of non-negative terms; its computed value can only
        # dip below 0 by rounding of the two sums, ~ 64 ulp of their size.
        tiny = 64 * torch.finfo(dsm.dtype).eps * dsm.abs().clamp_min(1.0)
        worst = int(torch.argmin(dsm - sm + tiny))
        assert bool((dsm - sm >= -tiny).all()), (
            f"got DSM − SM = {float(dsm[worst] - sm[worst])!r} < 0 at x_t #{worst} "
            f"[{problem.mixture!r}, {problem.schedule!r}, t={problem.t}]")


@given(sst.sm_problems(max_networks=2))
def test_sm_le_dsm_plain_monte_carlo(problem: sst.SMProblem) -> None:
    for net in problem.networks:
        dsm = numeric.dsm_mc(net, problem.mixture, problem.schedule, problem.t, n=512,
                             generator=problem.seed)
        sm = numeric.sm_exact(net, problem.mixture, problem.schedule, problem.t, xt=dsm.xt)
        diff = (dsm.per_sample - sm.per_sample).detach()
        se = float(diff.std()) / math.sqrt(diff.numel())
        assert float(diff.mean()) >= -Z * se, (
            f"got DSM − SM = {float(diff.mean())!r}, expected >= 0 within {Z} standard errors "
            f"(se={se!r}) [{problem.schedule!r}, t={problem.t}]")


def test_gap_equals_weighted_variance_of_targets() -> None:
    """The per-x_t gap is Σ_m w_m ‖h_m − h̄‖², the same number computed the other way round."""
    mix = numeric.GaussianMixture([0.4, 0.6], [[0.0, 1.0], [1.5, -1.0]], [0.5, 1.2])
    batch = numeric.coupled_batch(mix, 0.7, 0.5, 32, generator=3, pairs=2)
    net = numeric.random_score_network(1, 2)
    gap = (numeric.dsm_coupled(net, batch, 0.4).per_sample
           - numeric.sm_coupled(net, batch, 0.4).per_sample).detach()
    centred = batch.target - batch.score.unsqueeze(1)
    variance = batch.expect((centred * centred).sum(-1))
    torch.testing.assert_close(gap, variance, rtol=1e-12, atol=1e-12)


@given(n=st.integers(max_value=0))
def test_bad_n_names_the_argument(n: int) -> None:
    mix = numeric.GaussianMixture([1.0], [[0.0]], [1.0])
    net = numeric.random_score_network(0, 1)
    for call in (lambda: numeric.dsm_mc(net, mix, (0.5, 0.5), 0.1, n=n),
                 lambda: numeric.sm_exact(net, mix, (0.5, 0.5), 0.1, n=n),
                 lambda: numeric.coupled_batch(mix, 0.5, 0.5, n, generator=0)):
        with pytest.raises(numeric.InvalidArgument, match=r"argument `n`.*Fix"):
            call()


def test_bad_schedule_and_batch_name_the_argument() -> None:
    mix = numeric.GaussianMixture([1.0], [[0.0]], [1.0])
    net = numeric.random_score_network(0, 1)
    with pytest.raises(numeric.InvalidArgument, match="argument `schedule`"):
        numeric.dsm_mc(net, mix, "vp", 0.1)
    with pytest.raises(numeric.InvalidArgument, match="argument `sigma`"):
        numeric.dsm_mc(net, mix, (0.5, -1.0), 0.1)
    with pytest.raises(numeric.InvalidArgument, match="argument `batch`"):
        numeric.dsm_coupled(net, mix, 0.1)  # type: ignore[arg-type]
    with pytest.raises(numeric.InvalidArgument, match="argument `distribution`"):
        numeric.coupled_batch(object(), 0.5, 0.5, 4, generator=0)
    with pytest.raises(numeric.InvalidArgument, match="argument `pairs`"):
        numeric.coupled_batch(mix, 0.5, 0.5, 4, generator=0, pairs=0)
