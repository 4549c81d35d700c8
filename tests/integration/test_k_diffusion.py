"""k-diffusion: ``layers.Denoiser.loss`` (weightings "karras", "soft-min-snr", "snr") and
``external.VDenoiser.loss``, on the EDM schedule (α = 1, σ = t; Karras et al. 2022, Table 1).

In score space, with F − target = (D − x0)/c_out and ‖D − x0‖² = σ⁴‖s − h‖², the loss is
c_weight·σ⁴/(c_out²·D)·‖s − h‖², so with c_out² = σ²σ_d²/(σ² + σ_d²):
"karras" (c_weight = 1) → EDM weighting σ²(σ² + σ_d²)/σ_d², "snr" → σ² (the ε weighting),
"soft-min-snr" → σ⁴/(σ² + σ_d²) (no catalogue name), VDenoiser (σ_d = 1) → EDM with σ_d = 1.
"""

from __future__ import annotations

import math
from typing import Any

import adapt_k_diffusion as adapt
import pytest
from _verdict import Record, check

import numeric

pytestmark = pytest.mark.integration

DIM = 3
N = 64
SCHEDULE = numeric.Schedule.edm()


@pytest.mark.parametrize("sigma_data", [0.5, 2.0])
def test_karras_weighting_is_edm(k_diffusion: Any, record_property: Record,
                                 sigma_data: float) -> None:
    report = check(record_property, f"k-diffusion Denoiser(karras, sigma_data={sigma_data})",
                   adapt.denoiser_loss("karras", sigma_data), adapt.denoiser_score(sigma_data),
                   SCHEDULE, dim=DIM, n_samples=N, expected_weighting="edm")
    assert report.ok and report.matched == "edm", report.summary()
    assert report.matched_text is not None and f"sigma_data={sigma_data:.4g}" in (
        report.matched_text), report.summary()
    assert report.scale is not None and math.isclose(report.scale, 1 / DIM, rel_tol=1e-6)


def test_snr_weighting_is_the_eps_weighting(k_diffusion: Any,
                                            record_property: Record) -> None:
    report = check(record_property, "k-diffusion Denoiser(snr, sigma_data=0.5)",
                   adapt.denoiser_loss("snr", 0.5), adapt.denoiser_score(0.5), SCHEDULE,
                   dim=DIM, n_samples=N, expected_weighting="eps")
    assert report.ok and report.matched == "eps", report.summary()
    assert report.scale is not None and math.isclose(report.scale, 1 / DIM, rel_tol=1e-6)


def test_soft_min_snr_weighting(k_diffusion: Any, record_property: Record) -> None:
    sigma_data = 0.5

    def soft_min_snr(t: Any) -> Any:  # σ⁴/(σ² + σ_d²), σ = t on EDM
        return t**4 / (t**2 + sigma_data**2)

    report = check(record_property, "k-diffusion Denoiser(soft-min-snr, sigma_data=0.5)",
                   adapt.denoiser_loss("soft-min-snr", sigma_data),
                   adapt.denoiser_score(sigma_data), SCHEDULE, dim=DIM, n_samples=N,
                   expected_weighting=soft_min_snr)
    assert report.ok, report.summary()


def test_vdenoiser_is_edm_with_unit_sigma_data(k_diffusion: Any,
                                               record_property: Record) -> None:
    report = check(record_property, "k-diffusion VDenoiser", adapt.vdenoiser_loss,
                   adapt.vdenoiser_score, SCHEDULE, dim=DIM, n_samples=N,
                   expected_weighting="edm")
    assert report.ok and report.matched == "edm", report.summary()
    assert report.matched_text is not None and "sigma_data=1" in report.matched_text


def test_a_sigma_data_mismatch_is_caught(k_diffusion: Any,
                                         record_property: Record) -> None:
    # The bug: training preconditions with sigma_data=0.5, the sampler's denoiser with 1.0.
    report = check(record_property, "k-diffusion planted bug: sigma_data 0.5 vs 1.0",
                   adapt.denoiser_loss("karras", 0.5), adapt.denoiser_score(1.0), SCHEDULE,
                   dim=DIM, n_samples=N)
    assert not report.ok and report.residual > 1e-3, report.summary()
