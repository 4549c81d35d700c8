"""One generic test runs every step of every registered derivation (array-api-tests style).

Test ids read like the maths: ``sm_dsm[gaussian-1d]::bayes``.
"""

from __future__ import annotations

from typing import Any

import pytest

import proofs


def _cases() -> list[Any]:
    return [pytest.param(step, id=f"{name}::{step.name}")
            for name in proofs.DERIVATIONS for step in proofs.DERIVATIONS[name].steps]


@pytest.mark.parametrize("step", _cases())
def test_step_is_proved_exactly(step: proofs.Step) -> None:
    verdict = proofs.check(step)
    assert verdict.ok, (f"{step.name} [{step.justification}] is {verdict.status} "
                        f"({verdict.method}): {verdict.detail}")
    assert verdict.method.startswith("exact:")
