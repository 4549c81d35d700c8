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

import functools
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.logic.boolalg import Boolean, BooleanAtom

from ._errors import InvalidStep, SmeqError, invalid
from ._step import RELATIONS, Step, Verdict

__all__ = ["check"]

#: Budgets are CPU seconds of this process, so that a verdict does not depend on how busy the
#: machine is (two xdist workers, other jobs): the same step gets the same verdict everywhere.
_clock = time.process_time

_Route = Callable[[sp.Expr], bool]
_MAX_DETAIL = 240
_PROBES = 6
_DIGITS = 20


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


# ----------------------------------------------------------------------------- validation
def _is_symbolic(value: Any) -> bool:
    # Expressions and matrices only: relations, And, True, Lambda and other non-expressions are
    # out (a Symbol is also a Boolean in SymPy, but it is an Expr).
    return isinstance(value, (sp.Expr, sp.MatrixBase)) and not isinstance(value, sp.Lambda)


def _validate(step: Step) -> None:
    if not isinstance(step, Step):
        raise invalid("step", f"got {type(step).__name__}, not a proofs.Step",
                      "build it as proofs.Step(name, lhs, rhs, relation, justification, "
                      "assumptions)",
                      InvalidStep)
    if not isinstance(step.name, str) or not step.name:
        raise invalid("name", f"got {step.name!r}", "give the step a non-empty string name",
                      InvalidStep)
    for side in ("lhs", "rhs"):
        value = getattr(step, side)
        if not _is_symbolic(value):
            raise invalid(side, f"step {step.name!r} has a {type(value).__name__} "
                          f"({value!r:.60}), not a SymPy expression",
                          "pass SymPy objects, e.g. sympy.Integer(1) or sympy.Rational(1, 3); "
                          "floats are inexact and strings are not parsed", InvalidStep)
    for side in ("lhs", "rhs", "witness"):
        value = getattr(step, side)
        if isinstance(value, (sp.Basic, sp.MatrixBase)) and value.has(sp.nan, sp.zoo):
            raise invalid(side, f"step {step.name!r} contains nan or zoo (an undefined value)",
                          "state the step where both sides are defined", InvalidStep)
        if isinstance(value, (sp.Basic, sp.MatrixBase)) and value.atoms(sp.Float):
            raise invalid(side, f"step {step.name!r} contains the float "
                          f"{sorted(value.atoms(sp.Float), key=str)[0]}, which no exact route "
                          "can use", "write numbers as sympy.Rational(p, q) or sympy.Integer(n)",
                          InvalidStep)
    if step.relation not in RELATIONS:
        raise invalid("relation", f"step {step.name!r} has relation {step.relation!r}",
                      f"use one of {', '.join(RELATIONS)}", InvalidStep)
    lhs_matrix = isinstance(step.lhs, sp.MatrixBase)
    if lhs_matrix != isinstance(step.rhs, sp.MatrixBase) or (
            lhs_matrix and step.lhs.shape != step.rhs.shape):
        raise invalid("rhs", f"step {step.name!r} compares shapes "
                      f"{getattr(step.lhs, 'shape', ())} and {getattr(step.rhs, 'shape', ())}",
                      "make both sides scalars or matrices of one shape", InvalidStep)
    if lhs_matrix and step.relation != "==":
        raise invalid("relation", f"step {step.name!r} orders matrices with {step.relation}",
                      "state the inequality on a scalar, e.g. a trace or a quadratic form",
                      InvalidStep)
    if step.witness is not None and (step.relation == "==" or not _is_symbolic(step.witness)):
        raise invalid("witness", f"step {step.name!r} has witness {step.witness!r:.60}",
                      "give a witness only for an inequality, as a SymPy expression equal to the "
                      "larger side minus the smaller", InvalidStep)
    if not isinstance(step.assumptions, tuple):
        raise invalid("assumptions", f"got {type(step.assumptions).__name__}",
                      "pass a tuple of SymPy relations such as (sigma > 0,)", InvalidStep)
    for assumption in step.assumptions:
        if assumption is sp.false:
            raise invalid("assumptions", f"step {step.name!r} assumes something SymPy already "
                          "evaluates to False (e.g. sigma < 0 for a positive sigma), which "
                          "contradicts the symbols' own assumptions", "drop or fix the "
                          "condition", InvalidStep)
        if assumption is sp.true:   # already implied by the symbols' assumptions
            continue
        if isinstance(assumption, sp.Basic) and assumption.atoms(sp.Float):
            raise invalid("assumptions", f"step {step.name!r} assumes {assumption}, with a "
                          "float", "write numbers as sympy.Rational(p, q)", InvalidStep)
        if not isinstance(assumption, Boolean) or isinstance(assumption, BooleanAtom):
            raise invalid("assumptions", f"step {step.name!r} has {assumption!r:.60}, which is "
                          "not a SymPy relation", "write assumptions like sympy.Symbol('s') > 0, "
                          "not strings or Python booleans", InvalidStep)


