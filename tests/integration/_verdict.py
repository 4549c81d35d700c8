"""How the integration tests run the guard and record its verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

import numeric

#: pytest's ``record_property`` fixture.
Record = Callable[[str, object], None]


def check(record: Record, label: str, loss: Any, to_score: Any,
          schedule: Any, **kwargs: Any) -> numeric.LossReport:
    """``numeric.check_loss`` in float64 on the CPU; records ``label: verdict`` for the summary."""
    kwargs.setdefault("dtype", torch.float64)
    report = numeric.check_loss(loss, to_score, schedule, name=label, **kwargs)
    weighting = report.matched_text or "λ(t) = {" + ", ".join(
        f"{t:.4g}: {v:.4g}" for t, v in report.weighting.items()) + "}"
    verdict = "PASS" if report.ok else "FAIL"
    record("smeq", f"{label}: {verdict}, residual {report.residual:.2g}, {weighting}")
    return report
