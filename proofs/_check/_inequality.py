"""Inequalities: ``lhs <= rhs`` proved only when ``rhs - lhs`` is manifestly nonnegative."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef

from .._step import Verdict
from ._assumptions import _Context
from ._budget import guard_size
from ._equality import _equal_by
from ._evidence import _undecided_equality, _undecided_inequality
from ._forms import _prepare


def _nonnegative(expr: sp.Expr, context: _Context, depth: int = 0,
                 bound: frozenset[sp.Symbol] = frozenset()) -> bool:
    """Structural proof that ``expr`` is real and ``>= 0``: no search, no numerics.

    Passes only manifestly real nonnegative forms: SymPy's own sign facts (on expressions
    without binders), the assumed forms, sums and products of such, even powers of provably
    real expressions, nonnegative bases to integer powers, positive bases to real powers,
    exponentials of real arguments, and integrals/sums over real ordered ranges whose bound
    variable's declared sign agrees with its range.
    """
    if depth > 40:
        return False
    if not expr.has(sp.Integral, sp.Sum, sp.Derivative) and expr.is_nonnegative:
        return True
    if _is_known(expr, _usable(context.nonnegative, bound)):
        return True
    if isinstance(expr, (sp.Add, sp.Mul)):
        return all(_nonnegative(arg, context, depth + 1, bound) for arg in expr.args)
    if isinstance(expr, sp.Pow):
        if expr.exp.is_even and _real_valued(expr.base):
            return True
        if expr.exp.is_integer and _nonnegative(expr.base, context, depth + 1, bound):
            return True
        if not expr.exp.is_extended_real:
            return False
        return _positive(expr.base, context, bound) or (
            bool(expr.exp.is_positive) and _nonnegative(expr.base, context, depth + 1, bound))
    if isinstance(expr, sp.exp):
        return _real_valued(expr.args[0])
    if isinstance(expr, (sp.Integral, sp.Sum)):
        inner = bound | {limit[0] for limit in expr.limits}
        return _ordered_range(expr) and _nonnegative(expr.function, context, depth + 1, inner)
    return False


def _usable(known: list[sp.Expr], bound: frozenset[sp.Symbol]) -> list[sp.Expr]:
    """Assumed forms usable under binders of ``bound``: a form about a bound variable counts
    only as a statement about an undefined function (a density ``p(x) >= 0`` for every x), not
    as a constraint on the variable's range (``x**3 >= 0`` says nothing inside ∫_{-2}^{1})."""
    if not bound:
        return known
    out = []
    for form in known:
        involved = form.free_symbols & bound
        if not involved:
            out.append(form)
        elif isinstance(form, AppliedUndef) and all(a.is_Symbol for a in form.args):
            out.append(form)
    return out


def _ordered_range(node: Any) -> bool:
    """Every limit is real, runs upwards, and agrees with its variable's declared sign."""
    for limit in node.limits:
        if len(limit) != 3:
            return False
        var, low, high = limit
        if not (low.is_extended_real and high.is_extended_real) or low == sp.oo \
                or high == -sp.oo:
            return False
        if not (low == -sp.oo or high == sp.oo or bool((high - low).is_extended_nonnegative)):
            return False
        if isinstance(node, sp.Integral) and var.is_integer:
            return False
        if (var.is_nonnegative and not low.is_nonnegative) or (
                var.is_nonpositive and not high.is_nonpositive):
            return False
    return True


def _positive(expr: sp.Expr, context: _Context,
              bound: frozenset[sp.Symbol] = frozenset()) -> bool:
    if not expr.has(sp.Integral, sp.Sum, sp.Derivative) and expr.is_positive:
        return True
    return _is_known(expr, _usable(context.positive, bound))


def _is_known(expr: sp.Expr, known: list[sp.Expr]) -> bool:
    """``expr`` is one of the assumed forms: structurally, or (for small expressions without
    integrals) after expansion."""
    if any(expr == k for k in known):
        return True
    if not known or expr.has(sp.Integral, sp.Sum) or sp.count_ops(expr) > 40:
        return False
    return any(sp.expand(expr - k) == 0 for k in known)


def _real_valued(expr: sp.Expr, depth: int = 0) -> bool:
    """Structural proof that ``expr`` is real wherever it is defined."""
    if depth > 40:
        return False
    if not expr.has(sp.Integral, sp.Sum, sp.Derivative) and expr.is_extended_real:
        return True
    if isinstance(expr, (sp.Symbol, AppliedUndef)):
        return bool(expr.is_extended_real)
    if isinstance(expr, (sp.Add, sp.Mul)):
        return all(_real_valued(a, depth + 1) for a in expr.args)
    if isinstance(expr, sp.Pow):
        if expr.exp.is_integer:
            return _real_valued(expr.base, depth + 1)
        return bool(expr.base.is_positive) and _real_valued(expr.exp, depth + 1)
    if isinstance(expr, (sp.exp, sp.sin, sp.cos, sp.tanh, sp.atan)):
        return _real_valued(expr.args[0], depth + 1)
    if isinstance(expr, sp.log):
        return bool(expr.args[0].is_positive)
    if isinstance(expr, sp.Abs):
        return True
    if isinstance(expr, (sp.Integral, sp.Sum)):
        return _ordered_range(expr) and _real_valued(expr.function, depth + 1)
    return False


def _check_inequality(small: sp.Expr, big: sp.Expr, witness: Any, context: _Context,
                      names: tuple[str, str] = ("lhs", "rhs")) -> Verdict:
    gap = big - small
    gap_name = f"{names[1]} - {names[0]}"
    if witness is not None:
        route = _equal_by(gap, witness, None, tuple(context.rewrites), context)
        if route is None:
            outright = _undecided_inequality(small, big, context, "and the witness is not "
                                             f"equal to {gap_name}", names)
            if outright.status == "refuted":
                return outright
            verdict = _undecided_equality(gap, witness, context, "", (gap_name, "witness"))
            return replace(verdict, detail=f"the witness is not equal to {gap_name}: "
                           + verdict.detail)
        if _nonnegative(witness, context):
            return Verdict(ok=True, method="exact:nonnegative",
                           detail=f"{gap_name} equals the witness by {route}; the witness is "
                           "manifestly nonnegative", status="proved")
        return _undecided_inequality(small, big, context, f"{gap_name} equals the witness, but "
                                     "the witness is not manifestly nonnegative under the "
                                     "assumptions", names)
    candidates = [gap, _prepare(gap)]
    transforms = (sp.together,) if gap.has(sp.Integral, sp.Sum) else (sp.together, sp.cancel,
                                                                      sp.factor)
    for transform in transforms:
        try:
            guard_size(gap)
            candidates.append(transform(_prepare(gap)))
        except Exception:  # a transform that does not apply proves nothing
            continue
    if any(_nonnegative(c, context) for c in candidates):
        return Verdict(ok=True, method="exact:nonnegative",
                       detail=f"{gap_name} is manifestly nonnegative", status="proved")
    return _undecided_inequality(small, big, context, f"{gap_name} is not manifestly "
                                 "nonnegative (give a witness?)", names)