# ----------------------------------------------------------------------------- assumptions
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


def _apply_assumptions(step: Step) -> tuple[Any, Any, Any, _Context]:
    context = _Context()
    facts: dict[sp.Symbol, dict[str, bool]] = {}
    substitutions: dict[sp.Basic, sp.Basic] = {}
    for assumption in step.assumptions:
        if assumption is sp.true:
            continue
        if isinstance(assumption, sp.Eq):
            substitutions[assumption.lhs] = assumption.rhs
            continue
        if isinstance(assumption, sp.Ne):
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
    _reject_empty_region(step, context, renames)

    def apply(value: Any) -> Any:
        if value is None:
            return None
        out = value.xreplace(substitutions) if substitutions else value
        return out.xreplace(renames) if renames else out

    context.nonnegative = [apply(e) for e in context.nonnegative]
    context.positive = [apply(e) for e in context.positive]
    context.conditions = [apply(c) for c in context.conditions]
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


# ----------------------------------------------------------------------------- normal forms
@functools.lru_cache(maxsize=512)
def _prepare(expr: sp.Expr) -> sp.Expr:
    """Evaluate derivatives (into integrals too, repeatedly: differentiating under an integral
    leaves a derivative inside it) and limits (SymPy's Gruntz algorithm, exact), never integrals
    or sums themselves."""
    for _ in range(4):
        if not expr.has(sp.Derivative, sp.Subs, sp.Limit):
            break
        new = expr.replace(lambda e: isinstance(e, (sp.Derivative, sp.Subs, sp.Limit)),
                           lambda e: e.doit(integrals=False))
        if new == expr:
            break
        expr = new
    return expr


@functools.lru_cache(maxsize=512)
def _split_exponentials(expr: sp.Expr) -> sp.Expr:
    """exp(a + b) -> exp(a)*exp(b), exp(c*m) -> exp(m)**c: one generator per monomial."""

    def split(e: sp.Expr) -> sp.Expr:
        out = sp.Integer(1)
        for term in sp.Add.make_args(sp.expand(e.args[0])):
            coeff, rest = term.as_coeff_Mul()
            out *= sp.exp(rest, evaluate=False) ** coeff if rest != 1 else sp.exp(coeff)
        return out

    return expr.replace(lambda e: isinstance(e, sp.exp), split)


def _canonical_limits(expr: Any) -> Any:
    """Canonicalise each integral/sum: pull out factors free of its variables, reduce the rest."""

    def canon(node: Any) -> Any:
        variables = [limit[0] for limit in node.limits]
        body = _rational_normal(node.function)
        if body == 0:
            return sp.Integer(0)
        outside, inside = body.as_independent(*variables, as_Add=False)
        return outside * node.func(inside, *node.limits)

    return expr.replace(lambda e: isinstance(e, (sp.Integral, sp.Sum)), canon)


