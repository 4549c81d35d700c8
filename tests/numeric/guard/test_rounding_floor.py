"""Times where float64 cannot resolve a loss are left out of the verdict, never decided by rounding.

A score-parametrised DSM loss ‖s + ε/σ‖² (Vincent 2011, λ = 1) at σ = 1e-8 is 1e16 times its
model-dependent part: the coupled difference L̄_j − L̄_0 is below rounding, so neither PASS nor FAIL
can be said there. The guard measures that floor from the loss itself, checks the other times
and names the ones it left out; with none left it is an error.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import numeric
from numeric.guard._reference_losses import reference_loss

SCHEDULE = numeric.Schedule.edm(sigma_min=1e-12, sigma_max=1e6)
TIMES = [1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0, 100.0]
Tensor = torch.Tensor


def _score_loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    s = t.reshape(-1, 1)
    return ((model(x0 + s * noise, t) + noise / s) ** 2).sum(1)


def _sigma_squared_bug(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    s = t.reshape(-1, 1)
    return ((model(x0 + s * s * noise, t) + noise / s) ** 2).sum(1)


def _to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
    return model(xt, t)


def test_a_correct_score_loss_passes_down_to_sigma_1e_minus_10() -> None:
    report = numeric.check_loss(_score_loss, _to_score, SCHEDULE, times=TIMES)
    assert report.ok, report.summary()
    assert report.matched == "score"
    (note,) = [w for w in report.warnings if w.startswith("not checked")]
    assert "t=1e-10" in note and "t=1e-08" in note
    assert 1e-10 not in report.residuals and 1.0 in report.residuals


def test_a_bug_still_fails_on_the_times_that_can_be_resolved() -> None:
    report = numeric.check_loss(_sigma_squared_bug, _to_score, SCHEDULE, times=TIMES)
    assert not report.ok
    assert report.residual > 1e-2


def test_no_resolvable_time_is_an_error_not_a_verdict() -> None:
    with pytest.raises(numeric.InvalidArgument, match=r"`times`.*below rounding"):
        numeric.check_loss(_score_loss, _to_score, SCHEDULE, times=[1e-10, 1e-9])


def test_well_conditioned_losses_keep_the_base_threshold() -> None:
    ref = reference_loss("eps", numeric.Schedule.vp_linear())
    report = numeric.check_loss(ref.loss, ref.to_score, numeric.Schedule.vp_linear())
    assert report.ok and not [w for w in report.warnings if w.startswith("not checked")]
    assert report.threshold == pytest.approx(1e-7)
