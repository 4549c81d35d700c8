"""Equalities: the exact routes tried cheapest first within a CPU budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from .._step import Verdict
from ._assumptions import _Context
from ._common import _clock
from ._evidence import _undecided_equality
from ._forms import _scalar_entries
from ._linearity import _route_linearity
from ._log import _route_log
from ._polynomial import _route_expanded, _route_polynomial
from ._rational import _route_cleared, _route_rational
from ._trig import _route_trig

_ROUTE_SECONDS = 1.0


def _equal_by(lhs: sp.Expr, rhs: sp.Expr, deadline: float | None = None) -> str | None:
    """The name of the first exact route that proves lhs == rhs, or None.

    Routes are tried cheapest first; after ``deadline`` (a ``_clock()`` value) no
    further SymPy route is started.
    """
    diff = lhs - rhs
    if diff == 0:
        return "exact:rational"
    if deadline is None:
        deadline = _clock() + _ROUTE_SECONDS
    cheap: list[tuple[str, Callable[[], bool]]] = [
        ("exact:polynomial", lambda: _route_cleared(diff)),    # symengine
        ("exact:linearity", lambda: _route_expanded(diff)),   # only with integrals/sums
    ]
    if diff.has(sp.Integral, sp.Sum):
        cheap.reverse()   # integrals must be canonical before they can cancel
    routes: list[tuple[str, Callable[[], bool]]] = [
        *cheap,
        ("exact:log", lambda: _route_log(lhs, rhs)),           # products of positive factors
        ("exact:rational", lambda: _route_rational(diff)),
        ("exact:polynomial", lambda: _route_polynomial(diff)),
        ("exact:linearity", lambda: _route_linearity(diff)),
        ("exact:trig", lambda: _route_trig(diff)),
    ]
    for index, (name, route) in enumerate(routes):
        if index >= 2 and _clock() > deadline:
            break
        try:
            if route():
                return name
        except Exception:  # a route that does not apply to this expression proves nothing
            continue
    return None


def _check_equality(lhs: Any, rhs: Any, context: _Context) -> Verdict:
    methods = set()
    deadline = _clock() + _ROUTE_SECONDS
    for index, (left, right) in enumerate(zip(_scalar_entries(lhs), _scalar_entries(rhs),
                                              strict=True)):
        method = _equal_by(left, right, deadline)
        if method is None:
            where = f" (entry {index})" if isinstance(lhs, sp.MatrixBase) else ""
            return _undecided_equality(left, right, context, where)
        methods.add(method)
    method = sorted(methods)[-1] if methods else "exact:rational"
    return Verdict(ok=True, method=method, detail="lhs - rhs reduces to 0", status="proved")