@functools.lru_cache(maxsize=256)
def _expand_limits(expr: Any) -> Any:
    """Linearity, fully: split every integral/sum over the terms of its expanded integrand and
    pull out each term's factors free of the bound variables (innermost nodes first), so that
    the remaining nodes are canonical generators of a rational function."""

    def fixed(limits: tuple[Any, ...]) -> bool:
        bound = {limit[0] for limit in limits}
        return all(len(limit) == 3 and not (set().union(*(e.free_symbols for e in limit[1:]))
                                            & bound) for limit in limits)

    def canon(node: Any) -> Any:
        variables = [limit[0] for limit in node.limits]
        body = _fast_expand(_split_exponentials(node.function))
        total = sp.Integer(0)
        for term in sp.Add.make_args(body):
            outside, inside = term.as_independent(*variables, as_Add=False)
            limits = node.limits
            inner = [f for f in sp.Mul.make_args(inside) if isinstance(f, node.func)]
            if isinstance(node, sp.Integral) and len(inner) == 1:
                # Fubini: an iterated integral over fixed limits is one multiple integral
                rest = inside / inner[0]
                inner_bound = {limit[0] for limit in inner[0].limits}
                if not rest.free_symbols & inner_bound and fixed(inner[0].limits + limits):
                    inside, limits = inner[0].function * rest, inner[0].limits + limits
            if isinstance(node, sp.Integral) and fixed(limits):
                limits = tuple(sorted(limits, key=sp.default_sort_key))
            if isinstance(node, sp.Sum) and inside == 1 and all(len(lim) == 3 for lim in limits):
                # a sum of a constant counts its terms
                total += outside * sp.Mul(*[high - low + 1 for _, low, high in limits])
                continue
            total += outside * node.func(inside, *limits)
        return total

    return expr.replace(lambda e: isinstance(e, (sp.Integral, sp.Sum)), canon)


def _opaque(expr: sp.Expr, keep_exp: bool = False) -> tuple[sp.Expr, dict[sp.Symbol, sp.Basic]]:
    """Replace integrals, sums, exponentials, undefined functions and symbols by plain fresh
    symbols, so that symengine sees a polynomial-like expression and cannot merge exponentials
    or lose SymPy assumptions; returns the expression and the map back."""
    back: dict[sp.Symbol, sp.Basic] = {}
    forward: dict[sp.Basic, sp.Symbol] = {}

    def fresh(node: sp.Basic) -> sp.Symbol:
        if node not in forward:
            forward[node] = sp.Symbol(f"_smeq_{len(forward)}")
            back[forward[node]] = node
        return forward[node]

    outer = expr.xreplace({n: fresh(n) for n in expr.atoms(sp.Integral, sp.Sum, sp.Derivative)})
    functions = {f for f in outer.atoms(sp.Function) if not (keep_exp and isinstance(f, sp.exp))}
    outer = outer.xreplace({n: fresh(n) for n in functions})
    rest = {s for s in outer.free_symbols if s not in back}
    return outer.xreplace({n: fresh(n) for n in rest}), back


def _fast_expand(expr: sp.Expr) -> sp.Expr:
    """``sympy.expand`` done by symengine on an opaque copy (much faster); SymPy's own expand
    when symengine does not know a node."""
    try:
        import symengine

        flat, back = _opaque(expr)
        return sp.sympify(symengine.expand(symengine.sympify(flat))).xreplace(back)
    except Exception:  # a node symengine does not know
        return sp.expand(expr)


def _rational_zero_in_generators(expr: sp.Expr) -> bool:
    """``expr`` is 0 as a rational function once every integral/sum is a fresh generator:
    first as a Laurent polynomial (symengine expansion), then numerator over a common
    denominator."""
    try:
        import symengine

        flat, _ = _opaque(_split_exponentials(expr))
        if symengine.expand(symengine.sympify(flat)) == 0:
            return True
    except Exception:  # a node symengine does not know: the general route below decides
        pass
    nodes = sorted(expr.atoms(sp.Integral, sp.Sum), key=sp.default_sort_key)
    generators = {node: sp.Dummy(f"g{i}") for i, node in enumerate(nodes)}
    flat = _split_exponentials(expr.xreplace(generators))
    numerator, _ = sp.fraction(sp.together(flat))
    return _expands_to_zero(numerator)


def _rational_normal(expr: sp.Expr) -> sp.Expr:
    return sp.cancel(sp.together(_split_exponentials(_prepare(expr))))


