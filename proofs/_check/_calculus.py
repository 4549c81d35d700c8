"""Derivatives and limits, each under the condition that makes it valid, or refused.

* A derivative of an expression free of integrals and infinite sums is evaluated by SymPy's
  differentiation rules (exact; non-smooth functions were refused by :mod:`._sanitize`).
* A derivative of an integral (or an infinite sum) in a variable its integrand or limits depend
  on is Leibniz's rule, valid under a domination condition (dominated convergence; Folland,
  *Real Analysis*, Thm. 2.27): it is evaluated only when the step states the hypothesis
  ``"leibniz"``, and then reported as used. Without it the step is undecided.
* A limit is not trusted to ``sympy.limit``: the only limit rule is "an exponential beats a
  power": ``c · s^a · exp(−b / s^m) → 0`` as ``s → 0⁺`` for ``b > 0``, ``m > 0`` and any
  real ``a`` (Rudin, *Principles*, Thm. 8.6(f)); any other limit is undecided.
"""

from __future__ import annotations

import functools
from typing import Any

import sympy as sp


class Refused(Exception):
    """A rewrite whose condition does not hold, or a construct no rule decides."""


def _needs_leibniz(node: sp.Derivative) -> bool:
    variables = {v for v, _ in node.variable_count}
    for inner in node.expr.atoms(sp.Integral, sp.Sum):
        if isinstance(inner, sp.Sum) and all(
                len(limit) == 3 and limit[1].is_finite and limit[2].is_finite
                for limit in inner.limits):
            continue   # a finite sum: linearity, no condition
        if inner.free_symbols & variables:
            return True
    return False


def evaluate(expr: Any, hypotheses: tuple[str, ...], used: set[str],
             refuse: bool = True) -> Any:
    """``expr`` with derivatives, ``Subs`` and limits evaluated where their conditions hold;
    raises :class:`Refused` naming the construct otherwise (with ``refuse=False``, a derivative
    under an integral is left as it is instead, for numeric differentiation)."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: evaluate(e, hypotheses, used, refuse))
    if not isinstance(expr, sp.Basic) or not expr.has(sp.Derivative, sp.Subs, sp.Limit):
        return expr
    value, needed = _evaluate(expr, "leibniz" in hypotheses, refuse)
    used |= needed
    return value


@functools.lru_cache(maxsize=1024)
def _evaluate(expr: sp.Basic, leibniz: bool, refuse: bool) -> tuple[sp.Basic, frozenset[str]]:
    hypotheses = ("leibniz",) if leibniz else ()
    used: set[str] = set()

    def derivative(node: sp.Derivative) -> sp.Expr:
        if _needs_leibniz(node):
            if not refuse:
                return node
            if "leibniz" not in hypotheses:
                raise Refused(f"the derivative {_brief(node)} moves under an integral, which "
                              "needs a domination condition: state it as the hypothesis "
                              "'leibniz' (Step(..., hypotheses=('leibniz',)))")
            used.add("leibniz")
        return node.doit(integrals=False)

    for _ in range(4):
        if not expr.has(sp.Derivative, sp.Subs, sp.Limit):
            break
        new = expr.replace(lambda e: isinstance(e, sp.Limit), _limit) if refuse else expr
        new = new.replace(lambda e: isinstance(e, sp.Derivative), derivative)
        new = new.replace(lambda e: isinstance(e, sp.Subs)
                          and not e.expr.has(sp.Derivative), lambda e: e.doit(deep=False))
        if new == expr:
            break
        expr = new
    return expr, frozenset(used)


def _limit(node: sp.Limit) -> sp.Expr:
    expr, var, point, direction = node.args
    if point == 0 and str(direction) == "+" and _exp_beats_power(expr, var):
        return sp.Integer(0)
    raise Refused(f"the limit {_brief(node)} is not supported (only c·s^a·exp(-b/s^m) -> 0 as "
                  "s -> 0+ is; sympy.limit is not trusted)")


def _exp_beats_power(expr: sp.Expr, var: sp.Symbol) -> bool:
    exponent = sp.Integer(0)
    for factor in sp.Mul.make_args(expr):
        if not factor.has(var):
            if not factor.is_finite:
                return False
            continue
        if isinstance(factor, sp.exp):
            exponent += factor.args[0]
        elif isinstance(factor, sp.Pow) and factor.base == var and factor.exp.is_real \
                and not factor.exp.has(var):
            continue
        elif factor == var:
            continue
        else:
            return False
    terms = sp.Add.make_args(sp.expand(exponent))
    if len(terms) != 1:
        return False
    coeff, rest = terms[0].as_independent(var, as_Add=False)
    if not (rest.is_Pow and rest.base == var and rest.exp.is_negative and rest.exp.is_real):
        return False
    return bool((-coeff).is_positive)


def _brief(node: Any) -> str:
    text = sp.sstr(node, order="none")
    return text if len(text) <= 80 else text[:80] + "..."
