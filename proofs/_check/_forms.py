"""Normal forms shared by the routes: opaque generators, expansion, canonical limits."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef


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

def _expands_to_zero(expr: sp.Expr) -> bool:
    if not expr.atoms(sp.Integral, sp.Sum, AppliedUndef, sp.Derivative):
        try:
            import symengine

            return bool(symengine.expand(symengine.sympify(expr)) == 0)
        except Exception:  # symengine does not know every SymPy node
            pass
    return sp.expand(expr) == 0
