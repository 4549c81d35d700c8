"""Route ``exact:log``: both sides products of positive factors whose logarithms agree.

``log(a·b) = log a + log b`` and ``log(a^r) = r log a`` hold for ``a, b > 0`` and real ``r``;
``expand_log`` is called without ``force``, so SymPy applies them only where its assumptions
show the conditions (``force=True`` would also turn ``log(x**2)`` into ``2 log x`` for a negative
``x``). Logarithms are compared, never expanded inside their arguments (an argument such as
``(1 + x_1)···(1 + x_30) + 1`` would expand to 2^30 terms).
"""

from __future__ import annotations

import sympy as sp

from ._budget import OutOfBudget
from ._forms import _rational_normal
from ._rational import _route_cleared


def _route_log(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    factors = sp.Mul.make_args(lhs) + sp.Mul.make_args(rhs)
    if not all(f.is_positive for f in factors):
        return False
    log_l = sp.expand_log(sp.log(lhs))
    log_r = sp.expand_log(sp.log(rhs))
    difference = log_l - log_r
    try:
        if _route_cleared(difference):
            return True
    except OutOfBudget:
        raise
    except Exception:  # symengine does not know a node: the SymPy route decides
        pass
    return _rational_normal(sp.expand(difference, deep=False)) == 0
