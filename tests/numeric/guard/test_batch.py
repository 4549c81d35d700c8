"""The batch checks (numeric/guard/_batch.py): a sample's loss must not depend on its batch."""

from __future__ import annotations

from typing import Any

import torch

from numeric import Schedule, check_loss
from numeric.guard._reference_losses import reference_loss

VP = Schedule.vp_linear()
REF = reference_loss("eps", VP)
FAST = {"n_samples": 32}


def test_scalar_mean_and_sum_are_told_apart() -> None:
    def mean(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return REF.loss(model, x0, t, noise).mean()

    def total(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return REF.loss(model, x0, t, noise).sum()

    r_mean = check_loss(mean, REF.to_score, VP, **FAST)
    r_sum = check_loss(total, REF.to_score, VP, **FAST)
    assert r_mean.ok and r_sum.ok
    assert r_mean.batch is not None and "mean of its per-sample values" in r_mean.batch
    assert r_sum.batch is not None and "sum of its per-sample values" in r_sum.batch


def test_per_sample_loss_is_checked_under_permutation_and_size() -> None:
    report = check_loss(REF.loss, REF.to_score, VP, **FAST)
    assert report.ok
    assert report.batch is not None and "permutation" in report.batch


def test_scalar_image_indexing_broadcast_is_caught() -> None:
    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a = VP.alpha(t).to(x0.dtype)[:, None]
        xt = a * x0 + VP.sigma(t).to(x0.dtype)[:, None] * noise
        target = (xt - a * x0) / VP.sigma(t).to(x0.dtype)[:, None, None, None]  # [B, 1, B, D]
        return ((model(xt, t) - target) ** 2).mean()

    report = check_loss(loss, REF.to_score, VP, **FAST)
    assert not report.ok and report.residual <= 1e-10  # per sample it is exact
    assert "a sample's loss depends on other samples in the batch" in report.summary()
    assert "sigma[:, None, None, None]" in report.summary()


def test_mean_over_a_b_by_b_loss_is_caught() -> None:
    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        w = (1 + t).to(x0.dtype)[:, None]
        return (w * REF.loss(model, x0, t, noise)).mean()  # [B, 1] * [B] -> [B, B]

    report = check_loss(loss, REF.to_score, VP, **FAST)
    assert not report.ok
    assert "depends on other samples in the batch" in report.summary()


def test_per_sample_loss_using_a_batch_statistic_is_caught() -> None:
    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        per = REF.loss(model, x0, t, noise)
        return per + 0.1 * per.mean()  # bug: every sample sees the batch mean

    report = check_loss(loss, REF.to_score, VP, **FAST)
    assert not report.ok
    assert "depends on other samples in the batch" in report.summary()
