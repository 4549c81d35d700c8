"""The one generic checker: :func:`check` decides any :class:`~proofs.Step`.

An equality is *proved* only by an exact route (no ``simplify``, no floats), cheapest first:

1. ``exact:polynomial``: polynomial identity with denominators cleared, in symengine: every
   integral, sum and non-exponential function is an opaque generator, each sum in a denominator
   one opaque base; multiply by all denominators and expand; also, for square roots, the
   numerator with each radical eliminated by its defining polynomial;
2. ``exact:linearity``: integrals and sums are canonicalised by linearity (split over the terms
   of the expanded integrand, factors free of the bound variables pulled out, iterated integrals
   over fixed limits joined by Fubini) and the rest is 0 by route 1; or integrals over one domain
   are merged and their merged integrand is 0;
3. ``exact:log``: both sides are products of positive factors and their logarithms agree;
4. ``exact:rational``: ``lhs - rhs`` has rational normal form 0 (SymPy ``cancel``);
5. ``exact:trig``: trigonometric and hyperbolic functions are rewritten as exponentials.

The slower SymPy routes (3-5) start only within a CPU budget per check (``_ROUTE_SECONDS``).

An inequality ``lhs <= rhs`` is proved (``exact:nonnegative``) only when ``rhs - lhs``, or the
``witness`` it is proved equal to, is manifestly nonnegative under the assumptions: sums, products
and integrals of nonnegative factors, squares of real expressions, positive symbols, nonnegative
bases to real powers.

Everything else is *undecided* and never ``ok``: the verdict carries numeric evidence (the sides
evaluated at sample points, with any undefined function replaced by a concrete positive one, and
integrals by bounded float64 quadrature within ``_PROBE_SECONDS`` of CPU), and a sample where the
claim fails makes the verdict *refuted*, naming the side that is larger and, where every probe
shows it, the shape of the error (a constant factor, a sign flip, a constant term).
"""


from __future__ import annotations

import time
from dataclasses import replace

from .._errors import SmeqError
from .._step import Step, Verdict
from ._assumptions import _apply_assumptions
from ._equality import _check_equality
from ._evidence import _short
from ._inequality import _check_inequality
from ._validate import _validate

__all__ = ["check"]


def check(step: Step) -> Verdict:
    """Decide ``step`` by an exact route, or report it refuted or undecided with numeric evidence.

    Raises :class:`~proofs.InvalidStep` for a malformed step: sides that are not SymPy objects,
    a relation other than ``==``, ``<=``, ``>=``, or assumptions that contradict each other.
    """
    start = time.perf_counter()
    _validate(step)
    lhs, rhs, witness, context = _apply_assumptions(step)
    try:
        if step.relation == "==":
            verdict = _check_equality(lhs, rhs, context)
        elif step.relation == "<=":
            verdict = _check_inequality(lhs, rhs, witness, context, ("lhs", "rhs"))
        else:
            verdict = _check_inequality(rhs, lhs, witness, context, ("rhs", "lhs"))
    except SmeqError:
        raise
    except Exception as exc:  # a SymPy failure on a well-formed step: not proved, and said so
        verdict = Verdict(ok=False, method="evidence:error", status="undecided",
                          detail=f"undecided: the checker failed on this step "
                          f"({type(exc).__name__}: {_short(exc)}); nothing was proved")
    return replace(verdict, seconds=time.perf_counter() - start)

