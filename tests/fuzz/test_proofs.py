"""Fuzz: proofs.certify and closed_form arguments.

The explicit cases live in ``_cases.py`` (``proofs_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import proofs_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", proofs_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


# ---- properties --------------------------------------------------------------------------------
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import proofs  # noqa: E402

from ._harness import assert_good  # noqa: E402


@given(st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                 st.lists(st.text(max_size=4), max_size=2), st.floats()))
def test_certify_refuses_what_is_not_a_list_of_names(names: object) -> None:
    assert_good("proofs", "certify", lambda: proofs.certify(names), "error",  # type: ignore
                argument="names")
