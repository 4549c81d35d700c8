"""numeric.strategies: drawn objects respect their bounds; bad arguments raise InvalidArgument."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import numeric
from numeric import strategies as sst


@given(sst.gaussian_mixtures(min_dim=2, max_dim=3, max_components=2, max_mean=1.5,
                             min_std=0.5, max_std=1.0))
def test_mixtures_respect_their_bounds(mix: numeric.GaussianMixture) -> None:
    assert 2 <= mix.dim <= 3 and 1 <= mix.n_components <= 2
    assert float(mix.means.abs().max()) <= 1.5
    covs = mix.covs if mix.covs.dim() == 3 else torch.diag_embed(
        mix.covs if mix.covs.dim() == 2 else mix.covs[:, None].expand(-1, mix.dim))
    eig = torch.linalg.eigvalsh(covs)
    assert float(eig.min()) >= 0.25 * (1 - 1e-9) and float(eig.max()) <= 1.0 * (1 + 1e-9)
    torch.testing.assert_close(mix.weights.sum(), torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
def test_covariance_kind_is_honoured(kind: str) -> None:
    @given(sst.gaussian_mixtures(covariance=kind))
    def check(mix: numeric.GaussianMixture) -> None:
        assert mix.cov_kind == kind

    check()


@given(st.data())
def test_times_are_interior_and_kernels_finite(data: st.DataObject) -> None:
    sched = data.draw(sst.noise_schedules())
    t = data.draw(sst.times(sched, margin=0.05))
    assert sched.t_min < t < sched.t_max
    a, s = (float(v) for v in sched.kernel(t))
    assert 0 < a and 0 < s and math.isfinite(a / s)


@given(sst.noise_schedules(kinds=["ve", "edm"]))
def test_schedule_kinds_restrict(sched: numeric.Schedule) -> None:
    assert sched.name in ("ve", "edm")


@given(sst.sm_problems())
def test_problems_are_consistent(problem: sst.SMProblem) -> None:
    a, s = problem.schedule.kernel(problem.t)
    assert (problem.alpha, problem.sigma) == (float(a), float(s))
    assert 2 <= len(problem.networks) <= 3
    assert all(net.dim == problem.mixture.dim for net in problem.networks)


BAD_ARGUMENTS = [
    'sst.gaussian_mixtures(min_dim=3, max_dim=2)',
    'sst.gaussian_mixtures(min_dim=0)',
    'sst.gaussian_mixtures(min_components=2, max_components=1)',
    'sst.gaussian_mixtures(min_std=2.0, max_std=1.0)',
    'sst.gaussian_mixtures(min_std=0.0)',
    'sst.gaussian_mixtures(max_mean=math.inf)',
    'sst.gaussian_mixtures(covariance="banded")',
    'sst.gaussian_mixtures(dtype=torch.int32)',
    'sst.noise_schedules(kinds="ve")',
    'sst.noise_schedules(kinds=["vp"])',
    'sst.noise_schedules(kinds=[])',
    'sst.times(numeric.Schedule.ve(), margin=0.5)',
    'sst.times("ve")',
    'sst.score_networks(0)',
    'sst.score_networks(2, min_width=8, max_width=4)',
    'sst.score_networks(2, activations=["sigmoid"])',
    'sst.sm_problems(min_networks=0)',
    'sst.sm_problems(margin=-0.1)',
]


@pytest.mark.parametrize("call", BAD_ARGUMENTS)
def test_bad_strategy_arguments_raise_invalid_argument(call: str) -> None:
    with pytest.raises(InvalidArgument):
        eval(call, {"sst": sst, "math": math, "torch": torch, "numeric": numeric}).validate()
