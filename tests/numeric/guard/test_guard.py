"""check_loss / assert_score_matching_loss on correct losses: pass, name the weighting, and
catch the structural bugs the posterior-coupled check is built for (mixed t, add_noise)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import numeric
from numeric import Schedule, assert_score_matching_loss, check_loss
from numeric.guard._reference_losses import reference_loss

SCHEDULES = {"vp_linear": Schedule.vp_linear, "vp_cosine": Schedule.vp_cosine,
             "ve": Schedule.ve, "sub_vp": Schedule.sub_vp, "edm": Schedule.edm,
             "rectified_flow": Schedule.rectified_flow, "ddpm": Schedule.ddpm}
CASES = [("vp_linear", "score"), ("vp_linear", "ncsn"), ("vp_linear", "eps"),
         ("vp_linear", "x0"), ("vp_linear", "v"), ("vp_linear", "min_snr_eps"),
         ("vp_linear", "likelihood"), ("ddpm", "eps"), ("ddpm", "v"), ("vp_cosine", "x0"),
         ("ve", "score"), ("edm", "edm"), ("rectified_flow", "flow_matching"), ("sub_vp", "eps")]
#: Correct losses measure ~1e-15 relative in float64 (docs/design.md §5 target: ≤ 1e-10).
CORRECT_MAX = 1e-10
#: The check is exact for any number of x_t; fewer keep the suite fast (bench/guard.py and the
#: mutant tests use the defaults).
FAST = {"n_samples": 64}


def col(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


@pytest.mark.parametrize(("schedule", "name"), CASES, ids=[f"{n}[{s}]" for s, n in CASES])
def test_correct_loss_passes_and_names_its_weighting(schedule: str, name: str) -> None:
    sched = SCHEDULES[schedule]()
    ref = reference_loss(name, sched)
    report = check_loss(ref.loss, ref.to_score, sched, **FAST)
    assert report.ok, report.summary()
    assert report.residual <= CORRECT_MAX
    assert report.matched == ref.weighting, report.summary()
    assert report.scale == pytest.approx(1.0, rel=1e-6)
    assert all(v > 0 for v in report.weighting.values())
    assert "PASS" in report.summary()


def test_mean_reduction_reports_the_factor_one_over_d() -> None:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched, reduction="mean")
    report = check_loss(ref.loss, ref.to_score, sched, dim=4, **FAST)
    assert report.ok and report.matched == "eps"
    assert report.scale == pytest.approx(0.25, rel=1e-9)
    assert report.matched_text == "eps: λ = σ²/D with D=4"


def test_expected_weighting_agrees_with_coinciding_shapes() -> None:
    # With α = 1 the eps and flow-matching shapes coincide; the expected name is reported.
    sched = Schedule.ve()
    ref = reference_loss("ncsn", sched)
    report = check_loss(ref.loss, ref.to_score, sched, expected_weighting="flow_matching",
                        **FAST)
    assert report.ok and report.matched == "flow_matching"


def test_wrong_expected_weighting_fails_and_shows_the_measured_one() -> None:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)
    report = check_loss(ref.loss, ref.to_score, sched, expected_weighting="x0", **FAST)
    assert not report.ok
    assert report.residual <= CORRECT_MAX
    assert "measured eps: λ = σ²" in report.summary()


def test_expected_weighting_as_a_function_of_t() -> None:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)

    def sigma2(t: torch.Tensor) -> torch.Tensor:
        return 3.0 * sched.sigma(t) ** 2

    assert check_loss(ref.loss, ref.to_score, sched, expected_weighting=sigma2, **FAST).ok
    assert not check_loss(ref.loss, ref.to_score, sched, expected_weighting=sched.sigma,
                          **FAST).ok


def test_scalar_loss_is_evaluated_per_sample() -> None:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)

    def mean_loss(model: Any, x0: torch.Tensor, t: torch.Tensor,
                  noise: torch.Tensor) -> torch.Tensor:
        return ref.loss(model, x0, t, noise).mean()

    report = check_loss(mean_loss, ref.to_score, sched, n_samples=8, n_times=3, n_models=3)
    assert report.ok, report.summary()
    assert "vmap" in report.mode or "loop" in report.mode


def test_image_shaped_data() -> None:
    sched = Schedule.vp_cosine()
    ref = reference_loss("v", sched, reduction="mean")
    seen: list[tuple[int, ...]] = []

    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x0.shape[1:]))
        return ref.loss(model, x0, t, noise)

    report = check_loss(loss, ref.to_score, sched, image_shape=(2, 3, 3), n_samples=64)
    assert report.ok, report.summary()
    assert set(seen) == {(2, 3, 3)}
    assert report.matched_text == "v: λ = σ²(α²+σ²)²/α²/D with D=18"


def test_times_are_mixed_within_a_batch_and_integer_for_tables() -> None:
    sched = Schedule.ddpm()
    ref = reference_loss("eps", sched)
    batches: list[torch.Tensor] = []

    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        batches.append(t)
        return ref.loss(model, x0, t, noise)

    assert check_loss(loss, ref.to_score, sched, **FAST).ok
    assert all(b.dtype == torch.int64 for b in batches)
    assert all(b.unique().numel() > 1 for b in batches)


def test_one_t_for_the_whole_batch_is_caught_and_explained() -> None:
    sched = Schedule.vp_linear()

    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        t0 = t[:1].expand_as(t)  # bug: the first sample's t for everyone
        a, s = col(sched.alpha(t0), x0), col(sched.sigma(t0), x0)
        return ((model(a * x0 + s * noise, t) - noise) ** 2).sum(1)

    report = check_loss(loss, reference_loss("eps", sched).to_score, sched, **FAST)
    assert not report.ok
    assert report.residual >= 1e-3
    assert "same t" in report.summary()


def test_add_noise_callable_is_probed() -> None:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)

    def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return col(sched.alpha(t), x0) * x0 + col(sched.sigma(t), x0) * noise

    report = check_loss(ref.loss, ref.to_score, add_noise, **FAST)
    assert report.ok, report.summary()
    assert report.matched == "eps"


def test_non_affine_add_noise_is_a_finding() -> None:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)

    def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s = col(sched.alpha(t), x0), col(sched.sigma(t), x0)
        return a * x0 + s * noise + 0.01 * x0 * noise

    report = check_loss(ref.loss, ref.to_score, add_noise, **FAST)
    assert not report.ok
    assert any("not affine in (x0, noise)" in f for f in report.findings)


def test_object_with_alpha_sigma_and_custom_models() -> None:
    class Cosine:
        def alpha(self, t: torch.Tensor) -> torch.Tensor:
            return torch.cos(torch.pi / 2 * t)

        def sigma(self, t: torch.Tensor) -> torch.Tensor:
            return torch.sin(torch.pi / 2 * t)

    sched = Schedule.from_object(Cosine())
    ref = reference_loss("x0", sched)
    models = [numeric.random_score_network(s, 2, width=8) for s in (5, 6, 7)]
    report = check_loss(ref.loss, ref.to_score, Cosine(), models=models, dim=2, **FAST)
    assert report.ok and report.matched == "x0", report.summary()


def test_assert_score_matching_loss() -> None:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)
    assert assert_score_matching_loss(ref.loss, ref.to_score, sched, **FAST).ok
    with pytest.raises(AssertionError, match="the weighting is not x0"):
        assert_score_matching_loss(ref.loss, ref.to_score, sched, expected_weighting="x0",
                                   **FAST)


def test_report_is_replayable() -> None:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)
    a = check_loss(ref.loss, ref.to_score, sched, seed=3, **FAST)
    b = check_loss(ref.loss, ref.to_score, sched, seed=3, **FAST)
    assert a.weighting == b.weighting and a.residual == b.residual
