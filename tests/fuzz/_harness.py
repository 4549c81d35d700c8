"""The fuzz harness: a case is a call plus what a correct outcome is; one runner classifies it.

A case says whether its input is valid (``expect="ok"``: the call must return and ``check``
accept the value), invalid (``expect="error"``: a :class:`numeric.SmeqError` naming
``argument`` and a fix), or either (``"ok_or_error"``: a value that ``check`` accepts, or such
an error, e.g. a result that overflows float64). ``after`` checks state once the call is done
(the caller's tensors, an immutable object); the global torch RNG is checked for every case.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

CLASSES = ("good", "crash", "silent", "hang", "state")


@dataclass(frozen=True)
class Case:
    """One fuzz case; its ``id`` (``area::name``) is the pytest id."""

    area: str
    name: str
    call: Callable[[], Any] = field(repr=False)
    expect: str = "error"
    argument: str | None = None
    check: Callable[[Any], bool] | None = field(default=None, repr=False)
    after: Callable[[], bool] | None = field(default=None, repr=False)
    timeout: float = 60.0
    error: type[BaseException] | None = None  # another error class that counts as good

    @property
    def id(self) -> str:
        return f"{self.area}::{self.name}"

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class Outcome:
    kind: str
    detail: str


def _smeq_error() -> type[BaseException]:
    from numeric import SmeqError

    return SmeqError


_MESSAGE = re.compile(r"argument `([^`]+)`: .+Fix: \S", re.S)


def _good_error(case: Case, exc: BaseException) -> Outcome:
    text = str(exc)
    if case.error is not None and isinstance(exc, case.error):
        return Outcome("good", f"{type(exc).__name__}: {text[:160]}")
    match = _MESSAGE.search(text)
    if match is None:
        return Outcome("crash", f"{type(exc).__name__} without the argument/fix format: "
                                f"{text[:200]}")
    if case.argument is not None and case.argument not in match.group(1):
        return Outcome("crash", f"misleading: names `{match.group(1)}`, expected "
                                f"`{case.argument}`: {text[:200]}")
    return Outcome("good", f"{type(exc).__name__}: {text[:160]}")


def run_case(case: Case) -> Outcome:
    """Run ``case`` in a worker thread (a hang is a timeout) and classify what happened."""
    rng = torch.get_rng_state()
    box: dict[str, Any] = {}

    def target() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                box["value"] = case.call()
            except BaseException as exc:
                box["exc"] = exc
            box["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught
                               if not issubclass(w.category, DeprecationWarning)]

    worker = threading.Thread(target=target, daemon=True, name=f"fuzz {case.id}")
    worker.start()
    worker.join(case.timeout)
    if worker.is_alive():
        return Outcome("hang", f"no answer within {case.timeout} s")
    outcome = _classify(case, box)
    if outcome.kind == "good":
        if not torch.equal(torch.get_rng_state(), rng):
            return Outcome("state", "the global torch RNG state changed")
        if case.after is not None:
            try:
                intact = case.after()
            except Exception as exc:
                return Outcome("state", f"state check raised {type(exc).__name__}: {exc}")
            if not intact:
                return Outcome("state", "an input or an immutable object was changed")
    torch.set_rng_state(rng)
    return outcome


def _classify(case: Case, box: dict[str, Any]) -> Outcome:
    exc = box.get("exc")
    noisy = [w for w in box.get("warnings", ()) if "Warning" in w]
    if exc is not None:
        if isinstance(exc, _smeq_error()) or (case.error is not None
                                              and isinstance(exc, case.error)):
            if case.expect == "ok":
                return Outcome("crash", f"refused valid input: {str(exc)[:200]}")
            return _good_error(case, exc)
        return Outcome("crash", f"{type(exc).__name__}: {str(exc)[:200]}")
    value = box.get("value")
    if case.expect == "error":
        extra = f" (warned: {noisy[0][:120]})" if noisy else ""
        return Outcome("silent", f"returned {_short(value)} instead of an error{extra}")
    if case.check is not None:
        try:
            fine = bool(case.check(value))
        except Exception as err:
            return Outcome("silent", f"the result failed its check ({type(err).__name__}: "
                                     f"{err}); got {_short(value)}")
        if not fine:
            return Outcome("silent", f"wrong result: {_short(value)}")
    return Outcome("good", f"returned {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 160 else text[:157] + "..."


def finite(value: Any) -> bool:
    """True when every number in ``value`` (tensor, float, tuple of them) is finite."""
    if isinstance(value, tuple | list):
        return all(finite(v) for v in value)
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value).all())
    if isinstance(value, float | int):
        return value == value and abs(value) != float("inf")
    return True


def close(value: Any, want: float, rtol: float = 1e-9) -> bool:
    v = float(torch.as_tensor(value).double().reshape(-1)[0])
    return abs(v - want) <= rtol * abs(want) + 1e-300 and finite(v)


def cli(argv: list[str], entry: Callable[[list[str]], int] | None = None) -> tuple[int, str, str]:
    """Run ``smeq`` with ``argv``; returns (exit code, stdout, stderr)."""
    if entry is None:
        from numeric._cli import main as entry
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = int(entry(argv))
        except SystemExit as exc:
            code = int(exc.code) if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def usage_error(result: tuple[int, str, str]) -> bool:
    """Exit 2 with a one-line message naming the problem, and no traceback."""
    code, _, err = result
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    return code == 2 and "Traceback" not in err and 1 <= len(lines) <= 3


def census(cases: Iterable[Case]) -> dict[str, list[tuple[Case, Outcome]]]:
    """Run every case; outcomes grouped by class."""
    out: dict[str, list[tuple[Case, Outcome]]] = {k: [] for k in CLASSES}
    for case in cases:
        outcome = run_case(case)
        out[outcome.kind].append((case, outcome))
    return out


def assert_good(area: str, name: str, call: Callable[[], Any], expect: str = "ok_or_error",
                *, check: Callable[[Any], bool] | None = None, argument: str | None = None,
                error: type[BaseException] | None = None, timeout: float = 60.0) -> None:
    """Run one generated case through :func:`run_case` and fail unless it comes out ``good``."""
    case = Case(area, name, call, expect, argument=argument, check=check, error=error,
                timeout=timeout)
    outcome = run_case(case)
    assert outcome.kind == "good", f"{case.id}: {outcome.kind}: {outcome.detail}"


def magnitudes(lo: int, hi: int) -> Any:
    """Positive floats 10**k·m spread over decades k in [lo, hi] (Hypothesis strategy)."""
    from hypothesis import strategies as st

    return st.builds(lambda k, m: m * 10.0**k, st.integers(lo, hi), st.floats(1.0, 9.99))


def signed_magnitudes(lo: int, hi: int) -> Any:
    from hypothesis import strategies as st

    return st.builds(lambda v, neg: -v if neg else v, magnitudes(lo, hi), st.booleans())
