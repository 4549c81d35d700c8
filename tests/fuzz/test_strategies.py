"""Fuzz: numeric.strategies: bounds refused at build, never failing on every draw.

The explicit cases live in ``_cases.py`` (``strategies_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import strategies_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", strategies_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


# ---- properties --------------------------------------------------------------------------------
import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ._cases import _draws, _strategy_error, _valid_mixtures  # noqa: E402
from ._harness import assert_good, magnitudes  # noqa: E402


@settings(max_examples=15)
@given(magnitudes(-200, 200), st.integers(0, 40), magnitudes(-40, 200),
       st.sampled_from([torch.float32, torch.float64]),
       st.sampled_from([None, "isotropic", "diagonal", "full"]))
def test_mixtures_refused_or_valid(min_std: float, decades: int, max_mean: float,
                                   dtype: torch.dtype, covariance: str | None) -> None:
    """gaussian_mixtures either refuses its bounds when built, or every draw is a valid
    mixture: it never draws what GaussianMixture refuses."""
    from numeric import strategies as sst

    max_std = min(min_std * 10.0**decades, 1e300)
    assert_good("strategies", "gaussian_mixtures", lambda: _valid_mixtures(_draws(
        sst.gaussian_mixtures(min_std=min_std, max_std=max_std, max_mean=max_mean, dtype=dtype,
                              covariance=covariance), 4)), check=bool, error=_strategy_error())
