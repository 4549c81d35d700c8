"""Route ``exact:trig``: trigonometric and hyperbolic functions rewritten as exponentials."""

from __future__ import annotations

import sympy as sp

from ._forms import _prepare
from ._polynomial import _route_polynomial
from ._rational import _route_rational


def _route_trig(diff: sp.Expr) -> bool:
    """cos, sin, tan, ... and cosh, sinh, ... as exponentials; then routes 1 or 3."""
    trig = (sp.functions.elementary.trigonometric.TrigonometricFunction,
            sp.functions.elementary.hyperbolic.HyperbolicFunction)
    prepared = _prepare(diff)
    if not prepared.atoms(*trig):
        return False
    rewritten = prepared.rewrite(sp.exp)
    return _route_rational(rewritten) or _route_polynomial(rewritten)


