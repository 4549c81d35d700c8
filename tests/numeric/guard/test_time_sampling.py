"""The statistical mode for losses that draw t and the noise themselves (numeric/_time_sampling.py).

Each assertion on a verdict uses the mode's paired z-test at |z| ≥ 5.3 (false-alarm rate ≈ 1e-7
per direction, four directions); the draws are seeded, so the verdicts are also deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import numeric

SCHEDULE = numeric.Schedule.vp_linear()
Loss = Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]


def _eps_loss(bug: str | None = None) -> Loss:
    """A diffusers-style ε loss that draws t ~ U(0.02, 0.98) and ε itself (global RNG)."""

    def loss(model: torch.nn.Module, x0: torch.Tensor) -> torch.Tensor:
        t = 0.02 + 0.96 * torch.rand(x0.shape[0], dtype=x0.dtype)
        alpha, sigma = SCHEDULE.alpha(t)[:, None], SCHEDULE.sigma(t)[:, None]
        eps = torch.randn_like(x0)
        xt = (x0 if bug == "alpha-dropped" else alpha * x0) + sigma * eps
        target = {"sigma-scaled": sigma * eps, "noise-redrawn": torch.randn_like(x0),
                  "negated": -((model(xt, t) - eps) ** 2)}.get(bug or "", eps)
        if bug == "negated":
            return target.mean(-1)
        return ((model(xt, t) - target) ** 2).mean(-1)

    return loss


def _eps_to_score(model: Callable[..., torch.Tensor], xt: torch.Tensor,
                  t: torch.Tensor) -> torch.Tensor:
    return -model(xt, t) / SCHEDULE.sigma(torch.as_tensor(t).reshape(-1))[:, None]


def test_correct_time_sampling_loss_passes() -> None:
    report = numeric.check_loss(_eps_loss(), _eps_to_score, SCHEDULE, statistical="time",
                                n_samples=64)
    assert report.ok, report.summary()
    assert "t sampled by the loss" in report.mode


@pytest.mark.parametrize("bug", ["sigma-scaled", "alpha-dropped", "noise-redrawn", "negated"])
def test_time_sampling_bugs_are_caught(bug: str) -> None:
    report = numeric.check_loss(_eps_loss(bug), _eps_to_score, SCHEDULE, statistical="time",
                                n_samples=64)
    assert not report.ok, report.summary()
    assert report.findings


def test_loss_ignoring_the_model_is_rejected() -> None:
    def constant(model: torch.nn.Module, x0: torch.Tensor) -> torch.Tensor:
        return (x0**2).sum(-1) + torch.rand(x0.shape[0], dtype=x0.dtype)

    with pytest.raises(numeric.InvalidArgument, match=r"`loss`.*does not depend on the model"):
        numeric.check_loss(constant, _eps_to_score, SCHEDULE, statistical="time", n_samples=8)


def test_unknown_statistical_mode_is_rejected() -> None:
    with pytest.raises(numeric.InvalidArgument, match="`statistical`"):
        numeric.check_loss(_eps_loss(), _eps_to_score, SCHEDULE, statistical="sometimes")
