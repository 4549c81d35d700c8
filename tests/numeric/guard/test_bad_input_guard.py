"""Every misuse of check_loss raises a SmeqError naming the argument and the fix."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from numeric import GaussianMixture, Schedule, ShapeError, SmeqError, check_loss
from numeric.guard._reference_losses import reference_loss

SCHED = Schedule.vp_linear()
EPS = reference_loss("eps", SCHED)
SMALL: dict[str, Any] = {"n_samples": 8, "n_times": 3, "n_models": 3}


def _raises(argument: str, *args: Any, cls: type[Exception] = SmeqError, **kwargs: Any) -> str:
    with pytest.raises(cls) as info:
        check_loss(*args, **{**SMALL, **kwargs})
    text = str(info.value)
    assert f"argument `{argument}`" in text and "Fix:" in text, text
    return text


def test_non_callable_loss_and_to_score() -> None:
    _raises("loss", 3.0, EPS.to_score, SCHED)
    _raises("to_score", EPS.loss, "score", SCHED)


def test_loss_with_the_wrong_shape() -> None:
    def per_dim(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> Any:
        return (model(x0, t) - noise) ** 2  # [B, D]: forgot to reduce

    _raises("loss", per_dim, EPS.to_score, SCHED, cls=ShapeError)


def test_loss_returning_nan() -> None:
    def nan_loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> Any:
        return EPS.loss(model, x0, t, noise) * float("nan")

    assert "NaN" in _raises("loss", nan_loss, EPS.to_score, SCHED)


def test_loss_that_ignores_the_model() -> None:
    def detached(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> Any:
        return (noise**2).sum(1)

    assert "does not depend on the model" in _raises("loss", detached, EPS.to_score, SCHED)


def test_loss_that_raises_is_reported_with_the_call() -> None:
    def broken(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> Any:
        raise RuntimeError("shapes do not broadcast")

    assert "shapes do not broadcast" in _raises("loss", broken, EPS.to_score, SCHED)


def test_to_score_with_the_wrong_shape() -> None:
    _raises("to_score", EPS.loss, lambda m, x, t: m(x, t)[:, :1], SCHED, cls=ShapeError)


def test_times_outside_the_schedule() -> None:
    _raises("times", EPS.loss, EPS.to_score, Schedule.rectified_flow(), times=[0.0, 0.5, 0.9])


def test_schedule_with_zero_sigma_on_the_grid() -> None:
    class Linear:
        def alpha(self, t: torch.Tensor) -> torch.Tensor:
            return 1 - t

        def sigma(self, t: torch.Tensor) -> torch.Tensor:
            return t

    text = _raises("schedule", EPS.loss, EPS.to_score, Linear(), times=[0.0, 0.5, 0.9])
    assert "σ(t) = 0.0" in text


def test_schedule_that_is_not_a_schedule() -> None:
    _raises("schedule", EPS.loss, EPS.to_score, 42)


def test_unknown_expected_weighting() -> None:
    _raises("expected_weighting", EPS.loss, EPS.to_score, SCHED, expected_weighting="snr")


def test_too_few_models_and_identical_models() -> None:
    _raises("models", EPS.loss, EPS.to_score, SCHED, models=[torch.nn.Identity()])

    def same(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x

    _raises("models", EPS.loss, EPS.to_score, SCHED, models=[same, same, same])


def test_data_of_the_wrong_dimension() -> None:
    mix = GaussianMixture([1.0], [[0.0, 0.0]], [1.0])
    _raises("data", EPS.loss, EPS.to_score, SCHED, data=mix, dim=3)


def test_bad_sizes() -> None:
    _raises("n_samples", EPS.loss, EPS.to_score, SCHED, n_samples=1)
    _raises("image_shape", EPS.loss, EPS.to_score, SCHED, image_shape=(0, 3))


def test_statistical_loss_with_the_wrong_shape() -> None:
    def bad(model: Any, x: torch.Tensor) -> torch.Tensor:
        return model(x, torch.zeros(x.shape[0], dtype=x.dtype))

    _raises("loss", bad, lambda m, x, t: m(x, t), None, statistical=True, cls=ShapeError)
