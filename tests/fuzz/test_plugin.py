"""Fuzz: the pytest plugin's settings.

The explicit cases live in ``_cases.py`` (``plugin_cases``); each must come out ``good``.
"""

from __future__ import annotations

import pytest

from ._cases import plugin_cases
from ._harness import Case, run_case


@pytest.mark.parametrize("case", plugin_cases(), ids=lambda c: c.name)
def test_explicit(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


# ---- properties --------------------------------------------------------------------------------
import pytest as _pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import _smeq_pytestplugin as plugin  # noqa: E402

from ._cases import _FakeConfig  # noqa: E402
from ._harness import assert_good  # noqa: E402


@given(st.one_of(st.integers(-(2**70), 2**70).map(str), st.text(max_size=6)))
def test_any_seed_option(text: str) -> None:
    """--smeq-seed: an int in [0, 2**63) is read, anything else is a usage error."""
    try:
        valid = 0 <= int(text or "0") < 2**63
    except ValueError:
        valid = False
    if valid:
        assert_good("plugin", "seed", lambda: plugin.read_config(_FakeConfig(smeq_seed=text)),
                    "ok", check=lambda c: c.seed == int(text or "0"))
    else:
        assert_good("plugin", "seed", lambda: plugin.read_config(_FakeConfig(smeq_seed=text)),
                    "error", error=_pytest.UsageError)
