"""check_training_step runs check_loss's gradient and per-sample batch checks on the replayed step.

The gradient of the coupled average L̄ (the step replayed with chosen draws, autograd on) must be
λ(t)·∇_θ S per time (docs/design.md §3b "Gradients"); a per-sample step must give each sample the
same value under a permutation of a mixed-t batch and in a smaller batch ("Batches").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from step_kernels import col, vp

from numeric import Schedule, check_training_step

Tensor = torch.Tensor
VP = Schedule.vp_linear()
EXACT = 1e-12






def eps_to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
    return -model(xt, t) / col(vp(t)[1], xt)


def _step(bug: str = "", reduce: str = "none", validated: bool = False
          ) -> Callable[[Any, Tensor], Tensor]:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype) * 0.998 + 1e-3
        noise = torch.randn_like(x0)
        if bug == "noise-std":
            noise = noise / noise.std()
        a, s = (VP.alpha(t), VP.sigma(t)) if validated else vp(t)  # Schedule: no vmap
        pred = model(col(a, x0) * x0 + col(s, x0) * noise, t)
        if bug == "half-detached":
            pred = 0.5 * pred + 0.5 * pred.detach()
        elif bug == "detached-late":
            pred = torch.where((t > 0.5).reshape(-1, 1), pred.detach(), pred)
        err = (pred - noise) ** 2
        if bug == "broadcast":          # σ[:, None, None, None] against [B, D]: [B, 1, B, D]
            per = (s.to(x0.dtype)[:, None, None, None] * err).mean((1, 2, 3)) * x0.shape[1]
        elif bug == "batch-weight":     # a weight normalised by a batch statistic
            per = err.sum(1) * (s / s.mean()).to(x0.dtype)
        else:
            per = err.sum(1)
        return per.mean() if reduce == "mean" else per.sum() if reduce == "sum" else per

    return step


@pytest.mark.parametrize("reduce", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_a_correct_step_passes_the_gradient_check(reduce: str, dtype: torch.dtype) -> None:
    report = check_training_step(_step(reduce=reduce), eps_to_score, dtype=dtype)
    assert report.ok, report.summary()
    assert report.gradient_residual is not None
    assert report.gradient_residual <= (EXACT if dtype == torch.float64 else 1e-5)
    if reduce == "none":
        assert report.batch is not None and report.batch.startswith(
            "per-sample losses unchanged under a permutation")


@pytest.mark.parametrize("reduce", ["mean", "sum"])
def test_the_gradient_check_runs_without_vmap(reduce: str) -> None:
    report = check_training_step(_step(reduce=reduce, validated=True), eps_to_score)
    assert report.ok, report.summary()
    assert "one call per x_t" in report.mode
    assert report.gradient_residual is not None and report.gradient_residual <= EXACT


@pytest.mark.parametrize(("reduce", "validated"), [("none", False), ("mean", False),
                                                   ("mean", True)],
                         ids=["per-sample", "scalar-vmap", "scalar-per-x_t"])
def test_a_half_detached_prediction_fails(reduce: str, validated: bool) -> None:
    report = check_training_step(_step("half-detached", reduce, validated), eps_to_score)
    assert not report.ok
    assert report.residual <= EXACT                      # the values are exact ...
    assert report.gradient_residual is not None
    assert abs(report.gradient_residual - 0.5) < 1e-6    # ... the gradient is half
    assert "the gradient is 0.5× what the loss value implies" in report.summary()
    assert "the gradient of the step is not λ(t)·∇SM" in report.summary()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("reduce", ["none", "sum"])
def test_a_prediction_detached_for_late_t_fails(reduce: str, dtype: torch.dtype) -> None:
    report = check_training_step(_step("detached-late", reduce), eps_to_score, dtype=dtype)
    assert not report.ok
    assert report.gradient_residual is not None and report.gradient_residual > 0.1
    assert "no gradient reaches the model for t ≥ 0.5" in report.summary()


def test_a_step_under_no_grad_is_not_differentiable() -> None:
    inner = _step()

    def step(model: Any, x0: Tensor) -> Tensor:
        with torch.no_grad():
            return inner(model, x0)

    report = check_training_step(step, eps_to_score)
    assert not report.ok
    assert "not differentiable in the model's parameters" in report.summary()


def test_a_per_sample_step_weighted_by_a_batch_statistic_fails() -> None:
    report = check_training_step(_step("batch-weight"), eps_to_score)
    assert not report.ok
    assert report.residual <= EXACT                      # on one mixed batch it looks exact
    assert "depends on other samples in the batch" in report.summary()
    assert "when the batch shrinks" in report.summary()


def test_a_per_sample_step_with_a_sigma_broadcast_fails() -> None:
    report = check_training_step(_step("broadcast"), eps_to_score)
    assert not report.ok


def test_noise_normalised_by_a_batch_statistic_fails() -> None:
    report = check_training_step(_step("noise-std"), eps_to_score)
    assert not report.ok
    assert "batch" in report.summary()


def test_a_batch_statistic_fails_both_entry_points() -> None:
    """The same cross-sample weight, as a loss (check_loss) and inside a step."""
    from numeric import check_loss

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, s = vp(t)
        err = ((model(col(a, x0) * x0 + col(s, x0) * noise, t) - noise) ** 2).sum(1)
        return err * s / s.mean()

    loss_report = check_loss(loss, eps_to_score, VP)
    step_report = check_training_step(_step("batch-weight"), eps_to_score)
    assert not loss_report.ok and not step_report.ok
    assert "depends on other samples" in step_report.summary()
