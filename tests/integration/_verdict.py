"""How the integration tests run the guard and record its verdict."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch

import numeric

#: pytest's ``record_property`` fixture.
Record = Callable[[str, object], None]

#: What a verdict on a step that couples the samples of a batch must say (in some words).
NOT_PER_SAMPLE = re.compile(r"per[- ]sample|re-?pair|across the batch|mix(es|ed)? (the )?"
                            r"samples|other samples", re.I)


def verdict_line(label: str, report: numeric.LossReport, seconds: float | None = None) -> str:
    """``label: PASS, residual 4e-15, eps: λ = σ²/D with D=16, 0.41 s`` (the summary's line)."""
    weighting = report.matched_text or "λ(t) = {" + ", ".join(
        f"{t:.4g}: {v:.4g}" for t, v in list(report.weighting.items())[:8]) + "}"
    verdict = "PASS" if report.ok else "FAIL"
    took = "" if seconds is None else f", {seconds:.2f} s"
    return f"{label}: {verdict}, residual {report.residual:.2g}, {weighting}{took}"


def check(record: Record, label: str, loss: Any, to_score: Any,
          schedule: Any, **kwargs: Any) -> numeric.LossReport:
    """``numeric.check_loss`` in float64 on the CPU; records ``label: verdict`` for the summary."""
    kwargs.setdefault("dtype", torch.float64)
    start = time.perf_counter()
    report = numeric.check_loss(loss, to_score, schedule, name=label, **kwargs)
    record("smeq", verdict_line(label, report, time.perf_counter() - start))
    return report


def check_step(record: Record, label: str, step: Any, to_score: Any,
               **kwargs: Any) -> numeric.LossReport:
    """``numeric.check_training_step`` (the step's own draws intercepted; float64 on the CPU
    unless ``dtype`` says otherwise); records ``label: verdict`` for the summary."""
    kwargs.setdefault("dtype", torch.float64)
    start = time.perf_counter()
    report = numeric.check_training_step(step, to_score, name=label, **kwargs)
    record("smeq", verdict_line(label, report, time.perf_counter() - start))
    return report


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """``torch.set_default_dtype(dtype)`` for the block, restored after it."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def assert_not_per_sample(run: Callable[[], numeric.LossReport]) -> None:
    """``run()`` (a check of a step that re-pairs its batch) must be refused, or fail, with a
    message saying that a sample's x_t depends on other samples; never pass."""
    try:
        report = run()
    except numeric.InvalidArgument as exc:
        text = str(exc)
    else:
        assert not report.ok, report.summary()
        text = report.summary()
    assert NOT_PER_SAMPLE.search(text), text
