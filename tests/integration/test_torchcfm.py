"""torchcfm: the README's training step around each flow matcher's
``sample_location_and_conditional_flow``, its three draws (the user's source noise, the matcher's
t and its second noise ε) intercepted by the guard (``numeric.check_training_step``).

Score-space weightings per coordinate (``torch.mean`` over B·D, so /D; Tong et al. 2024;
Kingma & Gao 2023 for flow matching): ConditionalFlowMatcher(σ = 0) λ = (1 − t)²/t² = σ_t²/α_t²
("flow_matching"); ConditionalFlowMatcher(σ > 0) λ = ((1 − t + σ²)/t)² (two noises: the
combined noise has variance (1 − t)² + σ²); VariancePreservingConditionalFlowMatcher
λ = (π/2)²σ_t²/α_t²; TargetConditionalFlowMatcher λ = σ_t²/t². The exact-OT matcher re-pairs
the batch, so it is not a per-sample loss. Derivations in adapt_torchcfm.
"""

from __future__ import annotations

import math
import types
from typing import Any

import adapt_torchcfm as adapt
import pytest
import torch
from _verdict import Record, assert_not_per_sample, check_step

import numeric

pytestmark = pytest.mark.integration

DIM = 3
N = 16


def _check(record: Record, label: str, kind: str, sigma: float,
           **kwargs: Any) -> numeric.LossReport:
    fm = adapt.matcher(kind, sigma)
    dtype = kwargs.pop("dtype", torch.float64)
    to_score = kwargs.pop("to_score", adapt.to_score(kind, sigma))
    return check_step(record, label, adapt.training_step(fm), to_score,
                      models=adapt.models(4, DIM, dtype), dim=DIM, n_samples=N, dtype=dtype,
                      **kwargs)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_conditional_flow_matcher_sigma_zero_is_flow_matching(
        torchcfm: types.ModuleType, record_property: Record, dtype: torch.dtype) -> None:
    report = _check(record_property, f"torchcfm ConditionalFlowMatcher(sigma=0) {str(dtype)[6:]}",
                    "icfm", 0.0, dtype=dtype, expected_weighting="flow_matching")
    assert report.ok and report.matched == "flow_matching", report.summary()
    assert report.scale is not None and math.isclose(report.scale, 1 / DIM, rel_tol=1e-4), (
        report.summary())


@pytest.mark.parametrize("sigma", [0.0, 0.1])
def test_on_the_library_unet_images(torchcfm: types.ModuleType, record_property: Record,
                                    sigma: float) -> None:
    # The cifar10 example's shape: images, and torchcfm's own UNetModelWrapper called as
    # model(t, x_t) (float32: the UNet casts its time embedding to float32).
    shape = adapt.IMAGE_SHAPE
    expected = "flow_matching" if sigma == 0 else adapt.icfm_weighting(sigma)
    report = check_step(record_property,
                        f"torchcfm ConditionalFlowMatcher(sigma={sigma}) UNetModelWrapper float32",
                        adapt.training_step(adapt.matcher("icfm", sigma)),
                        adapt.to_score("icfm", sigma), models=adapt.unets(4), image_shape=shape,
                        n_samples=8, dtype=torch.float32, expected_weighting=expected)
    assert report.ok, report.summary()
    if sigma == 0:
        assert report.matched == "flow_matching", report.summary()
        assert report.scale is not None and math.isclose(
            report.scale, 1 / math.prod(shape), rel_tol=1e-3), report.summary()


@pytest.mark.parametrize("sigma", [0.1, 0.5])
def test_conditional_flow_matcher_with_a_second_noise(
        torchcfm: types.ModuleType, record_property: Record, sigma: float) -> None:
    report = _check(record_property, f"torchcfm ConditionalFlowMatcher(sigma={sigma})", "icfm",
                    sigma, expected_weighting=adapt.icfm_weighting(sigma))
    assert report.ok, report.summary()


def test_variance_preserving_matcher_is_flow_matching_times_pi2_over_4(
        torchcfm: types.ModuleType, record_property: Record) -> None:
    report = _check(record_property, "torchcfm VariancePreservingConditionalFlowMatcher(sigma=0)",
                    "vp", 0.0, expected_weighting="flow_matching")
    assert report.ok and report.matched == "flow_matching", report.summary()
    assert report.scale is not None and math.isclose(
        report.scale, math.pi**2 / 4 / DIM, rel_tol=1e-4), report.summary()


def test_target_matcher_is_flow_matching(torchcfm: types.ModuleType,
                                         record_property: Record) -> None:
    # Lipman et al. (2023): the user's source noise is drawn but unused; the matcher's ε is the
    # only noise with a non-zero coefficient, and λ = σ_t²/t² is the flow-matching shape.
    report = _check(record_property, "torchcfm TargetConditionalFlowMatcher(sigma=0.01)",
                    "target", 0.01, expected_weighting="flow_matching")
    assert report.ok and report.matched == "flow_matching", report.summary()
    assert report.scale is not None and math.isclose(report.scale, 1 / DIM, rel_tol=1e-4), (
        report.summary())


def test_exact_ot_matcher_is_reported_as_not_per_sample(torchcfm: types.ModuleType,
                                                        record_property: Record) -> None:
    # ExactOptimalTransportConditionalFlowMatcher re-pairs (x0, x1) across the batch by an OT
    # plan sampled with numpy.random.choice: x_t of one sample depends on the others, so there is
    # no per-sample Gaussian kernel and no per-sample verdict. The guard must say so, not pass.
    assert_not_per_sample(lambda: _check(
        record_property, "torchcfm ExactOptimalTransportConditionalFlowMatcher", "exact_ot", 0.0))


def test_a_score_map_that_ignores_the_second_noise_is_caught(
        torchcfm: types.ModuleType, record_property: Record) -> None:
    # The bug: the σ = 0.5 matcher trained, the velocity read back with the σ = 0 map.
    report = _check(record_property, "torchcfm planted bug: sigma=0.5 trained, sigma=0 score",
                    "icfm", 0.5, to_score=adapt.to_score("icfm", 0.0))
    assert not report.ok and report.residual > 1e-3, report.summary()
