"""A control variate (a term with mean 0 over the noise) is correct only in expectation: the exact
check fails, says so, and names the mode that decides it (numeric/guard/_diagnose.py)."""

from __future__ import annotations

from typing import Any

import torch

from numeric import Schedule, check_loss
from numeric.guard._reference_losses import reference_loss

VP = Schedule.vp_linear()
EPS = reference_loss("eps", VP)


def col(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


def cv_loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """ε-prediction plus 0.3·ε·(u(x_t) + u(α x0 − σ ε)): under ε → −ε the extra term changes
    sign, so its mean over ε given x0 is 0 and E loss = σ²·SM + const; at a given x_t it is not
    0, so the posterior-coupled values are not λ·SM + c pointwise."""
    a, s = col(VP.alpha(t), x0), col(VP.sigma(t), x0)
    u = model(a * x0 + s * noise, t)
    mirror = model(a * x0 - s * noise, t)
    return ((u - noise) ** 2).sum(1) + 0.3 * (noise * (u + mirror)).sum(1)


def test_control_variate_is_named_and_pointed_to_the_time_mode() -> None:
    report = check_loss(cv_loss, EPS.to_score, VP)
    assert not report.ok
    text = report.summary()
    assert "correct only in expectation" in text
    assert "statistical='time'" in text


def test_the_time_mode_decides_the_control_variate_loss() -> None:
    def step(model: Any, x0: torch.Tensor) -> torch.Tensor:
        t = 0.02 + 0.96 * torch.rand(x0.shape[0], dtype=x0.dtype)
        return cv_loss(model, x0, t, torch.randn_like(x0))

    report = check_loss(step, EPS.to_score, VP, statistical="time", n_samples=64)
    assert report.ok, report.summary()


def test_a_real_bug_is_not_called_a_control_variate() -> None:
    def bug(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a, s = col(VP.alpha(t), x0), col(VP.sigma(t), x0)
        return ((model(a * x0 + s * noise, t) - s * noise) ** 2).sum(1)  # σε for ε

    report = check_loss(bug, EPS.to_score, VP)
    assert not report.ok
    assert "correct only in expectation" not in report.summary()
