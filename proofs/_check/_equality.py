"""Equalities: the exact routes tried cheapest first within a CPU budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from .._step import Verdict
from ._assumptions import _Context
from ._binding import canonical_bound, subs_free
from ._budget import guard_size, tick
from ._cases import _route_cases
from ._common import _clock
from ._evidence import _undecided_equality
from ._forms import _expand_limits, _prepare, _rational_zero_in_generators, _scalar_entries
from ._linearity import _is_zero, _route_linearity
from ._log import _route_log
from ._polynomial import _route_expanded, _route_polynomial
from ._rational import _route_cleared, _route_rational
from ._sanitize import fresh_prefix
from ._trig import _route_trig

_ROUTE_SECONDS = 1.0


def _route_rewrite(diff: sp.Expr, rewrites: tuple[tuple[sp.Expr, sp.Expr], ...]) -> bool:
    """Equality assumptions whose left side is not a symbol (a normalisation ∫q = 1), applied
    after canonicalisation, so that they match the terms expansion produces; bound variables
    are compared up to renaming and never captured."""
    canonical = _expand_limits(_prepare(diff))
    algebraic = [lhs - rhs for lhs, rhs in rewrites if not lhs.has(sp.Integral, sp.Sum)]
    if algebraic and _reduces_to_zero(canonical, algebraic):
        return True
    for pattern, value in rewrites:
        key = _expand_limits(_prepare(pattern))
        prefix = fresh_prefix(canonical, key, value)
        canonical, key = canonical_bound(canonical, prefix), canonical_bound(key, prefix)
        # key = c·N + rest with N one integral/sum node: N = (value - rest)/c
        terms = sp.Add.make_args(sp.expand(key))
        nodes = sorted({n for term in terms for n in sp.Mul.make_args(term)
                        if isinstance(n, (sp.Integral, sp.Sum))}, key=sp.default_sort_key)
        if not nodes:
            continue
        node = nodes[0]
        coeff = sum((term / node for term in terms if node in sp.Mul.make_args(term)),
                    sp.Integer(0))
        rest = sum((term for term in terms if node not in sp.Mul.make_args(term)),
                   sp.Integer(0))
        if coeff == 0 or coeff.has(node):
            continue
        canonical = subs_free(canonical, {node: (value - rest) / coeff})
    try:
        return _route_cleared(canonical)
    except Exception:  # symengine does not know a node: SymPy's rational normal form decides
        return _rational_zero_in_generators(canonical)


def _reduces_to_zero(diff: sp.Expr, constraints: list[sp.Expr]) -> bool:
    """The numerator of ``diff`` reduces to 0 modulo the polynomial constraints ``g = 0``
    (division by each ``g`` in a variable where its leading coefficient is a nonzero number,
    so that ``numerator = q·g + 0`` and ``g = 0`` give ``numerator = 0``)."""
    numerator, _ = sp.fraction(sp.together(diff))
    guard_size(numerator)
    numerator = sp.expand(numerator)
    for g in constraints:
        g = sp.expand(g)
        for var in sorted(g.free_symbols, key=sp.default_sort_key):
            try:
                poly = sp.Poly(g, var)
            except sp.PolynomialError:
                continue
            if poly.degree() >= 1 and poly.LC().is_number and poly.LC() != 0:
                try:
                    numerator = sp.expand(sp.rem(numerator, g, var))
                except Exception:  # not a polynomial in var: this constraint cannot reduce it
                    break
                break
    return bool(numerator == 0)


def _equal_by(lhs: sp.Expr, rhs: sp.Expr, deadline: float | None = None,
              rewrites: tuple[tuple[sp.Expr, sp.Expr], ...] = (),
              context: _Context | None = None) -> str | None:
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
        ("exact:cases", lambda: _route_cases(diff, _is_zero)),
    ]
    if rewrites:
        routes.insert(2, ("exact:rewrite", lambda: _route_rewrite(diff, rewrites)))
    for index, (name, route) in enumerate(routes):
        tick()
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
        method = _equal_by(left, right, deadline, tuple(context.rewrites), context)
        if method is None:
            where = f" (entry {index})" if isinstance(lhs, sp.MatrixBase) else ""
            return _undecided_equality(left, right, context, where)
        methods.add(method)
    method = sorted(methods)[-1] if methods else "exact:rational"
    return Verdict(ok=True, method=method, detail="lhs - rhs reduces to 0", status="proved")