def _scalar_entries(value: Any) -> Iterable[Any]:
    return list(value) if isinstance(value, sp.MatrixBase) else [value]


# ----------------------------------------------------------------------------- equality routes
def _route_rational(diff: sp.Expr) -> bool:
    return _rational_normal(_canonical_limits(_prepare(diff))) == 0


def _route_cleared(diff: sp.Expr) -> bool:
    """Polynomial identity with denominators cleared, in symengine: expand ``diff`` (integrals,
    functions and symbols opaque), multiply by every denominator base to its largest power and
    expand again; 0 means ``diff`` is 0 as a rational function."""
    import symengine

    # exponentials stay native: symengine merges exp(a)·exp(b) = exp(a + b), a canonical form
    flat, _ = _opaque(_split_exponentials(_prepare(diff)), keep_exp=True)
    # a sum in a denominator becomes one opaque base, so that expansion cannot expand it
    sums = sorted({p.base for p in flat.atoms(sp.Pow)
                   if p.exp.is_negative and isinstance(p.base, sp.Add)}, key=sp.default_sort_key)
    bases = {base: sp.Symbol(f"_smeq_q{j}") for j, base in enumerate(sums)}
    expanded = symengine.expand(symengine.sympify(flat.xreplace(bases)))
    if expanded == 0:
        return True
    powers: dict[Any, Any] = {}
    for term in (expanded.args if isinstance(expanded, symengine.Add) else (expanded,)):
        for factor in (term.args if isinstance(term, symengine.Mul) else (term,)):
            if isinstance(factor, symengine.Pow) and factor.args[1] < 0:
                base, exponent = factor.args
                powers[base] = max(powers.get(base, 0), -exponent)
    if not powers:
        return False
    cleared = symengine.Integer(1)
    for base, exponent in powers.items():
        cleared *= base**exponent
    polynomial = symengine.expand(cleared * expanded)
    back = {symengine.sympify(q): symengine.sympify(base) for base, q in bases.items()}
    return bool(polynomial == 0 or symengine.expand(polynomial.subs(back)) == 0)


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


def _route_polynomial(diff: sp.Expr) -> bool:
    numerator, _ = sp.fraction(sp.together(_split_exponentials(_prepare(diff))))
    numerator = sp.expand(numerator)
    radicals = sorted({p for p in numerator.atoms(sp.Pow) if p.exp == sp.Rational(1, 2)},
                      key=sp.default_sort_key)
    for index, radical in enumerate(radicals):
        root = sp.Dummy(f"r{index}")
        numerator = sp.expand(numerator.xreplace({radical: root}))
        numerator = sp.rem(numerator, root**2 - radical.base, root)
    return _expands_to_zero(numerator)


def _route_trig(diff: sp.Expr) -> bool:
    """cos, sin, tan, ... and cosh, sinh, ... as exponentials; then routes 1 or 3."""
    trig = (sp.functions.elementary.trigonometric.TrigonometricFunction,
            sp.functions.elementary.hyperbolic.HyperbolicFunction)
    prepared = _prepare(diff)
    if not prepared.atoms(*trig):
        return False
    rewritten = prepared.rewrite(sp.exp)
    return _route_rational(rewritten) or _route_polynomial(rewritten)


def _expands_to_zero(expr: sp.Expr) -> bool:
    if not expr.atoms(sp.Integral, sp.Sum, AppliedUndef, sp.Derivative):
        try:
            import symengine

            return bool(symengine.expand(symengine.sympify(expr)) == 0)
        except Exception:  # symengine does not know every SymPy node
            pass
    return sp.expand(expr) == 0


def _route_expanded(diff: sp.Expr) -> bool:
    if not diff.has(sp.Integral, sp.Sum):
        return False
    canonical = _expand_limits(_prepare(diff))
    try:
        return _route_cleared(canonical)
    except Exception:  # symengine does not know a node: SymPy's rational normal form decides
        return _rational_zero_in_generators(canonical)


