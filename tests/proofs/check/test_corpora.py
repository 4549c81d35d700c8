"""The checker against two corpora (issue 10, item 6): it must never prove a false claim, and it
should prove every true one, each within a CPU budget.

``false_claims.py`` holds steps that are false under their assumptions (or whose assumptions
contradict each other): :func:`proofs.check` may refute them, leave them undecided or reject them
with :class:`proofs.InvalidStep`, but must never return ``ok``. ``true_claims.py`` holds true
steps from score-matching algebra that it should prove. Test ids read ``class::name``.

Budgets are CPU seconds of this process (``time.process_time``, like the checker's own budgets).
A check still running at :data:`_HARD_STOP` times its budget is interrupted by a ``SIGVTALRM``
timer (``ITIMER_VIRTUAL``, user CPU time; where the platform has one) and fails as a hang instead
of blocking the run. It is not ``ITIMER_PROF``, which the checker arms for its own budget.
"""

from __future__ import annotations

import importlib.util
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import pytest
import sympy as sp

import proofs
from proofs import Step, Verdict


def _load(name: str) -> ModuleType:
    """Import a corpus module from this directory, whatever pytest's import mode."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_smeq_corpus_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_FALSE = _load("false_claims")
_TRUE = _load("true_claims")
FALSE_CLAIMS: dict[str, list[Step]] = _FALSE.FALSE_CLAIMS
COUNTEREXAMPLES: dict[str, dict[Any, Any]] = _FALSE.COUNTEREXAMPLES
TRUE_CLAIMS: dict[str, list[Step]] = _TRUE.TRUE_CLAIMS

_FALSE_BUDGET = 20.0   # CPU seconds for one false claim
_TRUE_BUDGET = 2.0     # CPU seconds for one true claim
_HARD_STOP = 3.0       # interrupt a check after this many budgets


def _cases(corpus: dict[str, list[Step]]) -> list[Any]:
    return [pytest.param(step, id=f"{cls}::{step.name}")
            for cls, steps in corpus.items() for step in steps]


class _OutOfTime(BaseException):
    """Raised by the SIGVTALRM timer; a BaseException so that no ``except Exception`` in the
    checker can swallow it into a verdict."""


@contextmanager
def _cpu_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` of user CPU time (POSIX main thread only)."""
    usable = (hasattr(signal, "setitimer") and hasattr(signal, "SIGVTALRM")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _expire(signum: int, frame: FrameType | None) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGVTALRM, _expire)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def _timed_check(step: Step, budget: float) -> tuple[Verdict | proofs.InvalidStep, float]:
    """``proofs.check(step)`` (or the InvalidStep it raised) and the CPU seconds it took; fails
    the test if the check was still running after ``_HARD_STOP`` budgets."""
    start = time.process_time()
    try:
        with _cpu_limit(_HARD_STOP * budget):
            try:
                outcome: Verdict | proofs.InvalidStep = proofs.check(step)
            except proofs.InvalidStep as exc:
                outcome = exc
    except _OutOfTime:
        pytest.fail(f"{step.name}: check() was still running after "
                    f"{time.process_time() - start:.1f} s CPU (budget {budget:g} s): a hang")
    return outcome, time.process_time() - start


# ----------------------------------------------------------------------------- false claims
@pytest.mark.parametrize("step", _cases(FALSE_CLAIMS))
def test_false_claim_is_never_proved(step: Step) -> None:
    """Refuted, undecided or InvalidStep are all sound; ``ok`` is a soundness bug."""
    outcome, seconds = _timed_check(step, _FALSE_BUDGET)
    problems = []
    if isinstance(outcome, Verdict) and outcome.ok:
        problems.append(f"a false claim was PROVED by {outcome.method}: {outcome.detail} "
                        f"[{step.justification}]")
    if seconds > _FALSE_BUDGET:
        problems.append(f"took {seconds:.1f} s CPU (budget {_FALSE_BUDGET:g} s)")
    assert not problems, "; ".join(problems)


