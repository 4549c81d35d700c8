"""Route ``exact:rational``: rational normal form (``cancel``), or denominators cleared."""

from __future__ import annotations

from typing import Any

import sympy as sp

from ._budget import MAX_TERMS, TooLarge, guard_size, refused_sizes
from ._forms import _canonical_limits, _opaque, _prepare, _rational_normal, _split_exponentials
from ._sanitize import fresh_prefix


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
    prefix = fresh_prefix(flat)
    bases = {base: sp.Symbol(f"{prefix}q{j}") for j, base in enumerate(sums)}
    guard_size(flat.xreplace(bases))
    expanded = symengine.expand(symengine.sympify(flat.xreplace(bases)))
    if expanded == 0:
        return True
    powers: dict[Any, Any] = {}
    for term in (expanded.args if isinstance(expanded, symengine.Add) else (expanded,)):
        for factor in (term.args if isinstance(term, symengine.Mul) else (term,)):
            # exp(z) is Pow(E, z) in symengine: a unit, never a denominator to clear
            if isinstance(factor, symengine.Pow) and isinstance(factor.args[1], symengine.Number) \
                    and factor.args[1] < 0:
                base, exponent = factor.args
                powers[base] = max(powers.get(base, 0), -exponent)
    if not powers:
        return False
    cleared = symengine.Integer(1)
    for base, exponent in powers.items():
        cleared *= base**exponent
    estimate = float(len(expanded.args) or 1)
    for base, exponent in powers.items():
        estimate *= float(max(1, len(base.args) if isinstance(base, symengine.Add) else 1)
                          ) ** float(exponent)
    if estimate > MAX_TERMS:
        refused_sizes().append(estimate)
        raise TooLarge(f"clearing denominators would produce about {estimate:.3g} terms")
    polynomial = symengine.expand(cleared * expanded)
    back = {symengine.sympify(q): symengine.sympify(base) for base, q in bases.items()}
    return bool(polynomial == 0 or symengine.expand(polynomial.subs(back)) == 0)


