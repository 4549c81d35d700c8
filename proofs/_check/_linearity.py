"""Route ``exact:linearity``: integrals and sums canonicalised by linearity, then zero."""

from __future__ import annotations

from typing import Any

import sympy as sp

from ._budget import guard_size
from ._forms import _canonical_limits, _prepare, _rational_normal
from ._polynomial import _route_polynomial
from ._rational import _route_rational


def _route_linearity(diff: sp.Expr) -> bool:
    diff = _canonical_limits(_prepare(diff))
    if not diff.has(sp.Integral, sp.Sum):
        return False
    groups: dict[tuple[Any, ...], sp.Expr] = {}
    rest = sp.Integer(0)
    guard_size(diff)
    for term in sp.Add.make_args(sp.expand_mul(diff)):
        integrals = [f for f in sp.Mul.make_args(term) if isinstance(f, (sp.Integral, sp.Sum))]
        if len(integrals) != 1:
            rest += term
            continue
        (node,) = integrals
        coeff = term / node
        bound = {limit[0] for limit in node.limits}
        if coeff.free_symbols & bound:
            rest += term
            continue
        key = (node.func, node.limits)
        groups[key] = groups.get(key, sp.Integer(0)) + coeff * node.function
    for (func, limits), body in groups.items():
        if not _is_zero(body, allow_linearity=False):
            rest += func(body, *limits)
    return rest == 0 or _rational_normal(rest) == 0


def _is_zero(diff: sp.Expr, *, allow_linearity: bool = True) -> bool:
    if diff == 0:
        return True
    for route in (_route_rational, _route_polynomial):
        try:
            if route(diff):
                return True
        except Exception:  # a route that does not apply proves nothing
            continue
    return allow_linearity and _route_linearity(diff)


#: Seconds the slower SymPy routes may start within, per check; the cheap symengine routes always
#: run. A step they cannot reach in time is undecided, never proved.
