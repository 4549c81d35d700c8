"""Assumptions: symbol facts, substitutions of equalities, and an empty region refused.

An equality assumption ``Eq(x, e)`` on a symbol is substituted for the free occurrences of ``x``
only (:func:`._binding.subs_free`: never inside a binder of ``x``, never capturing a variable of
``e``); one whose left side is not a symbol (a normalisation ``Eq(Integral(q(y), ...), 1)``) is
also kept as a rewrite that the routes apply after canonicalisation (:mod:`._normalise`).
Contradictory assumptions raise :class:`~proofs.InvalidStep` where they can be detected: a
symbol fact that SymPy finds inconsistent, an equality that makes another condition false, or
conditions on one symbol that no value satisfies.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.logic.boolalg import Boolean

from .._errors import InvalidStep, invalid
from .._step import Step
from ._binding import subs_free

_SIGN_OF = {sp.StrictGreaterThan: "positive", sp.GreaterThan: "nonnegative",
            sp.StrictLessThan: "negative", sp.LessThan: "nonpositive"}
_PREDICATES = {"positive": "positive", "nonnegative": "nonnegative", "negative": "negative",
               "nonpositive": "nonpositive", "real": "real", "integer": "integer",
               "nonzero": "nonzero", "finite": "finite"}


class _Context:
    """Assumptions turned into symbol properties, known-nonnegative forms and substitutions."""

    def __init__(self) -> None:
        self.nonnegative: list[sp.Expr] = []   # expressions known >= 0
        self.positive: list[sp.Expr] = []      # expressions known > 0
        self.conditions: list[Boolean] = []    # all conditions, for numeric sampling
        self.equalities: dict[sp.Symbol, sp.Expr] = {}          # symbol = value
        self.rewrites: list[tuple[sp.Expr, sp.Expr]] = []      # other equalities, lhs -> rhs
        self.hypotheses: tuple[str, ...] = ()
        self.used: set[str] = set()                             # hypotheses used
        self.renames: dict[sp.Symbol, sp.Symbol] = {}          # symbols with assumed facts
        self.unequal: list[Boolean] = []                        # Ne conditions


def _apply_assumptions(step: Step) -> tuple[Any, Any, Any, _Context]:
    context = _Context()
    context.hypotheses = tuple(step.hypotheses)
    facts: dict[sp.Symbol, dict[str, bool]] = {}
    substitutions: dict[sp.Basic, sp.Basic] = {}
    for assumption in step.assumptions:
        if assumption is sp.true:
            continue
        if isinstance(assumption, sp.Eq):
            left, right = assumption.lhs, assumption.rhs
            if not isinstance(left, sp.Symbol) and isinstance(right, sp.Symbol):
                left, right = right, left
            if left in substitutions:
                _contradiction(step, f"Eq({left}, {substitutions[left]})", assumption,
                               sp.Eq(substitutions[left], right))
            substitutions[left] = right
            if isinstance(left, sp.Symbol):
                context.equalities[left] = right
            else:
                context.rewrites.append((left, right))
            continue
        if isinstance(assumption, sp.Ne):
            context.unequal.append(assumption)
            expr = assumption.lhs - assumption.rhs
            if isinstance(expr, sp.Symbol):
                facts.setdefault(expr, {})["nonzero"] = True
            continue
        if isinstance(assumption, sp.logic.boolalg.And):
            raise invalid("assumptions", f"step {step.name!r} has a conjunction {assumption}",
                          "list each condition as its own tuple entry", InvalidStep)
        if hasattr(assumption, "function") and hasattr(assumption, "arguments"):  # Q.<pred>(x)
            key = _PREDICATES.get(getattr(assumption.function, "name", str(assumption.function)))
            (arg,) = assumption.arguments
            if key is None or not isinstance(arg, sp.Symbol):
                raise invalid("assumptions", f"unsupported predicate {assumption}",
                              "use Q.positive/nonnegative/negative/real/integer on a symbol, or a "
                              "relation like x > 0", InvalidStep)
            facts.setdefault(arg, {})[key] = True
            continue
        sign = _SIGN_OF.get(type(assumption))
        if sign is None:
            raise invalid("assumptions", f"unsupported condition {assumption}",
                          "use <, <=, >, >=, Eq or Ne", InvalidStep)
        expr = sp.expand(assumption.lhs - assumption.rhs)
        if sign in ("negative", "nonpositive"):
            expr, sign = -expr, "positive" if sign == "negative" else "nonnegative"
        context.conditions.append(assumption)
        if isinstance(expr, sp.Symbol):
            facts.setdefault(expr, {})[sign] = True
        else:
            context.nonnegative.append(expr)
            if sign == "positive":
                context.positive.append(expr)
    renames: dict[sp.Symbol, sp.Symbol] = {}
    for symbol, new in facts.items():
        merged = {**symbol.assumptions0, **new}
        try:
            renames[symbol] = sp.Symbol(symbol.name, **merged)
        except Exception as exc:  # sympy's InconsistentAssumptions
            raise invalid("assumptions", f"step {step.name!r} assumes contradictory facts "
                          f"about {symbol}: {exc}", "remove one of the conflicting conditions",
                          InvalidStep) from None
    context.renames = renames
    _reject_empty_region(step, context, renames)
    _reject_false_equalities(step, context, renames)

    def apply(value: Any) -> Any:
        if value is None:
            return None
        out = subs_free(value, substitutions)
        return out.xreplace(renames) if renames else out

    context.nonnegative = [apply(e) for e in context.nonnegative]
    context.positive = [apply(e) for e in context.positive]
    context.conditions = [apply(c) for c in context.conditions]
    context.rewrites = [(lhs.xreplace(renames), rhs.xreplace(renames))
                        for lhs, rhs in context.rewrites]
    return apply(step.lhs), apply(step.rhs), apply(step.witness), context


def _reject_empty_region(step: Step, context: _Context,
                         renames: dict[sp.Symbol, sp.Symbol]) -> None:
    """Conditions on one symbol (e.g. ``t > 2`` and ``t < 1``) must leave some value."""
    by_symbol: dict[sp.Symbol, list[Boolean]] = {}
    for condition in context.conditions:
        free = condition.free_symbols
        if len(free) == 1 and not condition.atoms(AppliedUndef, sp.Integral):
            by_symbol.setdefault(next(iter(free)), []).append(condition)
    for symbol, conditions in by_symbol.items():
        real = sp.Symbol(symbol.name, real=True)
        try:
            region = sp.reduce_inequalities([c.xreplace({symbol: real}) for c in conditions], real)
        except Exception:  # not a polynomial condition: leave it to numeric sampling
            continue
        if region is sp.false:
            raise invalid("assumptions", f"step {step.name!r} assumes {conditions}, which no "
                          f"value of {symbol} satisfies", "fix or drop the contradicting "
                          "condition", InvalidStep)
        known = renames.get(symbol, symbol)
        for fact, holds in (("positive", real > 0), ("nonnegative", real >= 0),
                            ("negative", real < 0), ("nonpositive", real <= 0)):
            if getattr(known, f"is_{fact}") and sp.reduce_inequalities(
                    [c.xreplace({symbol: real}) for c in conditions] + [holds], real) is sp.false:
                raise invalid("assumptions", f"step {step.name!r} declares {symbol} {fact} "
                              f"but assumes {conditions}", "fix or drop the contradicting "
                              "condition", InvalidStep)




def _contradiction(step: Step, first: Any, second: Any, why: Any) -> None:
    if why is sp.false or (isinstance(why, sp.Basic) and why == sp.false):
        raise invalid("assumptions", f"step {step.name!r} assumes {first} and {second}, which "
                      "contradict each other", "fix or drop the contradicting condition",
                      InvalidStep)


def _reject_false_equalities(step: Step, context: _Context,
                             renames: dict[sp.Symbol, sp.Symbol]) -> None:
    """Equalities must agree with the symbols' facts, the other conditions and each other:
    substitute every equality into every condition (``Eq(x, 1)`` with ``x > 2`` gives ``1 > 2``;
    ``Eq(x, y)`` with ``x > 0``, ``y < 0`` gives ``y > 0``, ``y < 0``: an empty region)."""
    mapping: dict[sp.Basic, sp.Basic] = dict(context.equalities)
    mapping.update(dict(context.rewrites))
    if not mapping:
        return
    derived: list[Any] = []
    for symbol, value in context.equalities.items():
        known = renames.get(symbol, symbol)
        for fact in ("positive", "nonnegative", "negative", "nonpositive", "real", "integer",
                     "nonzero"):
            if getattr(known, f"is_{fact}") and getattr(value, f"is_{fact}") is False:
                raise invalid("assumptions", f"step {step.name!r} assumes {symbol} = {value}, "
                              f"but {symbol} is {fact}", "fix or drop the contradicting "
                              "condition", InvalidStep)
        for fact, relation in (("positive", sp.StrictGreaterThan), ("negative",
                                                                     sp.StrictLessThan),
                               ("nonnegative", sp.GreaterThan), ("nonpositive", sp.LessThan)):
            if getattr(known, f"is_{fact}"):
                derived.append((f"{symbol} {fact}", relation(value, 0)))
    for condition in [*context.conditions, *context.unequal]:
        try:
            derived.append((condition, condition.xreplace(mapping)))
        except Exception:  # a condition SymPy cannot rebuild: nothing to detect
            continue
    equalities = ", ".join(f"Eq({k}, {v})" for k, v in mapping.items())
    for original, condition in derived:
        _contradiction(step, equalities, original, condition)
    probe = _Context()
    probe.conditions = [c for _, c in derived if isinstance(c, tuple(_SIGN_OF))]
    _reject_empty_region(step, probe, {})
    _reject_signed_integrals(step, context)


def _reject_signed_integrals(step: Step, context: _Context) -> None:
    """``Eq(Integral(g, (x, -oo, oo)), v)`` with ``g < 0`` (``g > 0``) assumed and ``v >= 0``
    (``v <= 0``): the integral of a function of one sign over the line has that sign."""
    for node, value in context.rewrites:
        if not isinstance(node, sp.Integral) or any(
                len(lim) != 3 or lim[1] != -sp.oo or lim[2] != sp.oo for lim in node.limits):
            continue
        body = node.function
        negative = any(sp.expand(k + body) == 0 for k in context.positive)
        positive = any(sp.expand(k - body) == 0 for k in context.positive)
        if (negative and value.is_nonnegative) or (positive and value.is_nonpositive):
            raise invalid("assumptions", f"step {step.name!r} assumes {node} = {value} and an "
                          f"integrand of the opposite sign", "fix or drop the contradicting "
                          "condition", InvalidStep)
