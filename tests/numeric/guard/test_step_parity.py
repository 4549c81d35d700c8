"""check_training_step gives check_loss's verdicts: every correct reference loss and every affine
mutant of tests/quality, wrapped as an unmodified training step that draws t and the noise."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from numeric import Schedule, check_loss, check_training_step
from numeric.guard._reference_losses import reference_loss

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "quality"))
from mutants import CORRECT, MUTANTS

Tensor = torch.Tensor
EXACT = 1e-12


def as_step(loss: Callable[..., Tensor], schedule: Schedule) -> Callable[[Any, Tensor], Tensor]:
    """The loss(model, x0, t, noise) of a training loop, with its t and noise drawn inside."""
    def step(model: Any, x0: Tensor) -> Tensor:
        b = x0.shape[0]
        if schedule.discrete:
            t = torch.randint(0, int(schedule.t_max) + 1, (b,))
        else:
            lo, hi = float(schedule.t_min), float(schedule.t_max)
            u = torch.rand(b, dtype=x0.dtype)
            t = lo + (hi - lo) * (1e-3 + (1 - 2e-3) * u)
        return loss(model, x0, t, torch.randn_like(x0))

    return step


@pytest.mark.parametrize(("sched_name", "name"), CORRECT, ids=[f"{n}[{s}]" for s, n in CORRECT])
def test_correct_losses_pass_as_steps_with_the_same_weighting(sched_name: str, name: str) -> None:
    sched = Schedule.named(sched_name)
    ref = reference_loss(name, sched)
    explicit = check_loss(ref.loss, ref.to_score, sched)
    to_score = ref.to_score if name != "edm" else _model_input_score(ref.to_score, sched,
                                                                     dict(ref.params))
    report = check_training_step(as_step(ref.loss, sched), to_score, schedule=sched,
                                 n_samples=4)
    assert explicit.ok and report.ok, report.summary()
    assert report.residual <= EXACT
    if name == "edm":         # λ is measured for the model's input c_in·x_t (below)
        assert "preconditioning" in " ".join(report.notes)
    else:
        assert report.matched == explicit.matched == ref.weighting


def _model_input_score(to_score: Callable[..., Tensor], sched: Schedule,
                       params: dict[str, float]) -> Callable[..., Tensor]:
    """EDM's step feeds the model c_in·x_t, and check_training_step hands to_score what the model
    received: the score of x_in = c_in·x_t is the score of x_t divided by c_in."""
    sd = params["sigma_data"]

    def score_of_input(model: Any, x_in: Tensor, t: Tensor) -> Tensor:
        c_in = (1 / torch.sqrt(sched.sigma(t) ** 2 + sd**2)).reshape(-1, 1).to(x_in.dtype)
        return to_score(model, x_in / c_in, t) / c_in

    return score_of_input


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.kind == "affine"], ids=repr)
def test_affine_mutants_are_caught_as_steps(mutant: Any) -> None:
    sched = mutant.schedule()
    report = check_training_step(as_step(mutant.loss, sched), mutant.to_score, schedule=sched,
                                 n_times=4, n_samples=4)
    assert not report.ok, report.summary()
