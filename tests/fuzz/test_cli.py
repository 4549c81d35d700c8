"""Fuzz: the ``smeq`` console script (verify, prove, guard): usage errors exit 2 with one line.

The explicit cases live in ``_cases.py`` (``cli_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import cli_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", cli_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


# ---- properties --------------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ._cases import _verify  # noqa: E402
from ._harness import assert_good, usage_error  # noqa: E402


@settings(max_examples=10)
@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63)),
       st.sampled_from(["--seed", "--threads"]))
def test_out_of_range_numbers_are_usage_errors(value: int, option: str) -> None:
    if option == "--threads":
        value = min(value, 0)
    assert_good("cli", option, _verify(option, str(value)), "ok", check=usage_error)
