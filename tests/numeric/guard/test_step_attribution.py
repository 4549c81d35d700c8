"""Errors are reported against the argument that caused them (issue 8, item 6)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import numeric
from numeric import SmeqError, check_loss

Tensor = torch.Tensor
TABLE = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)


def table_add_noise(x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
    abar = TABLE[t].reshape(-1, 1)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    return ((model(table_add_noise(x0, noise, t), t) - noise) ** 2).sum(1)


def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
    return -model(xt, t) / (1 - TABLE[t].reshape(-1, 1)).sqrt()


def test_discrete_add_noise_names_integer_timesteps() -> None:
    with pytest.raises(SmeqError, match=r"argument `schedule`: add_noise.*float times.*Fix: pass "
                       r"integer timesteps.*Schedule\.from_alphas_cumprod"):
        check_loss(loss, to_score, table_add_noise)
    assert check_loss(loss, to_score, table_add_noise, times=[10, 500, 900]).ok


def test_an_exception_in_add_noise_is_reported_against_the_schedule() -> None:
    def broken(x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        raise ZeroDivisionError("inside add_noise")

    with pytest.raises(SmeqError, match=r"argument `schedule`: add_noise\(x0, noise, t\) raised "
                       "ZeroDivisionError") as info:
        check_loss(loss, to_score, broken, times=[0.1, 0.5])
    assert "argument `times`" not in str(info.value)


def test_time_mode_reports_a_to_score_failure_against_to_score() -> None:
    sched = numeric.Schedule.vp_linear()

    def sampled(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype) * 0.98 + 0.01
        noise = torch.randn_like(x0)
        xt = sched.alpha(t)[:, None] * x0 + sched.sigma(t)[:, None] * noise
        return ((model(xt, t) - noise) ** 2).sum(1)

    def broken(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        raise KeyError("inside to_score")

    with pytest.raises(SmeqError, match=r"^argument `to_score`: raised KeyError"):
        check_loss(sampled, broken, sched, statistical="time")
