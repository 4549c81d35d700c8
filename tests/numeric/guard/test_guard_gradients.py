"""The gradient check (numeric/guard/_gradients.py): ∇_θ loss = λ(t)·∇_θ SM per t, exactly.

(Named test_guard_gradients.py: tests/numeric/test_gradients.py already holds that basename.)
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from numeric import Schedule, check_loss
from numeric.guard._reference_losses import reference_loss

VP = Schedule.vp_linear()
FAST = {"n_samples": 32}
#: docs/design.md §5: a correct loss's gradient residual ≤ 1e-10 in float64.
CORRECT_MAX = 1e-10


def col(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


@pytest.mark.parametrize(("schedule", "name"), [
    ("vp_linear", "eps"), ("vp_linear", "x0"), ("vp_linear", "v"), ("edm", "edm"),
    ("rectified_flow", "flow_matching"), ("ddpm", "eps"), ("ve", "score")])
def test_correct_losses_have_exact_gradients(schedule: str, name: str) -> None:
    sched = Schedule.named(schedule)
    ref = reference_loss(name, sched)
    report = check_loss(ref.loss, ref.to_score, sched, **FAST)
    assert report.ok, report.summary()
    assert report.gradient_residual is not None
    assert report.gradient_residual <= CORRECT_MAX
    assert "gradient check" in report.summary()


def _eps(pred_of: Any) -> Any:
    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a, s = col(VP.alpha(t), x0), col(VP.sigma(t), x0)
        pred = pred_of(model(a * x0 + s * noise, t), t, x0)
        return ((pred - noise) ** 2).sum(1)
    return loss


EPS_TO_SCORE = reference_loss("eps", VP).to_score


def test_half_detached_prediction_is_named_as_half_the_gradient() -> None:
    loss = _eps(lambda m, t, x0: 0.5 * m + 0.5 * m.detach())
    report = check_loss(loss, EPS_TO_SCORE, VP, **FAST)
    assert not report.ok and report.residual <= 1e-10
    assert "the gradient is 0.5× what the loss value implies" in report.summary()


def test_prediction_detached_for_late_t_is_located() -> None:
    loss = _eps(lambda m, t, x0: torch.where(col(t, x0) >= 0.55, m.detach(), m))
    report = check_loss(loss, EPS_TO_SCORE, VP, times=[0.1, 0.3, 0.5, 0.55, 0.7, 0.9], **FAST)
    assert not report.ok
    assert "no gradient reaches the model for t ≥ 0.55" in report.summary()


def test_loss_without_gradient_is_a_finding() -> None:
    ref = reference_loss("eps", VP)

    def values_only(model: Any, x0: torch.Tensor, t: torch.Tensor,
                    noise: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return ref.loss(model, x0, t, noise)

    report = check_loss(values_only, ref.to_score, VP, **FAST)
    assert not report.ok
    assert "not differentiable in the model's parameters" in report.summary()


def test_models_without_parameters_say_the_check_could_not_run() -> None:
    ref = reference_loss("eps", VP)

    def linear(c: float) -> Any:
        return lambda x, t: c * x + torch.sin(x)

    report = check_loss(ref.loss, ref.to_score, VP, models=[linear(c) for c in (0.1, 0.5, 1.5)],
                        **FAST)
    assert report.ok, report.summary()
    assert report.gradient_residual is None
    assert "the gradient check could not run" in report.summary()


def test_scalar_loss_gradient_is_checked_per_sample() -> None:
    ref = reference_loss("eps", VP)

    def scalar(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return ref.loss(model, x0, t, noise).mean()

    report = check_loss(scalar, ref.to_score, VP, **FAST)
    assert report.ok, report.summary()
    assert report.gradient_residual is not None and report.gradient_residual <= CORRECT_MAX


def test_float32_gradient_check_passes_a_correct_loss() -> None:
    ref = reference_loss("eps", VP)
    report = check_loss(ref.loss, ref.to_score, VP, dtype=torch.float32, **FAST)
    assert report.ok, report.summary()
    assert report.gradient_residual is not None and report.gradient_residual <= 1e-3


class _Energy(torch.nn.Module):
    """E_θ(x) = ½‖xW‖² + Σ tanh(x); its score is −∇_x E (by autograd)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = torch.nn.Parameter(torch.randn(3, 3, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        return ((x @ self.w) ** 2).sum(1) * 0.5 + torch.tanh(x).sum(1)


def _energy_score(model: Any, x: torch.Tensor, t: Any, create_graph: bool) -> torch.Tensor:
    with torch.enable_grad():
        xx = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(model(xx, t).sum(), xx, create_graph=create_graph)
    return -g


@pytest.mark.parametrize("create_graph", [True, False])
def test_energy_models_differentiate_through_the_score(create_graph: bool) -> None:
    ve = Schedule.ve()

    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        sg = col(ve.sigma(t), x0)
        return ((_energy_score(model, x0 + sg * noise, t, True) + noise / sg) ** 2).sum(1)

    report = check_loss(loss, lambda m, x, t: _energy_score(m, x, t, create_graph), ve,
                        models=[_Energy(i) for i in range(4)], n_samples=16)
    assert report.ok, report.summary()
    if create_graph:
        assert report.gradient_residual is not None and report.gradient_residual <= CORRECT_MAX
    else:  # a to_score without a graph: the check says it could not run, never a silent pass
        assert report.gradient_residual is None
        assert "to_score's output carries no gradient" in report.summary()
