"""Inequalities: ``lhs <= rhs`` proved only when ``rhs - lhs`` is manifestly nonnegative."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef

from .._step import Verdict
from ._assumptions import _Context
from ._equality import _equal_by
from ._evidence import _undecided_equality, _undecided_inequality
from ._forms import _prepare


def _nonnegative(expr: sp.Expr, context: _Context, depth: int = 0) -> bool:
    """Structural proof that ``expr >= 0``: no search, no numerics."""
    if depth > 40:
        return False
    if expr.is_nonnegative:
        return True
    if _is_known(expr, context.nonnegative):
        return True
    if isinstance(expr, (sp.Add, sp.Mul)):
        return all(_nonnegative(arg, context, depth + 1) for arg in expr.args)
    if isinstance(expr, sp.Pow):
        if expr.exp.is_even and expr.base.is_extended_real:
            return True
        if expr.exp.is_even and _real_valued(expr.base):
            return True
        # a nonnegative base to a real power is nonnegative wherever it is defined
        return _positive(expr.base, context) or (
            bool(expr.exp.is_extended_real) and _nonnegative(expr.base, context, depth + 1))
    if isinstance(expr, sp.exp):
        return _real_valued(expr.args[0])
    if isinstance(expr, (sp.Integral, sp.Sum)):
        # each range runs upwards (oo is extended-nonnegative, not nonnegative, in SymPy)
        ordered = all(len(limit) == 3 and (limit[1] == -sp.oo or limit[2] == sp.oo
                                           or bool((limit[2] - limit[1]).is_extended_nonnegative))
                      for limit in expr.limits)
        return ordered and _nonnegative(expr.function, context, depth + 1)
    return False


def _positive(expr: sp.Expr, context: _Context) -> bool:
    if expr.is_positive:
        return True
    return _is_known(expr, context.positive)


def _is_known(expr: sp.Expr, known: list[sp.Expr]) -> bool:
    """``expr`` is one of the assumed forms: structurally, or (for small expressions without
    integrals) after expansion."""
    if any(expr == k for k in known):
        return True
    if not known or expr.has(sp.Integral, sp.Sum) or sp.count_ops(expr) > 40:
        return False
    return any(sp.expand(expr - k) == 0 for k in known)


def _real_valued(expr: sp.Expr) -> bool:
    if expr.is_extended_real:
        return True
    atoms = expr.atoms(sp.Symbol, AppliedUndef)
    return all(a.is_extended_real for a in atoms) and not expr.has(sp.I)


def _check_inequality(small: sp.Expr, big: sp.Expr, witness: Any, context: _Context,
                      names: tuple[str, str] = ("lhs", "rhs")) -> Verdict:
    gap = big - small
    gap_name = f"{names[1]} - {names[0]}"
    if witness is not None:
        route = _equal_by(gap, witness)
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
            candidates.append(transform(_prepare(gap)))
        except Exception:  # a transform that does not apply proves nothing
            continue
    if any(_nonnegative(c, context) for c in candidates):
        return Verdict(ok=True, method="exact:nonnegative",
                       detail=f"{gap_name} is manifestly nonnegative", status="proved")
    return _undecided_inequality(small, big, context, f"{gap_name} is not manifestly "
                                 "nonnegative (give a witness?)", names)