# ----------------------------------------------------------------------------- true claims
@pytest.mark.parametrize("step", _cases(TRUE_CLAIMS))
def test_true_claim_is_proved(step: Step) -> None:
    """Every true step is proved by an exact route within the budget."""
    outcome, seconds = _timed_check(step, _TRUE_BUDGET)
    problems = []
    if isinstance(outcome, proofs.InvalidStep):
        problems.append(f"rejected as invalid: {outcome}")
    elif not outcome.ok:
        problems.append(f"not proved ({outcome.status}, {outcome.method}): {outcome.detail}")
    if seconds > _TRUE_BUDGET:
        problems.append(f"took {seconds:.2f} s CPU (budget {_TRUE_BUDGET:g} s)")
    assert not problems, "; ".join(problems)


# ----------------------------------------------------------------------------- the corpora
def test_corpus_sizes() -> None:
    """Enough claims, in enough classes, with unique names."""
    false_steps = [s for steps in FALSE_CLAIMS.values() for s in steps]
    true_steps = [s for steps in TRUE_CLAIMS.values() for s in steps]
    assert len(false_steps) >= 60
    assert len([c for c, steps in FALSE_CLAIMS.items() if steps]) >= 10
    assert all(len(steps) >= 6 for steps in FALSE_CLAIMS.values()), \
        {c: len(steps) for c, steps in FALSE_CLAIMS.items()}
    assert len(true_steps) >= 40
    names = [s.name for s in false_steps + true_steps]
    assert len(names) == len(set(names))
    assert all(s.justification.startswith("FALSE") for s in false_steps)
    assert set(COUNTEREXAMPLES) <= {s.name for s in false_steps}


def _matrix_value(expr: Any, point: dict[Any, Any]) -> sp.Matrix:
    """Evaluate a noncommutative expression with its symbols replaced by 2x2 matrices."""
    if expr in point:
        value = point[expr]
        return sp.Matrix(value) if isinstance(value, sp.MatrixBase) else value * sp.eye(2)
    if expr.is_Number:
        return expr * sp.eye(2)
    if isinstance(expr, sp.Add):
        return sum((_matrix_value(arg, point) for arg in expr.args), sp.zeros(2))
    if isinstance(expr, sp.Mul):
        out = sp.eye(2)
        for arg in expr.args:
            out = out * _matrix_value(arg, point)
        return out
    if isinstance(expr, sp.Pow):
        return _matrix_value(expr.base, point) ** int(expr.exp)
    if isinstance(expr, sp.exp):
        return _matrix_value(expr.args[0], point).exp()
    raise TypeError(f"cannot evaluate {expr} on matrices")


def _point_value(expr: Any, point: dict[Any, Any]) -> Any:
    """Evaluate ``expr`` exactly at ``point`` (undefined functions replaced by Lambdas)."""
    for key, value in point.items():
        if isinstance(value, sp.Lambda):
            expr = expr.replace(key, lambda *args, lam=value: lam(*args))
    expr = expr.subs({k: v for k, v in point.items() if not isinstance(v, sp.Lambda)})
    return expr.doit()


def _relation_holds(left: Any, right: Any, relation: str) -> bool:
    if relation == "==":
        return bool(abs(sp.N(left - right, 50)) < sp.Rational(1, 10**40))
    small, big = (left, right) if relation == "<=" else (right, left)
    small, big = sp.N(small, 30), sp.N(big, 30)
    return bool(small.is_extended_real and big.is_extended_real and small <= big)


@pytest.mark.parametrize("step", [p for p in _cases(FALSE_CLAIMS)
                                  if p.values[0].name in COUNTEREXAMPLES])
def test_counterexample_refutes_the_claim(step: Step) -> None:
    """The corpus itself: each recorded counterexample really makes its claim fail."""
    point = COUNTEREXAMPLES[step.name]
    lhs, rhs = step.lhs, step.rhs
    if isinstance(lhs, sp.MatrixBase):   # compare the first entry that differs symbolically
        lhs, rhs = next((a, b) for a, b in zip(lhs, rhs, strict=True) if a != b)
    if any(not s.is_commutative for s in lhs.free_symbols | rhs.free_symbols):
        left, right = _matrix_value(lhs, point), _matrix_value(rhs, point)
        assert sp.N(left - right, 30).norm() > 1e-20, (left, right)
        return
    left, right = _point_value(lhs, point), _point_value(rhs, point)
    assert not _relation_holds(left, right, step.relation), (sp.N(left), sp.N(right))
