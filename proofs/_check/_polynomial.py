"""Route ``exact:polynomial``: polynomial identity with radicals eliminated; expansion to zero."""

from __future__ import annotations

import sympy as sp

from ._budget import guard_size
from ._forms import (
    _expand_limits,
    _expands_to_zero,
    _merge_exponentials,
    _prepare,
    _rational_zero_in_generators,
    _split_exponentials,
)
from ._rational import _route_cleared


def _route_polynomial(diff: sp.Expr) -> bool:
    numerator, _ = sp.fraction(sp.together(_split_exponentials(_prepare(diff))))
    guard_size(numerator)
    numerator = sp.expand(numerator)
    radicals = sorted({p for p in numerator.atoms(sp.Pow) if p.exp == sp.Rational(1, 2)},
                      key=sp.default_sort_key)
    for index, radical in enumerate(radicals):
        root = sp.Dummy(f"r{index}")
        numerator = sp.expand(numerator.xreplace({radical: root}))
        numerator = sp.rem(numerator, root**2 - radical.base, root)
    return _expands_to_zero(numerator)






def _route_expanded(diff: sp.Expr) -> bool:
    if not diff.has(sp.Integral, sp.Sum):
        return False
    canonical = _expand_limits(_prepare(diff))
    try:
        if _route_cleared(canonical):
            return True
    except Exception:  # symengine does not know a node: SymPy's rational normal form decides
        if _rational_zero_in_generators(canonical):
            return True
    if canonical.has(sp.exp):   # exponents that agree only as rational functions
        return _route_cleared(_merge_exponentials(canonical))
    return False