def _route_linearity(diff: sp.Expr) -> bool:
    diff = _canonical_limits(_prepare(diff))
    if not diff.has(sp.Integral, sp.Sum):
        return False
    groups: dict[tuple[Any, ...], sp.Expr] = {}
    rest = sp.Integer(0)
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
_ROUTE_SECONDS = 1.0


def _equal_by(lhs: sp.Expr, rhs: sp.Expr, deadline: float | None = None) -> str | None:
    """The name of the first exact route that proves lhs == rhs, or None.

    Routes are tried cheapest first; after ``deadline`` (a ``_clock()`` value) no
    further SymPy route is started.
    """
    diff = lhs - rhs
    if diff == 0:
        return "exact:rational"
    if deadline is None:
        deadline = _clock() + _ROUTE_SECONDS
    cheap: list[tuple[str, Callable[[], bool]]] = [
        ("exact:polynomial", lambda: _route_cleared(diff)),    # symengine
        ("exact:linearity", lambda: _route_expanded(diff)),   # only with integrals/sums
    ]
    if diff.has(sp.Integral, sp.Sum):
        cheap.reverse()   # integrals must be canonical before they can cancel
    routes: list[tuple[str, Callable[[], bool]]] = [
        *cheap,
        ("exact:log", lambda: _route_log(lhs, rhs)),           # products of positive factors
        ("exact:rational", lambda: _route_rational(diff)),
        ("exact:polynomial", lambda: _route_polynomial(diff)),
        ("exact:linearity", lambda: _route_linearity(diff)),
        ("exact:trig", lambda: _route_trig(diff)),
    ]
    for index, (name, route) in enumerate(routes):
        if index >= 2 and _clock() > deadline:
            break
        try:
            if route():
                return name
        except Exception:  # a route that does not apply to this expression proves nothing
            continue
    return None


def _check_equality(lhs: Any, rhs: Any, context: _Context) -> Verdict:
    methods = set()
    deadline = _clock() + _ROUTE_SECONDS
    for index, (left, right) in enumerate(zip(_scalar_entries(lhs), _scalar_entries(rhs),
                                              strict=True)):
        method = _equal_by(left, right, deadline)
        if method is None:
            where = f" (entry {index})" if isinstance(lhs, sp.MatrixBase) else ""
            return _undecided_equality(left, right, context, where)
        methods.add(method)
    method = sorted(methods)[-1] if methods else "exact:rational"
    return Verdict(ok=True, method=method, detail="lhs - rhs reduces to 0", status="proved")


# ----------------------------------------------------------------------------- inequalities
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


# ----------------------------------------------------------------------------- numeric evidence
# Evidence only: never turns a step green. Every probe is bounded: integrals are evaluated by
# vectorised Gauss-Legendre quadrature in float64 (accepted only when n and 2n nodes agree), and
# every integrand evaluation checks a deadline, so a probe over nested integrals of a stand-in
# density gives up ("undecided") instead of hanging.
_PROBE_VALUES = [sp.Rational(n, d) for n, d in ((1, 2), (3, 2), (2, 3), (5, 4), (7, 3), (2, 5),
                                                 (9, 7), (4, 1), (3, 10), (11, 6))]
_PROBE_SECONDS = 1.0   # budget for all numeric probes of one check
_QUAD_NODES = 96       # Gauss-Legendre nodes (checked against twice as many)
_MAX_SUM_TERMS = 2000
_SEED = 20110701       # fixed: verdicts are deterministic


class _GiveUp(Exception):
    """A probe could not be evaluated (unknown node, out of time, not a real number)."""


def _concrete_density(args: tuple[sp.Expr, ...]) -> sp.Expr:
    """A positive stand-in for an undefined density: a tilted Gaussian bump."""
    return sp.exp(-sum(a**2 for a in args) / 2 + sp.Rational(3, 10) * sum(args)) * (
        1 + sp.Rational(1, 4) * sum(args) ** 2)


