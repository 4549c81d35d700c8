"""Fuzz: check_loss: knobs, hostile user callables, threads, conditioning-aware threshold.

The explicit cases live in ``_cases.py`` (``guard_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import guard_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", guard_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


# ---- properties --------------------------------------------------------------------------------
import math  # noqa: E402

import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from numeric._tolerances import residual_thresholds  # noqa: E402

from ._cases import _check, sigma_bug_loss  # noqa: E402
from ._harness import assert_good, magnitudes  # noqa: E402


@given(st.one_of(st.floats(), st.integers(-5, 5), st.text(max_size=3), st.none()))
def test_any_rtol(rtol: object) -> None:
    """rtol is None or a float in (0, 1); anything else (NaN, inf, <= 0, >= 1, text) is refused
    naming it, never a silent PASS of a bug or FAIL of a correct loss."""
    valid = rtol is None or (isinstance(rtol, float | int) and not isinstance(rtol, bool)
                             and math.isfinite(rtol) and 0 < rtol < 1)
    if valid:
        assert_good("guard", "rtol", lambda: _check(sigma_bug_loss, rtol=rtol), "ok",
                    check=lambda r: (not r.ok) or float(rtol or 1e-7) >= 0.05)
    else:
        assert_good("guard", "rtol", lambda: _check(rtol=rtol), "error", argument="rtol")


@given(st.lists(magnitudes(-12, 8), min_size=1, max_size=8), magnitudes(-2, 2),
       st.sampled_from([torch.float64, torch.float32]))
def test_threshold_follows_conditioning(sigmas: list[float], scale: float,
                                        dtype: torch.dtype) -> None:
    """Finite, never below the base tolerance, and growing as the time gets ill-conditioned."""
    s = torch.tensor(sorted(sigmas), dtype=torch.float64)
    thr = residual_thresholds(dtype, torch.ones_like(s), s, scale=scale)
    base = 1e-7 if dtype == torch.float64 else 1e-3
    assert bool(torch.isfinite(thr).all()) and bool((thr >= base).all())
    small = s <= scale
    assert bool((thr[small][1:] <= thr[small][:-1]).all())  # larger σ: better conditioned
