"""toy-gradlogp: ``Trainer.dsm_loss`` and ``deen_loss`` (posterior-coupled), ``ssm_loss`` and
``ssm_vr_loss`` (statistical mode), on the library's own ``Energy(ToyMLP)`` models.

dsm: ½‖s + v/σ‖² → λ = ½ (Vincent 2011, eq. 11, with the library's ½). deen: ½‖σ²s + σv‖² →
λ = σ⁴/2, the x0 weighting σ⁴/α² at α = 1 (Saremi et al. 2018). The sliced losses' expectation
is ½ SM(θ) − ½ J(p) when E[vvᵀ] = I (Song et al. 2019, eq. 8); their statistical test has a
false-alarm rate ≈ 1e-7 per model (|z| ≥ 5.3, numeric.guard._statistical).
"""

from __future__ import annotations

import math
from typing import Any

import adapt_toy_gradlogp as adapt
import pytest
import torch
from _verdict import Record, check

import numeric

pytestmark = pytest.mark.integration

DIM = 3
#: σ = t on [0.05, 1]: the library's default σ = 0.1 and the scales around it.
SCHEDULE = numeric.Schedule.edm(sigma_min=0.05, sigma_max=1.0)
TIMES = [0.05, 0.1, 0.3, 1.0]


@pytest.fixture(scope="module")
def models(toy_gradlogp: Any) -> list[Any]:
    return [adapt.energy_model(seed, DIM) for seed in range(4)]


@pytest.mark.parametrize(("method", "weighting"), [("dsm_loss", "score"), ("deen_loss", "x0")])
def test_noisy_losses(models: list[Any], record_property: Record, method: str,
                      weighting: str) -> None:
    # The losses are batch means (scalars), so the guard calls them per sample: few samples.
    report = check(record_property, f"toy-gradlogp Trainer.{method}", adapt.noisy_loss(method),
                   adapt.score, SCHEDULE, models=models, times=TIMES, dim=DIM, n_samples=8,
                   expected_weighting=weighting)
    assert report.ok and report.matched == weighting, report.summary()
    assert report.scale is not None and math.isclose(report.scale, 0.5, rel_tol=1e-6)


@pytest.mark.parametrize(("loss_type", "noise_type"), [
    ("ssm", "gaussian"), ("ssm-vr", "gaussian"), ("ssm", "radermacher")])
def test_sliced_losses_in_statistical_mode(models: list[Any],
                                           record_property: Record,
                                           loss_type: str, noise_type: str) -> None:
    report = check(record_property, f"toy-gradlogp Trainer.get_loss({loss_type}, {noise_type})",
                   adapt.sliced_loss(loss_type, noise_type), adapt.score, SCHEDULE,
                   models=models, dim=DIM, n_samples=32, statistical=True)
    assert report.ok, report.summary()


def test_unit_sphere_projections_are_caught(models: list[Any],
                                            record_property: Record) -> None:
    # The bug: projections on the unit sphere without the √d factor, E[vvᵀ] = I/d, so the
    # trace term shrinks by d while ½‖s‖² does not; the expectation is no longer SM + const.
    def unit_sphere_ssm_vr(model: Any, x: torch.Tensor) -> torch.Tensor:
        v = torch.randn_like(x)
        return adapt.trainer(model).ssm_vr_loss(x.detach().clone(), v / v.norm(dim=-1,
                                                                            keepdim=True))

    report = check(record_property, "toy-gradlogp planted bug: unit-sphere projections",
                   unit_sphere_ssm_vr, adapt.score, SCHEDULE, models=models, dim=DIM,
                   n_samples=256, statistical=True)  # a subtle bug: more samples for power
    assert not report.ok, report.summary()
