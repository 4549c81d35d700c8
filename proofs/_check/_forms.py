"""Normal forms shared by the routes: opaque generators, expansion, canonical limits.

Each rewrite here holds unconditionally, or checks its condition:

* ``exp(a + b) = exp(a)·exp(b)`` always; ``exp(c·m) = exp(m/q)^(c·q)`` with ``q`` the common
  denominator of the rational coefficients of ``m``, so every power is an integer one (a
  non-integer power of an exponential is a different branch: ``sqrt(exp(I t)) != exp(I t/2)``);
* symengine rewrites ``(a^b)^c = a^(bc)`` without conditions, so before any conversion a
  non-integer power of a power (or exponential, or product with one) is made an opaque generator
  unless its base is provably positive and its exponent real;
* iterated integrals over fixed limits are joined into one multiple integral in the same order;
  the order is exchanged only when the whole integrand is manifestly nonnegative (Tonelli); the
  terms of a sum of a constant are counted
  only when no limit depends on another bound variable; a finite sum with numeric limits is
  expanded into its terms; a Gaussian integral over the real line is evaluated by the moment rule
  (:mod:`._gaussian`); bound variables are renamed canonically (alpha-equivalence).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import sympy as sp

from ._binding import canonical_bound
from ._budget import TooLarge, guard_size
from ._calculus import _needs_leibniz
from ._gaussian import exponent_of, iterated_gaussian, polynomial_sum
from ._sanitize import fresh_prefix

_MAX_SUM_EXPANSION = 64


@functools.lru_cache(maxsize=512)
def _prepare(expr: sp.Expr) -> sp.Expr:
    """Evaluate derivatives that need no condition (not under an integral: that is Leibniz's
    rule, done by :mod:`._calculus` only under a stated hypothesis) and ``Subs``; never limits,
    integrals or sums themselves."""
    for _ in range(4):
        if not expr.has(sp.Derivative, sp.Subs):
            break
        new = expr.replace(lambda e: isinstance(e, sp.Derivative) and not _needs_leibniz(e),
                           lambda e: e.doit(integrals=False))
        new = new.replace(lambda e: isinstance(e, sp.Subs) and not e.expr.has(sp.Derivative),
                          lambda e: e.doit(deep=False))
        if new == expr:
            break
        expr = new
    return expr


@functools.lru_cache(maxsize=512)
def _split_exponentials(expr: sp.Expr) -> sp.Expr:
    """exp(a + b) -> exp(a)*exp(b), exp(c*m) -> exp(m/q)**(c*q) with c*q an integer: one
    generator per monomial, integer powers only (valid for complex arguments too)."""
    exps = expr.atoms(sp.exp)
    if not exps:
        return expr
    for e in exps:
        guard_size(e.args[0])
    denominators: dict[sp.Expr, int] = {}
    for e in exps:
        for term in sp.Add.make_args(sp.expand(e.args[0])):
            coeff, rest = term.as_coeff_Mul()
            if rest != 1 and coeff.is_Rational:
                denominators[rest] = int(sp.ilcm(denominators.get(rest, 1), coeff.q))

    def split(e: sp.Expr) -> sp.Expr:
        out = sp.Integer(1)
        for term in sp.Add.make_args(sp.expand(e.args[0])):
            coeff, rest = term.as_coeff_Mul()
            if rest == 1:
                out *= sp.exp(coeff)
            elif coeff.is_Rational:
                q = denominators.get(rest, coeff.q)
                if (coeff * q).is_integer is not True:
                    q = coeff.q
                out *= sp.exp(rest / q, evaluate=False) ** (coeff * q)
            else:
                out *= sp.exp(term)
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

    prefix = fresh_prefix(expr)
    return canonical_bound(expr.replace(lambda e: isinstance(e, (sp.Integral, sp.Sum)), canon),
                           prefix)


@functools.lru_cache(maxsize=256)
def _expand_limits(expr: Any) -> Any:
    """Linearity, fully: split every integral/sum over the terms of its expanded integrand and
    pull out each term's factors free of the bound variables (innermost nodes first), so that
    the remaining nodes are canonical generators of a rational function. The order of
    integration is kept, unless the integrand is manifestly nonnegative: then Tonelli's theorem
    (Folland, *Real Analysis*, Thm. 2.37) lets a multiple integral over fixed limits sort them."""

    def fixed(limits: tuple[Any, ...]) -> bool:
        bound = {limit[0] for limit in limits}
        return all(len(limit) == 3 and not (set().union(*(e.free_symbols for e in limit[1:]))
                                            & bound) for limit in limits)

    def canon(node: Any) -> Any:
        variables = [limit[0] for limit in node.limits]
        if isinstance(node, sp.Sum) and _small_finite(node.limits):
            return _fast_expand(node.doit(deep=False))
        body = _fast_expand(_split_exponentials(node.function))
        # Tonelli needs the whole integrand nonnegative, not just each term of its expansion
        # (a sign-changing integrand splits into pieces that may each be infinite)
        sortable = isinstance(node, sp.Integral) and _tonelli(node.function, node.limits)
        total = sp.Integer(0)
        for term in sp.Add.make_args(body):
            outside, inside = term.as_independent(*variables, as_Add=False)
            limits = node.limits
            inner = [f for f in sp.Mul.make_args(inside) if isinstance(f, node.func)]
            if isinstance(node, sp.Integral) and len(inner) == 1:
                # an iterated integral is one multiple integral, in the same order
                rest = inside / inner[0]
                inner_bound = {limit[0] for limit in inner[0].limits}
                if not rest.free_symbols & inner_bound and fixed(inner[0].limits + limits):
                    inside, limits = inner[0].function * rest, inner[0].limits + limits
            if sortable and len(limits) > 1 and fixed(limits) and _tonelli(inside, limits):
                limits = tuple(sorted(limits, key=sp.default_sort_key))
            if isinstance(node, sp.Integral) and all(
                    len(lim) == 3 and lim[1] == -sp.oo and lim[2] == sp.oo for lim in limits):
                value = iterated_gaussian(inside, limits)
                if value is not None:
                    total += outside * value
                    continue
            if isinstance(node, sp.Sum) and len(limits) == 1 and inside.has(limits[0][0]):
                value = polynomial_sum(inside, limits[0])
                if value is not None:
                    total += outside * value
                    continue
            if isinstance(node, sp.Sum) and inside == 1 and fixed(limits):
                # a sum of a constant counts its terms
                total += outside * sp.Mul(*[high - low + 1 for _, low, high in limits])
                continue
            total += outside * node.func(inside, *limits)
        return total

    prefix = fresh_prefix(expr)
    # bound variables first take the facts their ranges give (and lose declared ones the range
    # contradicts), so that no rule below reads a sign the range does not give
    expr = canonical_bound(expr, prefix, keep_names=True)
    return canonical_bound(expr.replace(lambda e: isinstance(e, (sp.Integral, sp.Sum)), canon),
                           prefix)


def _tonelli(integrand: sp.Expr, limits: tuple[Any, ...]) -> bool:
    """The integrand is manifestly nonnegative on real ordered ranges (Tonelli applies)."""
    from ._assumptions import _Context
    from ._inequality import _nonnegative

    return _nonnegative(sp.Integral(integrand, *limits), _Context())


def _small_finite(limits: tuple[Any, ...]) -> bool:
    """A sum with numeric integer limits and few terms, which may be expanded into its terms."""
    if len(limits) != 1 or len(limits[0]) != 3:
        return False
    _, low, high = limits[0]
    return bool(low.is_Integer and high.is_Integer and -1 <= high - low < _MAX_SUM_EXPANSION)


def _unsafe_power(node: sp.Basic) -> bool:
    """A non-integer power that symengine could rewrite wrongly ((a^b)^c -> a^(bc))."""
    if not isinstance(node, sp.Pow) or node.exp.is_integer:
        return False
    base = node.base
    nested = isinstance(base, (sp.Pow, sp.exp)) or (isinstance(base, sp.Mul) and any(
        isinstance(f, (sp.Pow, sp.exp)) for f in base.args))
    return nested and not (base.is_positive and node.exp.is_extended_real)


def _opaque(expr: sp.Expr, keep_exp: bool = False) -> tuple[sp.Expr, dict[sp.Symbol, sp.Basic]]:
    """Replace integrals, sums, exponentials, undefined functions and symbols by plain fresh
    symbols, so that symengine sees a polynomial-like expression and cannot merge exponentials
    or lose SymPy assumptions; returns the expression and the map back."""
    back: dict[sp.Symbol, sp.Basic] = {}
    forward: dict[sp.Basic, sp.Symbol] = {}
    prefix = fresh_prefix(expr)

    def fresh(node: sp.Basic) -> sp.Symbol:
        if node not in forward:
            forward[node] = sp.Symbol(f"{prefix}{len(forward)}")
            back[forward[node]] = node
        return forward[node]

    outer = expr.xreplace({n: fresh(n) for n in expr.atoms(sp.Integral, sp.Sum, sp.Derivative)})
    unsafe = [p for p in sp.preorder_traversal(outer) if _unsafe_power(p)]
    outer = outer.xreplace({n: fresh(n) for n in unsafe})
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
        guard_size(flat)
        return sp.sympify(symengine.expand(symengine.sympify(flat))).xreplace(back)
    except TooLarge:
        raise
    except Exception:  # a node symengine does not know
        return sp.expand(expr)


def _rational_zero_in_generators(expr: sp.Expr) -> bool:
    """``expr`` is 0 as a rational function once every integral/sum is a fresh generator:
    first as a Laurent polynomial (symengine expansion), then numerator over a common
    denominator."""
    try:
        import symengine

        flat, _ = _opaque(_split_exponentials(expr))
        guard_size(flat)
        if symengine.expand(symengine.sympify(flat)) == 0:
            return True
    except TooLarge:
        raise
    except Exception:  # a node symengine does not know: the general route below decides
        pass
    nodes = sorted(expr.atoms(sp.Integral, sp.Sum), key=sp.default_sort_key)
    generators = {node: sp.Dummy(f"g{i}") for i, node in enumerate(nodes)}
    flat = _split_exponentials(expr.xreplace(generators))
    numerator, _ = sp.fraction(sp.together(flat))
    return _expands_to_zero(numerator)


def _rational_normal(expr: sp.Expr) -> sp.Expr:
    """``cancel`` with every integral and sum an opaque generator (SymPy's ordering would
    otherwise evaluate them numerically, for seconds, just to sort terms)."""
    expr = _split_exponentials(_prepare(expr))
    guard_size(expr)
    nodes = expr.atoms(sp.Integral, sp.Sum)
    generators = {node: sp.Dummy(f"g{i}") for i, node in
                  enumerate(sorted(nodes, key=sp.default_sort_key))}
    flat = sp.cancel(sp.together(expr.xreplace(generators)))
    return flat.xreplace({g: node for node, g in generators.items()})


def _scalar_entries(value: Any) -> Iterable[Any]:
    return list(value) if isinstance(value, sp.MatrixBase) else [value]

def _expands_to_zero(expr: sp.Expr) -> bool:
    guard_size(expr)
    try:
        import symengine

        flat, _ = _opaque(expr)
        return bool(symengine.expand(symengine.sympify(flat)) == 0)
    except Exception:  # symengine does not know every SymPy node
        pass
    return sp.expand(expr) == 0


def _merge_exponentials(expr: sp.Expr) -> sp.Expr:
    """In each term, all exponential factors as one ``exp`` of the rational normal form of the
    sum of their arguments (exp(a)·exp(b) = exp(a + b) holds for all complex a, b), so that two
    terms whose exponents agree as rational functions meet one generator."""
    out = sp.Integer(0)
    for term in sp.Add.make_args(expr):
        exponent, rest = sp.Integer(0), sp.Integer(1)
        for factor in sp.Mul.make_args(term):
            part = exponent_of(factor)
            if part is not None:
                exponent += part
            else:
                rest *= factor
        out += rest * (sp.exp(sp.cancel(exponent)) if exponent != 0 else 1)
    return out
