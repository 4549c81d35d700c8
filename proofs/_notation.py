"""Shared symbols, with the notation of shared/DESIGN.md §1: x_t = α x_0 + σ ε."""

from __future__ import annotations

import sympy as sp

__all__ = ["alpha", "d", "gaussian_density", "sigma", "t", "x", "x0"]

alpha = sp.Symbol("alpha", positive=True)
sigma = sp.Symbol("sigma", positive=True)
t = sp.Symbol("t", positive=True)
d = sp.Symbol("d", positive=True, integer=True)
x = sp.Symbol("x", real=True)    # x_t in 1-D
x0 = sp.Symbol("x_0", real=True)


def gaussian_density(value: sp.Expr, mean: sp.Expr, variance: sp.Expr) -> sp.Expr:
    """The 1-D normal density N(value; mean, variance) as prefactor × exp(quadratic)."""
    return sp.exp(-(value - mean) ** 2 / (2 * variance)) / sp.sqrt(2 * sp.pi * variance)
