"""Fuzz: the estimators, coupled batches, networks and the tolerance table.

The explicit cases live in ``_cases.py`` (``estimators_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import estimators_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", estimators_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


# ---- properties --------------------------------------------------------------------------------
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import numeric  # noqa: E402

from ._harness import assert_good, finite, magnitudes  # noqa: E402


@given(st.integers(-(2**70), 2**70))
def test_any_integer_seed(seed: int) -> None:
    """Every entry taking a seed: a valid one works, any other is a SmeqError naming it."""
    mix = numeric.GaussianMixture([1.0], [[0.0]], [1.0])
    assert_good("estimators", "sample", lambda: mix.sample(2, generator=seed), check=finite,
                argument="generator")
    assert_good("estimators", "network", lambda: numeric.random_score_network(seed, 1, width=2),
                argument="seed")


@given(magnitudes(-160, 160), st.sampled_from(["gaussian", "rademacher", "sphere"]))
def test_estimators_finite_or_refused(sigma: float, projection: str) -> None:
    mix = numeric.GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [1.0, 1.0])
    net = numeric.random_score_network(0, 1, width=4)
    kernel = (1.0, sigma)
    for name, fn in (("sm_exact", numeric.sm_exact), ("dsm_mc", numeric.dsm_mc)):
        assert_good("estimators", name, lambda f=fn: f(net, mix, kernel, 0.5, n=8).value,
                    check=finite)
    assert_good("estimators", "sliced", lambda: numeric.sliced_sm(
        net, mix, kernel, 0.5, n=8, projection=projection).value, check=finite)
    xt = torch.zeros(1, 3, 1, dtype=torch.float64)
    batch = torch.tensor([[[-1.0], [1.0]]], dtype=torch.float64)
    assert_good("estimators", "ratio_score", lambda: numeric.ratio_score(xt, batch, 1.0, sigma),
                check=finite)
