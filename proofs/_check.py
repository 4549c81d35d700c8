"""The one generic checker: :func:`check` decides any :class:`~proofs.Step`.

An equality is *proved* only by an exact route, tried in order:

1. ``exact:rational``: ``lhs - rhs`` has rational normal form 0 (exponentials split into one
   generator per monomial of their exponent, integrals and sums kept as canonical generators);
2. ``exact:log``: both sides are products of positive factors and their logarithms agree;
3. ``exact:polynomial``: the numerator of ``lhs - rhs``, with square roots eliminated by their
   defining polynomial, expands to 0 (symengine does the expansion);
4. ``exact:linearity``: integrals (and sums) over the same domain are merged by linearity and their
   merged integrand is 0 by routes 1-3.

An inequality ``lhs <= rhs`` is proved (``exact:nonnegative``) only when ``rhs - lhs``, or the
``witness`` it is proved equal to, is manifestly nonnegative under the assumptions: sums, products
and integrals of nonnegative factors, squares of real expressions, positive symbols.

Everything else is *undecided* and never ``ok``: the verdict carries numeric evidence (the sides
evaluated at sample points, with any undefined density replaced by a concrete positive one), and a
sample where the claim fails makes the verdict *refuted* with the side that is off.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.logic.boolalg import Boolean, BooleanAtom

from ._errors import InvalidStep, invalid
from ._step import RELATIONS, Step, Verdict

__all__ = ["check"]

_Route = Callable[[sp.Expr], bool]
_MAX_DETAIL = 240
_PROBES = 6
_DIGITS = 30


def check(step: Step) -> Verdict:
    """Decide ``step`` by an exact route, or report it refuted or undecided with numeric evidence.

    Raises :class:`~proofs.InvalidStep` for a malformed step: sides that are not SymPy objects,
    a relation other than ``==``, ``<=``, ``>=``, or assumptions that contradict each other.
    """
    start = time.perf_counter()
    _validate(step)
    lhs, rhs, witness, context = _apply_assumptions(step)
    if step.relation == "==":
        verdict = _check_equality(lhs, rhs, context)
    else:
        small, big = (lhs, rhs) if step.relation == "<=" else (rhs, lhs)
        verdict = _check_inequality(small, big, witness, context)
    return replace(verdict, seconds=time.perf_counter() - start)


# ----------------------------------------------------------------------------- validation
def _is_symbolic(value: Any) -> bool:
    return isinstance(value, (sp.Basic, sp.MatrixBase)) and not isinstance(value, Boolean)


def _validate(step: Step) -> None:
    if not isinstance(step, Step):
        raise invalid("step", f"got {type(step).__name__}, not a proofs.Step",
                      "build it as proofs.Step(name, lhs, rhs, relation, justification, assumptions)",
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
            key = _PREDICATES.get(str(assumption.function))
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
def _prepare(expr: sp.Expr) -> sp.Expr:
    """Evaluate derivatives (into integrals too), never integrals or sums themselves."""
    return expr.doit(integrals=False) if expr.has(sp.Derivative) else expr


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


def _rational_normal(expr: sp.Expr) -> sp.Expr:
    return sp.cancel(sp.together(_split_exponentials(_prepare(expr))))


def _scalar_entries(value: Any) -> Iterable[Any]:
    return list(value) if isinstance(value, sp.MatrixBase) else [value]


# ----------------------------------------------------------------------------- equality routes
def _route_rational(diff: sp.Expr) -> bool:
    return _rational_normal(_canonical_limits(_prepare(diff))) == 0


def _route_log(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    factors = sp.Mul.make_args(lhs) + sp.Mul.make_args(rhs)
    if not all(f.is_positive for f in factors):
        return False
    log_l = sp.expand_log(sp.log(lhs), force=True)
    log_r = sp.expand_log(sp.log(rhs), force=True)
    return _rational_normal(sp.expand(log_l - log_r)) == 0


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


def _expands_to_zero(expr: sp.Expr) -> bool:
    if not expr.atoms(sp.Integral, sp.Sum, AppliedUndef, sp.Derivative):
        try:
            import symengine

            return bool(symengine.expand(symengine.sympify(expr)) == 0)
        except Exception:  # symengine does not know every SymPy node
            pass
    return sp.expand(expr) == 0


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
        except (sp.PolynomialError, sp.polys.polyerrors.PolificationFailed):
            continue
    return allow_linearity and _route_linearity(diff)


def _equal_by(lhs: sp.Expr, rhs: sp.Expr) -> str | None:
    """The name of the first exact route that proves lhs == rhs, or None."""
    diff = lhs - rhs
    if diff == 0:
        return "exact:rational"
    routes: list[tuple[str, Callable[[], bool]]] = [
        ("exact:rational", lambda: _route_rational(diff)),
        ("exact:log", lambda: _route_log(lhs, rhs)),
        ("exact:polynomial", lambda: _route_polynomial(diff)),
        ("exact:linearity", lambda: _route_linearity(diff)),
    ]
    for name, route in routes:
        try:
            if route():
                return name
        except (sp.PolynomialError, sp.polys.polyerrors.PolificationFailed):
            continue
    return None


def _check_equality(lhs: Any, rhs: Any, context: _Context) -> Verdict:
    methods = set()
    for index, (left, right) in enumerate(zip(_scalar_entries(lhs), _scalar_entries(rhs),
                                              strict=True)):
        method = _equal_by(left, right)
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
    if any(expr == known or sp.expand(expr - known) == 0 for known in context.nonnegative):
        return True
    if isinstance(expr, (sp.Add, sp.Mul)):
        return all(_nonnegative(arg, context, depth + 1) for arg in expr.args)
    if isinstance(expr, sp.Pow):
        if expr.exp.is_even and expr.base.is_extended_real:
            return True
        if expr.exp.is_even and _real_valued(expr.base):
            return True
        return _positive(expr.base, context) or (
            expr.exp.is_nonnegative and _nonnegative(expr.base, context, depth + 1))
    if isinstance(expr, sp.exp):
        return _real_valued(expr.args[0])
    if isinstance(expr, (sp.Integral, sp.Sum)):
        ordered = all(len(limit) == 3 and (limit[2] - limit[1]).is_nonnegative is not False
                      and (limit[1] == -sp.oo or limit[2] == sp.oo
                           or (limit[2] - limit[1]).is_nonnegative)
                      for limit in expr.limits)
        return ordered and _nonnegative(expr.function, context, depth + 1)
    return False


def _positive(expr: sp.Expr, context: _Context) -> bool:
    if expr.is_positive:
        return True
    return any(expr == known or sp.expand(expr - known) == 0 for known in context.positive)


def _real_valued(expr: sp.Expr) -> bool:
    if expr.is_extended_real:
        return True
    atoms = expr.atoms(sp.Symbol, AppliedUndef)
    return all(a.is_extended_real for a in atoms) and not expr.has(sp.I)


def _check_inequality(small: sp.Expr, big: sp.Expr, witness: Any, context: _Context) -> Verdict:
    gap = big - small
    if witness is not None:
        route = _equal_by(gap, witness)
        if route is None:
            verdict = _undecided_equality(gap, witness, context, " (larger side minus smaller "
                                          "side against the witness)")
            return replace(verdict, detail="the witness is not equal to the gap: "
                           + verdict.detail)
        if _nonnegative(witness, context):
            return Verdict(ok=True, method="exact:nonnegative",
                           detail=f"gap equals the witness by {route}; witness is manifestly "
                           "nonnegative", status="proved")
        return _undecided_inequality(small, big, context, "the witness equals the gap but is "
                                     "not manifestly nonnegative under the assumptions")
    candidates = [gap, _prepare(gap)]
    for transform in (sp.together, sp.cancel, sp.factor):
        try:
            candidates.append(transform(_prepare(gap)))
        except (sp.PolynomialError, sp.polys.polyerrors.PolificationFailed):
            continue
    if any(_nonnegative(c, context) for c in candidates):
        return Verdict(ok=True, method="exact:nonnegative",
                       detail="larger side minus smaller side is manifestly nonnegative",
                       status="proved")
    return _undecided_inequality(small, big, context, "larger side minus smaller side is not "
                                 "manifestly nonnegative")


# ----------------------------------------------------------------------------- numeric evidence
_PROBE_VALUES = [sp.Rational(n, d) for n, d in ((1, 2), (3, 2), (2, 3), (5, 4), (7, 3), (2, 5),
                                                 (9, 7), (4, 1), (3, 10), (11, 6))]


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


def _evaluate(expr: sp.Expr, point: dict[sp.Symbol, sp.Expr]) -> sp.Expr | None:
    undefined = {f: _concrete_density(f.args) for f in expr.atoms(AppliedUndef)}
    concrete = _prepare(expr.xreplace(undefined)).xreplace(point) if undefined else \
        expr.xreplace(point)
    try:
        value = sp.N(concrete.doit(), _DIGITS) if concrete.has(sp.Sum) else sp.N(concrete,
                                                                                  _DIGITS)
    except Exception:
        return None
    return value if value.is_number and value.is_real else None


def _probes(exprs: list[sp.Expr], context: _Context) -> list[tuple[dict, list[sp.Expr]]]:
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)), key=sp.default_sort_key)
    rng = random.Random(20110701)  # fixed: verdicts are deterministic
    out = []
    for _ in range(_PROBES * 6):
        if len(out) >= _PROBES:
            break
        point = _sample_point(symbols, rng)
        if not all(c.xreplace(point) is not sp.false for c in context.conditions):
            continue
        values = [_evaluate(e, point) for e in exprs]
        if any(v is None for v in values):
            continue
        out.append((point, values))
    return out


def _short(expr: Any) -> str:
    text = sp.sstr(expr)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."


def _residual(diff: sp.Expr) -> str:
    try:
        return _short(_rational_normal(_canonical_limits(_prepare(diff))))
    except Exception:
        return _short(diff)


def _undecided_equality(lhs: sp.Expr, rhs: sp.Expr, context: _Context, where: str) -> Verdict:
    residual = _residual(lhs - rhs)
    for point, (left, right) in _probes([lhs, rhs], context):
        scale = max(abs(left), abs(right), sp.Integer(1))
        if abs(left - right) > scale * sp.Float(10) ** (-_DIGITS + 8):
            larger = "lhs" if left > right else "rhs"
            return Verdict(
                ok=False, method="evidence:counterexample", status="refuted",
                detail=f"refuted{where}: lhs - rhs reduces to {residual}, not 0; at "
                f"{_point_text(point)} lhs = {float(left):.6g} and rhs = {float(right):.6g} "
                f"({larger} is larger)")
    return Verdict(ok=False, method="evidence:numeric", status="undecided",
                   detail=f"undecided{where}: no exact route closed lhs - rhs = {residual}; "
                   "numeric probes agree or could not be evaluated")


def _undecided_inequality(small: sp.Expr, big: sp.Expr, context: _Context,
                          reason: str) -> Verdict:
    for point, (low, high) in _probes([small, big], context):
        if low - high > max(abs(low), abs(high), sp.Integer(1)) * sp.Float(10) ** (-_DIGITS + 8):
            return Verdict(
                ok=False, method="evidence:counterexample", status="refuted",
                detail=f"refuted: the side claimed smaller is larger at {_point_text(point)}: "
                f"{float(low):.6g} > {float(high):.6g}; {reason}")
    return Verdict(ok=False, method="evidence:numeric", status="undecided",
                   detail=f"undecided: {reason}; gap = {_residual(big - small)}; numeric probes "
                   "do not contradict it")


def _point_text(point: dict[sp.Symbol, sp.Expr]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "(no free symbols)"