def _sample_point(symbols: list[sp.Symbol], rng: random.Random) -> dict[sp.Symbol, sp.Expr]:
    point = {}
    for symbol in symbols:
        value = rng.choice(_PROBE_VALUES)
        if symbol.is_integer:
            value = sp.Integer(rng.randint(1, 4))
        elif symbol.is_nonpositive:
            value = -value
        elif not symbol.is_nonnegative and rng.random() < 0.5:
            value = -value
        point[symbol] = value
    return point


class _Compiler:
    """Turns an expression into a function of ``args``: mpmath for the outer expression, NumPy
    for integrands (vectorised Gauss-Legendre quadrature, checked for convergence). Raises
    :class:`_GiveUp` past ``deadline`` or when a node cannot be evaluated."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.count = 0

    def compile(self, expr: sp.Expr, args: tuple[sp.Symbol, ...],
                backend: str = "mpmath") -> Callable[..., Any]:
        table: dict[str, Callable[..., Any]] = {}

        def lift(node: Any) -> Any:
            if isinstance(node, (sp.Integral, sp.Sum)):
                self.count += 1
                name = f"_smeq_node{self.count}"
                used = tuple(a for a in args if a in node.free_symbols)
                table[name] = _elementwise(_memo(self._limit_node(node, used)))
                return sp.Function(name)(*used)
            if not node.args or isinstance(node, sp.Symbol):
                return node
            new = [lift(a) for a in node.args]
            return node.func(*new) if any(n is not o for n, o in zip(new, node.args,
                                                                     strict=True)) else node

        lifted = lift(expr)
        stray = {f for f in lifted.atoms(AppliedUndef) if f.func.__name__ not in table}
        if stray or lifted.has(sp.Derivative) or lifted.free_symbols - set(args):
            raise _GiveUp(f"cannot evaluate {_short(lifted)}")
        return sp.lambdify(args, lifted, modules=[table, backend])

    def _limit_node(self, node: Any, args: tuple[sp.Symbol, ...]) -> Callable[..., Any]:
        if len(node.limits) > 1:   # innermost limit first
            inner = node.func(node.function, node.limits[0])
            return self._limit_node(node.func(inner, *node.limits[1:]), args)
        if len(node.limits[0]) != 3:
            raise _GiveUp("an integral or sum without limits")
        var, low, high = node.limits[0]
        keep = [i for i, a in enumerate(args) if a != var]
        body = self.compile(node.function, (*(args[i] for i in keep), var), "numpy")
        low_f, high_f = self.compile(low, args), self.compile(high, args)
        deadline = self.deadline

        def evaluate(vals: tuple[Any, ...], u: Any) -> Any:
            if _clock() > deadline:
                raise _GiveUp("out of time")
            out = body(*[float(vals[i]) for i in keep], u)
            return np.broadcast_to(np.asarray(out, dtype=float), np.shape(u))

        if isinstance(node, sp.Integral):
            def integral(*vals: Any) -> Any:
                return _quadrature(lambda u: evaluate(vals, u), float(low_f(*vals)),
                                   float(high_f(*vals)))
            return integral

        def total(*vals: Any) -> Any:
            lo, hi = low_f(*vals), high_f(*vals)
            if not (mpmath.isint(lo) and mpmath.isint(hi)) or hi - lo > _MAX_SUM_TERMS:
                raise _GiveUp("a sum with non-integer or too many terms")
            terms = evaluate(vals, np.arange(int(lo), int(hi) + 1, dtype=float))
            return float(np.sum(terms))
        return total


_NODES = {n: np.polynomial.legendre.leggauss(n) for n in (_QUAD_NODES, 2 * _QUAD_NODES)}


def _quadrature(f: Callable[[Any], Any], low: float, high: float) -> float:
    """Gauss-Legendre on [low, high] (infinite ends mapped by u/(1-u²)), at n and 2n nodes;
    gives up unless the two agree."""
    results = []
    for n in (_QUAD_NODES, 2 * _QUAD_NODES):
        u, w = _NODES[n]
        if np.isfinite(low) and np.isfinite(high):
            x, jac = low + (high - low) * (u + 1) / 2, (high - low) / 2 * np.ones_like(u)
        elif not np.isfinite(low) and not np.isfinite(high):
            x, jac = u / (1 - u**2), (1 + u**2) / (1 - u**2) ** 2
        else:
            v = (u + 1) / 2                       # [0, 1)
            step, jac = v / (1 - v), 0.5 / (1 - v) ** 2
            x = low + step if np.isfinite(low) else high - step
        with np.errstate(all="ignore"):
            values = f(x) * jac * w
        if not np.all(np.isfinite(values)):
            raise _GiveUp("integrand not finite at a quadrature node")
        results.append((float(np.sum(values)), float(np.sum(np.abs(values)))))
    (coarse, _), (fine, scale) = results
    if abs(coarse - fine) > 1e-10 * scale + 1e-300:
        raise _GiveUp("quadrature did not converge")
    return fine


def _elementwise(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Let a scalar node function take NumPy arrays (one call per element)."""

    def call(*vals: Any) -> Any:
        if not any(isinstance(v, np.ndarray) for v in vals):
            return fn(*vals)
        arrays = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in vals])
        flat = [fn(*row) for row in zip(*(a.ravel() for a in arrays), strict=True)]
        return np.asarray(flat, dtype=float).reshape(arrays[0].shape)
    return call


