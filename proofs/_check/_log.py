"""Route ``exact:log``: both sides products of positive factors whose logarithms agree."""

from __future__ import annotations

import sympy as sp

from ._forms import _rational_normal
from ._rational import _route_cleared


def _route_log(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    factors = sp.Mul.make_args(lhs) + sp.Mul.make_args(rhs)
    if not all(f.is_positive for f in factors):
        return False
    log_l = sp.expand_log(sp.log(lhs), force=True)
    log_r = sp.expand_log(sp.log(rhs), force=True)
    difference = log_l - log_r
    try:
        if _route_cleared(difference):
            return True
    except Exception:  # symengine does not know a node: the SymPy route decides
        pass
    return _rational_normal(sp.expand(difference)) == 0


