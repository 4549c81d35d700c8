"""The statistical modes cannot pass garbage (numeric/guard/_statistical.py, _time_sampling.py),
and every mode's hint points to the mode that fits what was observed."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

import numeric
from numeric import Schedule, check_loss
from numeric.guard._reference_losses import implicit_sm_loss, reference_loss, sliced_sm_loss
from numeric.guard._statistical import LAMBDA_RANGE, lambda_finding

VP = Schedule.vp_linear()
SMALL = {"n_samples": 16}


def identity_score(model: Any, x: torch.Tensor, t: Any) -> torch.Tensor:
    return model(x, t)


def test_nan_loss_is_an_error_naming_loss() -> None:
    def loss(model: Any, x: torch.Tensor) -> torch.Tensor:
        return sliced_sm_loss(model, x) * float("nan")

    with pytest.raises(numeric.InvalidArgument, match=r"`loss`.*NaN"):
        check_loss(loss, identity_score, None, statistical=True, **SMALL)


def test_inf_score_is_an_error_naming_to_score() -> None:
    def to_score(model: Any, x: torch.Tensor, t: Any) -> torch.Tensor:
        return model(x, t) / 0.0

    with pytest.raises(numeric.InvalidArgument, match=r"`to_score`.*NaN or inf"):
        check_loss(sliced_sm_loss, to_score, None, statistical=True, **SMALL)


def test_to_score_ignoring_the_model_is_an_error() -> None:
    with pytest.raises(numeric.InvalidArgument, match=r"`to_score`.*does not depend on the model"):
        check_loss(sliced_sm_loss, lambda m, x, t: -x, None, statistical=True, **SMALL)


def test_loss_ignoring_the_model_is_an_error() -> None:
    def loss(model: Any, x: torch.Tensor) -> torch.Tensor:
        return (x**2).sum(-1) + torch.randn(x.shape[0], dtype=x.dtype)

    with pytest.raises(numeric.InvalidArgument, match=r"`loss`.*does not depend on the model"):
        check_loss(loss, identity_score, None, statistical=True, **SMALL)


@pytest.mark.parametrize("lam", [math.inf, math.nan, 1e9, 1e-9])
def test_implausible_lambda_is_a_finding(lam: float) -> None:
    text = lambda_finding(lam, 1e-12, 1e12)
    assert text is not None and "plausible" in text
    assert f"{LAMBDA_RANGE[0]:.0e}" in text


def test_lambda_at_the_edge_of_the_search_is_a_finding() -> None:
    assert lambda_finding(0.01, 0.01, 100.0) is not None
    assert lambda_finding(100.0, 0.01, 100.0) is not None
    assert lambda_finding(0.5, 0.01, 100.0) is None


def test_correct_data_losses_still_pass() -> None:
    report = check_loss(implicit_sm_loss, identity_score, None, statistical=True, n_samples=64)
    assert report.ok, report.summary()


def test_time_sampling_loss_in_data_mode_points_to_the_time_mode() -> None:
    ref = reference_loss("eps", VP)

    def step(model: Any, x0: torch.Tensor) -> torch.Tensor:
        t = 0.05 + 0.9 * torch.rand(x0.shape[0], dtype=x0.dtype)
        return ref.loss(model, x0, t, torch.randn_like(x0))

    try:
        report = check_loss(step, identity_score, None, statistical=True, **SMALL)
    except numeric.InvalidArgument as exc:
        assert "statistical='time'" in str(exc)
    else:
        assert not report.ok
        assert "statistical='time'" in report.summary(), report.summary()


def test_data_loss_in_time_mode_points_to_the_data_mode() -> None:
    with pytest.raises(numeric.InvalidArgument, match=r"`loss`.*statistical=True"):
        check_loss(implicit_sm_loss, identity_score, VP, statistical="time", **SMALL)


def test_training_step_in_the_exact_mode_points_to_the_time_mode() -> None:
    ref = reference_loss("eps", VP)

    def step(model: Any, x0: torch.Tensor) -> torch.Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        return ref.loss(model, x0, t, torch.randn_like(x0))

    with pytest.raises(numeric.InvalidArgument, match=r"`loss`.*statistical='time'"):
        check_loss(step, ref.to_score, VP)


def test_random_loss_in_the_exact_mode_points_to_the_time_mode() -> None:
    ref = reference_loss("eps", VP)

    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return ref.loss(model, x0, t, torch.randn_like(noise))

    report = check_loss(loss, ref.to_score, VP, n_samples=16)
    assert not report.ok
    assert "statistical='time'" in report.summary()
    assert "statistical=True" not in report.summary()


def test_time_mode_refuses_nan_scores() -> None:
    def to_score(model: Any, x: torch.Tensor, t: Any) -> torch.Tensor:
        return -model(x, t) / VP.sigma(torch.as_tensor(t).reshape(-1))[:, None] * float("nan")

    ref = reference_loss("eps", VP)

    def step(model: Any, x0: torch.Tensor) -> torch.Tensor:
        t = 0.05 + 0.9 * torch.rand(x0.shape[0], dtype=x0.dtype)
        return ref.loss(model, x0, t, torch.randn_like(x0))

    with pytest.raises(numeric.InvalidArgument, match=r"`to_score`"):
        check_loss(step, to_score, VP, statistical="time", **SMALL)
