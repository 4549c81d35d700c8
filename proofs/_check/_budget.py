"""The hard CPU budget of one :func:`proofs.check` call, and the size guard on expansions.

Mechanism (documented in :func:`proofs.check`): on the main thread of a process with
``signal.setitimer`` (every POSIX system), the call arms ``ITIMER_PROF`` for its budget of CPU
seconds; when it fires, the ``SIGPROF`` handler raises :class:`OutOfBudget`, a ``BaseException``
so that no route's ``except Exception`` can swallow it, and the call returns *undecided* saying it
was cut off. Python runs signal handlers between bytecodes, so a long C call (one symengine
expansion) is interrupted only when it returns; :func:`guard_size` therefore refuses, before it
starts, an expansion whose number of terms (the multinomial count) is too large. Elsewhere (a
worker thread, Windows) the timer cannot be armed and the budget is cooperative: every route and
probe checks :func:`expired` between pieces of work. Each pytest-xdist worker is its own process
with its own main thread, so ``pytest -n auto`` runs the timer path.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sympy as sp

__all__ = ["BUDGET_SECONDS", "MAX_TERMS", "OutOfBudget", "TooLarge", "budget", "expired",
           "guard_size", "refused_sizes"]

#: Default CPU seconds one ``check`` may use, whatever the input.
BUDGET_SECONDS = 4.0
#: The most terms an expansion may produce before it is refused as too expensive.
MAX_TERMS = 20_000


class OutOfBudget(BaseException):
    """The check ran out of its CPU budget."""


class TooLarge(Exception):
    """An expansion would be too large: the route that wanted it gives up (others go on)."""


_state = threading.local()


def refused_sizes() -> list[float]:
    """The sizes of the expansions refused during the current check."""
    out = getattr(_state, "refused", None)
    return out if out is not None else []


def expired() -> bool:
    """Whether the current check has used up its budget (cooperative fallback)."""
    deadline = getattr(_state, "deadline", None)
    return deadline is not None and time.process_time() > deadline


def tick() -> None:
    """Raise :class:`OutOfBudget` once the budget is spent (for loops between routes)."""
    if expired():
        raise OutOfBudget("the CPU budget of this check is spent")


def _on_sigprof(signum: int, frame: object) -> None:
    raise OutOfBudget("the CPU budget of this check is spent (ITIMER_PROF)")


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Run the body within ``seconds`` of CPU; nested uses keep the outer budget."""
    if getattr(_state, "deadline", None) is not None:
        yield
        return
    _state.deadline = time.process_time() + seconds
    _state.refused = []
    armed = (threading.current_thread() is threading.main_thread()
             and hasattr(signal, "setitimer") and hasattr(signal, "SIGPROF"))
    previous = None
    if armed:
        try:
            previous = signal.signal(signal.SIGPROF, _on_sigprof)
            # a margin for unwinding and the verdict's text after the interrupt
            signal.setitimer(signal.ITIMER_PROF, max(0.01, 0.95 * seconds))
        except (ValueError, OSError):   # not allowed here: fall back to cooperative checks
            armed = False
    try:
        yield
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous if previous is not None else signal.SIG_DFL)
        _state.deadline = None


def _terms(expr: sp.Basic, cache: dict[sp.Basic, float]) -> float:
    """An upper bound on the number of terms of ``expand(expr)`` (multinomial counting)."""
    if expr in cache:
        return cache[expr]
    if isinstance(expr, sp.Add):
        out = sum(_terms(a, cache) for a in expr.args)
    elif isinstance(expr, sp.Mul):
        out = math.prod(_terms(a, cache) for a in expr.args)
    elif isinstance(expr, sp.Pow) and expr.exp.is_Integer and isinstance(expr.base, sp.Add):
        n, k = abs(int(expr.exp)), len(expr.base.args)
        inner = _terms(expr.base, cache)
        out = float(math.comb(n + k - 1, k - 1)) if inner <= k else inner ** n
    elif isinstance(expr, sp.Basic) and expr.args and not isinstance(expr, (sp.Pow, sp.Symbol)):
        # a function, integral, ...: a normal form may expand inside its arguments
        out = max([1.0, *(_terms(a, cache) for a in expr.args)])
    else:
        out = 1.0
    cache[expr] = out
    return out


def guard_size(expr: sp.Basic, limit: int = MAX_TERMS) -> None:
    """Refuse (raise :class:`TooLarge`) an expansion of more than ``limit`` terms."""
    tick()
    count = _terms(expr, {})
    if count > limit:
        refused_sizes().append(count)
        if getattr(_state, "refused", None) is None:
            _state.refused = [count]
        raise TooLarge(f"expanding would produce about {count:.3g} terms (more than {limit})")
