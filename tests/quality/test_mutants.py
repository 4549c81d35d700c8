"""The guard finds planted bugs (tests/quality/mutants.py) and never flags correct losses."""

from __future__ import annotations

import pytest
import torch
from mutants import MUTANTS, Mutant, random_correct_case

import numeric
from numeric import check_loss
from numeric.guard._guard import RESIDUAL_RTOL
from numeric.guard._reference_losses import implicit_sm_loss, sliced_sm_loss

#: docs/design.md §5: every planted bug leaves a residual ≥ 1e-3 (affine ones, with no hints).
BUG_MIN = 1e-3
REQUIRED_BUGS = (
    "σ vs σ² in the target", "α dropped from x_t", "ᾱ in place of √ᾱ", "sign flip",
    "wrong batch axis", "mean vs sum", "off-by-one", "v-target with α and σ swapped",
    "min-SNR clamp", "EDM c_", "flow-matching target with x0 and ε swapped", "built from x_t",
    "noise drawn again", "sliced-SM", "half of the prediction detached",
    "prediction detached on a time range", "cross-sample broadcast", ".mean() over a [B, B]",
    "control variate", "to_score that ignores the model", "NaN score")


def test_the_catalogue_covers_the_required_bug_classes() -> None:
    assert len(MUTANTS) >= 15
    for bug in REQUIRED_BUGS:
        assert any(bug in m.bug for m in MUTANTS), bug
    assert {m.kind for m in MUTANTS} == {"affine", "weighting", "statistical", "gradient",
                                         "batch", "control_variate", "garbage"}
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.kind == "affine"], ids=repr)
def test_affine_bug_is_caught_without_hints(mutant: Mutant) -> None:
    report = check_loss(mutant.loss, mutant.to_score, mutant.schedule())
    assert not report.ok
    assert report.residual >= BUG_MIN, report.summary()
    assert "not affine in SM" in report.summary()


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.kind == "weighting"], ids=repr)
def test_weighting_bug_is_caught_with_the_expected_weighting(mutant: Mutant) -> None:
    # It is a valid SM loss: silent with no hint ...
    plain = check_loss(mutant.loss, mutant.to_score, mutant.schedule())
    assert plain.ok and plain.residual <= RESIDUAL_RTOL[torch.float64]
    # ... and caught once the intended weighting is stated; the report shows the measured one.
    report = check_loss(mutant.loss, mutant.to_score, mutant.schedule(),
                        **mutant.check_kwargs())
    assert not report.ok
    assert "the weighting is not" in report.summary()
    assert "measured" in report.findings[0]


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.kind == "statistical"], ids=repr)
def test_statistical_bug_is_caught(mutant: Mutant) -> None:
    report = check_loss(mutant.loss, mutant.to_score, None, **mutant.check_kwargs())
    assert not report.ok
    assert "paired z" in report.summary()


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.kind == "gradient"], ids=repr)
def test_gradient_bug_is_caught_though_values_are_exact(mutant: Mutant) -> None:
    report = check_loss(mutant.loss, mutant.to_score, mutant.schedule())
    assert not report.ok
    assert report.residual <= RESIDUAL_RTOL[torch.float64]  # the values are exact ...
    assert report.gradient_residual is not None and report.gradient_residual >= BUG_MIN
    assert "gradient" in report.findings[0], report.summary()  # ... the gradient is not


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.kind == "batch"], ids=repr)
def test_batch_bug_is_caught_though_each_sample_is_exact(mutant: Mutant) -> None:
    report = check_loss(mutant.loss, mutant.to_score, mutant.schedule())
    assert not report.ok
    assert report.residual <= RESIDUAL_RTOL[torch.float64]
    assert "depends on other samples in the batch" in report.summary()


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.kind == "control_variate"],
                         ids=repr)
def test_control_variate_is_named_with_the_mode_that_decides_it(mutant: Mutant) -> None:
    report = check_loss(mutant.loss, mutant.to_score, mutant.schedule())
    assert not report.ok
    assert "correct only in expectation" in report.summary()
    assert "statistical='time'" in report.summary()


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.kind == "garbage"], ids=repr)
def test_statistical_mode_refuses_garbage(mutant: Mutant) -> None:
    with pytest.raises(numeric.InvalidArgument, match=f"`{mutant.raises}`"):
        check_loss(mutant.loss, mutant.to_score, None, **mutant.check_kwargs())


@pytest.mark.parametrize("loss", [sliced_sm_loss, implicit_sm_loss], ids=lambda f: f.__name__)
def test_statistical_mode_passes_correct_losses(loss) -> None:  # type: ignore[no-untyped-def]
    report = check_loss(loss, lambda m, x, t: m(x, t), None, statistical=True, n_samples=64)
    assert report.ok, report.summary()
    # E = ½ SM + const: λ = ½ within the test's noise
    assert 0.4 < report.weighting[0.0] < 0.6


SOAK = 50


def test_small_soak_has_no_false_alarm() -> None:
    """50 random correct checks (bench/guard_soak.py runs 10,000): zero may fail."""
    alarms = []
    for seed in range(SOAK):
        case = random_correct_case(seed)
        weighting, params = case.pop("weighting"), case.pop("weighting_params")
        report = check_loss(case.pop("loss"), case.pop("to_score"), case.pop("schedule"),
                            expected_weighting=weighting, weighting_params=params, **case)
        if not report.ok:
            alarms.append((seed, report.summary()))
    assert alarms == []
