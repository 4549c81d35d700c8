"""Fuzz: EmpiricalDistribution: extremes of σ and of the points, dtype range, immutability.

The explicit cases live in ``_cases.py`` (``empirical_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import empirical_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", empirical_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


# ---- properties --------------------------------------------------------------------------------
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from numeric import EmpiricalDistribution  # noqa: E402

from ._harness import assert_good, finite, magnitudes, signed_magnitudes  # noqa: E402


@given(st.lists(signed_magnitudes(-300, 160), min_size=1, max_size=4), magnitudes(-160, 160),
       signed_magnitudes(-5, 5))
def test_score_finite_or_refused(points: list[float], sigma: float, x: float) -> None:
    emp = EmpiricalDistribution([[p] for p in points])
    xt = torch.tensor([[x]], dtype=torch.float64)
    for method in ("score_t", "log_prob_t", "denoise"):
        assert_good("empirical", method, lambda m=method: getattr(emp, m)(xt, 1.0, sigma),
                    check=finite)
    assert_good("empirical", "posterior", lambda: emp.posterior(xt, 1.0, sigma).weights,
                check=lambda w: finite(w) and abs(float(w.sum()) - 1.0) < 1e-12)
