"""Gaussian integrals over the real line by the moment rule, never by ``sympy.integrate``.

For ``a > 0`` (provably), any ``b``, ``c`` (complex too, by analytic continuation) and a
polynomial ``P``:

    ∫ P(x) exp(−a x² + b x + c) dx = exp(c + b²/(4a)) √(π/a) · E[P(Y)],  Y ~ N(b/(2a), 1/(2a)),

with ``E[(m + sZ)^n] = Σ_k C(n, k) m^(n−k) s^k E[Z^k]`` and ``E[Z^k] = (k − 1)!!`` for even
``k``, 0 for odd (Abramowitz & Stegun 7.4.2, 7.4.4; the moments of the normal distribution).
"""

from __future__ import annotations

from typing import Any

import sympy as sp


def gaussian_integral(integrand: sp.Expr, limit: tuple[Any, ...]) -> sp.Expr | None:
    """The value of ``∫ integrand d var`` over the real line, or None when the rule does not
    apply (not a polynomial times the exponential of a concave quadratic)."""
    if len(limit) != 3 or limit[1] != -sp.oo or limit[2] != sp.oo:
        return None
    var = limit[0]
    exponent, polynomial = sp.Integer(0), sp.Integer(1)
    for factor in sp.Mul.make_args(integrand):
        part = exponent_of(factor)
        if part is not None:
            exponent += part
        elif factor.has(var):
            polynomial *= factor
        else:
            polynomial *= factor
    if exponent == 0 or not polynomial.is_polynomial(var):
        return None
    try:
        quadratic = sp.Poly(sp.expand(exponent), var)
    except sp.PolynomialError:
        return None
    if quadratic.degree() != 2:
        return None
    minus_a, b, c = (quadratic.coeff_monomial(var**k) for k in (2, 1, 0))
    a = sp.factor(sp.cancel(-minus_a))
    if a.is_positive is not True:
        return None
    mean, scale = b / (2 * a), 1 / sp.sqrt(2 * a)
    moment = sp.Integer(0)
    for (power,), coeff in sp.Poly(sp.expand(polynomial), var).terms():
        moment += coeff * sum(sp.binomial(power, k) * mean ** (power - k) * scale**k
                              * (sp.factorial2(k - 1) if k % 2 == 0 else 0)
                              for k in range(power + 1))
    return sp.exp(sp.cancel(c + b**2 / (4 * a))) * sp.sqrt(sp.pi / a) * sp.expand(moment)


def iterated_gaussian(integrand: sp.Expr, limits: tuple[Any, ...]) -> sp.Expr | None:
    """An iterated integral over the real line in each variable, innermost first (the order
    the integral states, so no exchange of order is involved), each by the rule above."""
    value = integrand
    for limit in limits:
        total = sp.Integer(0)
        for term in sp.Add.make_args(sp.expand(value, power_base=False, power_exp=False,
                                               log=False, multinomial=True)):
            outside, inside = term.as_independent(limit[0], as_Add=False)
            inner = gaussian_integral(inside, limit)
            if inner is None:
                return None
            total += outside * inner
        value = total
    return value


def polynomial_sum(summand: sp.Expr, limit: tuple[Any, ...]) -> sp.Expr | None:
    """``Σ_{i=a}^{b} P(i)`` for a polynomial ``P`` by Faulhaber's formula
    ``Σ_{i=a}^{b} i^k = (B_{k+1}(b+1) − B_{k+1}(a))/(k+1)`` with Bernoulli polynomials, which
    satisfy ``B_n(x+1) − B_n(x) = n x^(n−1)`` (Abramowitz & Stegun 23.1.6); valid for integer
    ``a`` and ``b >= a − 1`` (and in Karr's convention, SymPy's, for every integer ``b``)."""
    if len(limit) != 3:
        return None
    var, low, high = limit
    if not (low.is_integer and high.is_integer) or not summand.is_polynomial(var):
        return None
    x = sp.Dummy("x")
    total = sp.Integer(0)
    for (power,), coeff in sp.Poly(sp.expand(summand), var).terms():
        bern = sp.bernoulli(power + 1, x)
        total += coeff * (bern.subs(x, high + 1) - bern.subs(x, low)) / (power + 1)
    return sp.expand(total)


def exponent_of(factor: sp.Expr) -> sp.Expr | None:
    """``a`` for a factor exp(a), ``k·a`` for exp(a)**k with k an integer (exp(a)^k = exp(ka)
    holds for all complex a only then), None for any other factor."""
    if isinstance(factor, sp.exp):
        return factor.args[0]
    if isinstance(factor, sp.Pow) and isinstance(factor.base, sp.exp) and factor.exp.is_integer:
        return factor.base.args[0] * factor.exp
    return None