def _memo(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Cache a node's value by its arguments: an inner integral free of the outer variable is
    computed once, not once per quadrature node."""
    cache: dict[tuple[Any, ...], Any] = {}

    def cached(*vals: Any) -> Any:
        if vals not in cache:
            cache[vals] = fn(*vals)
        return cache[vals]
    return cached


def _compile_sides(exprs: list[sp.Expr], symbols: tuple[sp.Symbol, ...],
                   deadline: float) -> list[Callable[..., Any]] | None:
    compiler = _Compiler(deadline)
    out = []
    for expr in exprs:
        undefined = {f: _concrete_density(f.args) for f in expr.atoms(AppliedUndef)}
        concrete = _prepare(expr.xreplace(undefined)) if undefined else _prepare(expr)
        try:
            out.append(compiler.compile(concrete, symbols))
        except Exception:
            return None
    return out


def _value(fn: Callable[..., Any], point: dict[sp.Symbol, sp.Expr]) -> Any:
    vals = [mpmath.mpf(v.p) / v.q if v.is_Rational else mpmath.mpf(sp.N(v, _DIGITS))
            for v in point.values()]
    value = fn(*vals)
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > 1e-12 * max(1, abs(value.real)):
            raise _GiveUp("complex value")
        value = value.real
    value = mpmath.mpf(value)
    if not mpmath.isfinite(value):
        raise _GiveUp("not finite")
    return value


def _probes(exprs: list[sp.Expr], context: _Context) -> tuple[list[tuple[dict, list[Any]]], bool]:
    """Up to ``_PROBES`` sample points with every expression's value, and whether the probes
    ran out of time."""
    deadline = _clock() + _PROBE_SECONDS
    symbols = tuple(sorted(set().union(*(e.free_symbols for e in exprs)),
                           key=sp.default_sort_key))
    rng = random.Random(_SEED)
    out: list[tuple[dict, list[Any]]] = []
    with mpmath.workdps(_DIGITS):
        functions = _compile_sides(exprs, symbols, deadline)
        if functions is None:
            return out, False
        for _ in range(_PROBES * 6):
            if len(out) >= _PROBES:
                break
            if _clock() > deadline:
                return out, True
            point = _sample_point(list(symbols), rng)
            if any(c.xreplace(point) is sp.false for c in context.conditions):
                continue
            try:
                values = [_value(fn, point) for fn in functions]
            except _GiveUp as exc:
                if str(exc) == "out of time":
                    return out, True
                continue
            except (ArithmeticError, TypeError, ValueError):
                continue
            out.append((point, values))
    return out, False


def _close(a: Any, b: Any, loose: bool) -> bool:
    tol = mpmath.mpf(10) ** (-8 if loose else -(_DIGITS - 5))
    return bool(abs(a - b) <= tol * max(abs(a), abs(b), 1))


def _short(expr: Any) -> str:
    text = sp.sstr(expr)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."


def _residual(diff: sp.Expr) -> str:
    try:
        return _short(_rational_normal(_canonical_limits(_prepare(diff))))
    except Exception:
        return _short(diff)


def _num(value: Any) -> str:
    return mpmath.nstr(value, 6)


def _pattern(pairs: list[tuple[Any, Any]], loose: bool,
             names: tuple[str, str] = ("lhs", "rhs")) -> str:
    """Name the shape of a disagreement seen at every probe: a factor, a sign, an offset."""
    if len(pairs) < 2:
        return ""
    if all(r != 0 for _, r in pairs):
        ratios = [lv / r for lv, r in pairs]
        if all(_close(q, ratios[0], loose) for q in ratios):
            if _close(ratios[0], -1, loose):
                return f"; {names[0]} = -{names[1]} at every probe: a sign flip"
            return (f"; {names[0]}/{names[1]} = {_num(ratios[0])} at every probe: off by a "
                    "constant factor")
    offsets = [lv - r for lv, r in pairs]
    if all(_close(o, offsets[0], loose) for o in offsets):
        return (f"; {names[0]} - {names[1]} = {_num(offsets[0])} at every probe: off by a "
                "constant term")
    return ""


def _undecided_equality(lhs: sp.Expr, rhs: sp.Expr, context: _Context, where: str,
                        names: tuple[str, str] = ("lhs", "rhs")) -> Verdict:
    """Refuted (with the side that is larger and the shape of the error) or undecided."""
    residual = _residual(lhs - rhs)
    loose = bool(lhs.has(sp.Integral, sp.Sum) or rhs.has(sp.Integral, sp.Sum))
    probes, timed_out = _probes([lhs, rhs], context)
    bad = [(point, left, right) for point, (left, right) in probes
           if not _close(left, right, loose)]
    if bad:
        point, left, right = bad[0]
        larger = names[0] if left > right else names[1]
        shape = _pattern([(lv, r) for _, lv, r in bad], loose, names) if len(bad) == len(probes) \
            else ""
        return Verdict(
            ok=False, method="evidence:counterexample", status="refuted",
            detail=f"refuted{where}: {names[0]} != {names[1]}: at {_point_text(point)}, "
            f"{names[0]} = {_num(left)} and {names[1]} = {_num(right)} ({larger} is larger)"
            f"{shape}; their difference reduces to {residual}, not 0")
    if probes:
        evidence = f"both sides agree numerically at {len(probes)} probe(s)"
    elif timed_out:
        evidence = f"numeric probes gave up after {_PROBE_SECONDS:g} s"
    else:
        evidence = "numeric probes could not be evaluated"
    return Verdict(ok=False, method="evidence:numeric", status="undecided",
                   detail=f"undecided{where}: no exact route reduced {names[0]} - ({names[1]}) = "
                   f"{residual} to 0; {evidence} (evidence, not proof)")


def _undecided_inequality(small: sp.Expr, big: sp.Expr, context: _Context, reason: str,
                          names: tuple[str, str] = ("lhs", "rhs")) -> Verdict:
    loose = bool(small.has(sp.Integral, sp.Sum) or big.has(sp.Integral, sp.Sum))
    probes, timed_out = _probes([small, big], context)
    for point, (low, high) in probes:
        if low > high and not _close(low, high, loose):
            return Verdict(
                ok=False, method="evidence:counterexample", status="refuted",
                detail=f"refuted: {names[0]} (claimed the smaller side) is larger: at "
                f"{_point_text(point)}: {names[0]} = {_num(low)} > {names[1]} = {_num(high)}; "
                f"{reason}")
    evidence = (f"numeric probes gave up after {_PROBE_SECONDS:g} s" if timed_out and not probes
                else f"{len(probes)} numeric probe(s) do not contradict it")
    return Verdict(ok=False, method="evidence:numeric", status="undecided",
                   detail=f"undecided: {reason}; {names[1]} - {names[0]} = "
                   f"{_residual(big - small)}; {evidence} (evidence, not proof)")


def _point_text(point: dict[sp.Symbol, sp.Expr]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "(no free symbols)"
