"""Fuzz: check_training_step: knobs, steps the guard cannot replay, absent devices.

The explicit cases live in ``_cases.py`` (``step_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import step_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", step_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"
