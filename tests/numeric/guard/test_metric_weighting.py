"""Metric weightings diag Λ(t), the scale of expected_weighting, and the velocity weighting of any
(α, σ) path (numeric/guard/_weightings.py, _expected.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import sympy as sp
import torch

import numeric
from numeric import Schedule, check_loss
from numeric.guard._reference_losses import reference_loss

VP = Schedule.vp_linear()
FAST = {"n_samples": 32}


def col(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


def _metric_loss(weights: torch.Tensor) -> Any:
    """(s − h)ᵀ diag(w)(s − h) with a score model: a weighted SM with Λ = diag(w)."""
    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a, s = col(VP.alpha(t), x0), col(VP.sigma(t), x0)
        sq = (model(a * x0 + s * noise, t) + noise / s) ** 2
        return (weights.to(x0) * sq).flatten(1).sum(1)
    return loss


def test_diagonal_metric_weighting_passes_and_is_reported() -> None:
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    report = check_loss(_metric_loss(w), lambda m, x, t: m(x, t), VP, **FAST)
    assert report.ok, report.summary()
    assert report.metric is not None and report.matched is None
    for diag in report.metric.values():
        assert diag == pytest.approx([1.0, 2.0, 3.0], rel=1e-8)
    assert "metric weighting diag Λ(t)" in report.summary()
    assert report.gradient_residual is not None and report.gradient_residual <= 1e-10


def test_metric_that_is_not_positive_fails() -> None:
    w = torch.tensor([1.0, -0.5, 3.0], dtype=torch.float64)
    report = check_loss(_metric_loss(w), lambda m, x, t: m(x, t), VP, **FAST)
    assert not report.ok
    assert "not positive definite" in report.summary()


def test_metric_per_channel_for_image_shapes() -> None:
    w = torch.tensor([0.5, 2.0], dtype=torch.float64).reshape(2, 1, 1)
    report = check_loss(_metric_loss(w), lambda m, x, t: m(x, t), VP, image_shape=(2, 2, 2),
                        **FAST)
    assert report.ok, report.summary()
    assert report.metric is not None
    assert next(iter(report.metric.values())) == pytest.approx([0.5, 2.0], rel=1e-8)
    assert "per channel" in (report.matched_text or "")


def test_expected_scale_catches_a_loss_five_times_too_large() -> None:
    ref = reference_loss("eps", VP)

    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return 5.0 * ref.loss(model, x0, t, noise)

    def sigma2(t: torch.Tensor) -> torch.Tensor:
        return VP.sigma(t) ** 2

    shape_only = check_loss(loss, ref.to_score, VP, expected_weighting=sigma2, **FAST)
    assert shape_only.ok
    scaled = check_loss(loss, ref.to_score, VP, expected_weighting=sigma2, expected_scale=1.0,
                        **FAST)
    assert not scaled.ok
    assert "5× it" in scaled.summary() and "expected_scale=1" in scaled.summary()
    right = check_loss(ref.loss, ref.to_score, VP, expected_weighting="eps", expected_scale=1.0,
                       **FAST)
    assert right.ok, right.summary()


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, "big", True])
def test_bad_expected_scale_names_the_argument(bad: Any) -> None:
    ref = reference_loss("eps", VP)
    with pytest.raises(numeric.InvalidArgument, match="`expected_scale`"):
        check_loss(ref.loss, ref.to_score, VP, expected_weighting="eps", expected_scale=bad,
                   n_samples=8)


def test_expected_scale_without_a_weighting_names_the_argument() -> None:
    ref = reference_loss("eps", VP)
    with pytest.raises(numeric.InvalidArgument, match=r"`expected_scale`.*expected_weighting"):
        check_loss(ref.loss, ref.to_score, VP, expected_scale=1.0, n_samples=8)


def _velocity_case(alpha: Any, sigma: Any, dalpha: Any, dsigma: Any) -> tuple[Any, Any]:
    """Flow matching on the path x_t = α x0 + σ ε with target u = α̇ x0 + σ̇ ε; score from
    u = (α̇/α) x_t − σ(σ̇ − α̇σ/α)·s."""
    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a, s = col(alpha(t), x0), col(sigma(t), x0)
        da, ds = col(dalpha(t), x0), col(dsigma(t), x0)
        return ((model(a * x0 + s * noise, t) - (da * x0 + ds * noise)) ** 2).sum(1)

    def to_score(model: Any, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s = col(alpha(t), xt), col(sigma(t), xt)
        da, ds = col(dalpha(t), xt), col(dsigma(t), xt)
        return (da / a * xt - model(xt, t)) / (s * (ds - da * s / a))
    return loss, to_score


HALF_PI = math.pi / 2
PATHS = {
    # flow_matching-library style schedulers with the data at α (t = 1 is data there; here α
    # and σ are any differentiable functions, which is all the weighting needs)
    "cosine": (lambda t: torch.sin(HALF_PI * t), lambda t: torch.cos(HALF_PI * t),
               lambda t: HALF_PI * torch.cos(HALF_PI * t),
               lambda t: -HALF_PI * torch.sin(HALF_PI * t)),
    "polynomial": (lambda t: t**3, lambda t: 1 - t**3, lambda t: 3 * t**2, lambda t: -3 * t**2),
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_velocity_on_any_path_is_named_by_the_general_formula(path: str) -> None:
    alpha, sigma, dalpha, dsigma = PATHS[path]
    sched = Schedule.from_functions(alpha, sigma, name=path, t_min=0.05, t_max=0.95)
    loss, to_score = _velocity_case(alpha, sigma, dalpha, dsigma)
    report = check_loss(loss, to_score, sched, expected_weighting="velocity",
                        expected_scale=1.0, **FAST)
    assert report.ok, report.summary()
    assert report.matched == "velocity"
    assert "α̇" in (report.matched_text or "")


def test_velocity_weighting_is_the_general_formula() -> None:
    """u = α̇x0 + σ̇ε against û: ‖û − u‖² = λ‖s − h‖² with λ = σ²(α̇σ − ασ̇)²/α² (symbolic)."""
    a, s, da, ds, xt, sc, h = sp.symbols("alpha sigma dalpha dsigma x_t s h", real=True)
    eps = -s * h
    x0 = (xt - s * eps) / a
    u = da * x0 + ds * eps
    u_hat = u.subs(h, sc)  # the same map applied to the model's score s
    lam = s**2 * (da * s - a * ds) ** 2 / a**2
    assert sp.simplify(sp.expand((u_hat - u) ** 2 - lam * (sc - h) ** 2)) == 0
