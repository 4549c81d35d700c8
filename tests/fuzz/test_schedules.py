"""Fuzz: Schedule: extreme parameters, user functions, bad times.

The explicit cases live in ``_cases.py`` (``schedules_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import schedules_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", schedules_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


# ---- properties --------------------------------------------------------------------------------
import math  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from numeric import Schedule  # noqa: E402

from ._harness import assert_good, magnitudes  # noqa: E402


@given(st.integers(-300, 290), st.integers(1, 300), st.floats(0.0, 1.0))
def test_ve_over_the_whole_range(lo_exp: int, decades: int, t: float) -> None:
    """σ(t) = σ_min(σ_max/σ_min)^t, log-linear in t, for any range inside float64."""
    lo, hi = 10.0**lo_exp, 10.0 ** min(lo_exp + decades, 300)
    if not hi > lo:
        return
    want = math.exp(math.log(lo) + t * (math.log(hi) - math.log(lo)))
    assert_good("schedules", "ve", lambda: float(Schedule.ve(lo, hi).sigma(t)), "ok",
                check=lambda v: math.isclose(v, want, rel_tol=1e-9))


@given(st.one_of(st.just(0.0), magnitudes(-10, 300)), st.floats(1e-5, 1 - 1e-5))
def test_cosine_for_any_offset(s: float, t: float) -> None:
    """α in (0, 1], α² + σ² = 1, and α(t) ≈ 1 − t once the offset s is huge."""
    def kernel() -> tuple[float, float]:
        sched = Schedule.vp_cosine(s=s)
        return float(sched.alpha(t)), float(sched.sigma(t))

    def fine(v: tuple[float, float]) -> bool:
        a, sg = v
        near = s < 1e8 or math.isclose(a, 1 - t, rel_tol=1e-6)
        return 0 < a <= 1 and math.isclose(a * a + sg * sg, 1.0, rel_tol=1e-9) and near

    assert_good("schedules", "vp_cosine", kernel, "ok", check=fine)
