"""Fuzz: GaussianMixture: extremes of σ and of the means, dtype range, immutability.

The explicit cases live in ``_cases.py`` (``mixture_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import mixture_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", mixture_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


# ---- properties --------------------------------------------------------------------------------
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from numeric import GaussianMixture  # noqa: E402

from ._harness import assert_good, finite, magnitudes, signed_magnitudes  # noqa: E402


@given(st.lists(signed_magnitudes(-300, 160), min_size=1, max_size=3),
       st.lists(magnitudes(-150, 150), min_size=3, max_size=3), magnitudes(-160, 160),
       magnitudes(-3, 0), signed_magnitudes(-5, 5))
def test_score_finite_or_refused(means: list[float], stds: list[float], sigma: float,
                                 alpha: float, x: float) -> None:
    """Valid extremes give a finite score, or a SmeqError when the true value overflows."""
    k = len(means)
    mix = GaussianMixture([1.0 / k] * k, [[m] for m in means], [s * s for s in stds[:k]])
    xt = torch.tensor([[x]], dtype=torch.float64)
    for method in ("score_t", "log_prob_t", "denoise"):
        assert_good("mixture", method, lambda m=method: getattr(mix, m)(xt, alpha, sigma),
                    check=finite)
    assert_good("mixture", "constant", lambda: mix.constant(alpha, sigma, n=8),
                check=lambda c: finite(c) and float(c) >= 0)


@given(signed_magnitudes(-60, 60), magnitudes(-60, 60),
       st.sampled_from([torch.float16, torch.bfloat16, torch.float32]))
def test_low_precision_stores_what_it_was_given(mean: float, var: float,
                                                dtype: torch.dtype) -> None:
    """A value the dtype cannot hold is refused; what is stored is finite and non-zero."""
    def build() -> bool:
        mix = GaussianMixture([1.0], [[mean]], [var], dtype=dtype)
        return finite(mix.means) and finite(mix.covs) and bool((mix.covs > 0).all())

    assert_good("mixture", "low_precision", build, check=bool)
