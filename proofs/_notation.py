"""Shared symbols, with the notation of docs/design.md §1: x_t = α x_0 + σ ε."""

from __future__ import annotations

import sympy as sp

__all__ = ["S", "alpha", "conditional_score", "d", "gaussian_density", "kernel", "mu", "p0",
           "real_line", "sigma", "t", "tau", "x", "x0"]

alpha = sp.Symbol("alpha", positive=True)
sigma = sp.Symbol("sigma", positive=True)
t = sp.Symbol("t", positive=True)
d = sp.Symbol("d", positive=True, integer=True)
mu = sp.Symbol("mu", real=True)      # mean of a Gaussian p_0
tau = sp.Symbol("tau", positive=True)  # standard deviation of a Gaussian p_0
x = sp.Symbol("x", real=True)    # x_t in 1-D
x0 = sp.Symbol("x_0", real=True)
S = sp.Symbol("S", real=True)    # the value s_θ(x_t) of a score model at one x_t
p0 = sp.Function("p0", real=True)  # any data density: an undefined function


def gaussian_density(value: sp.Expr, mean: sp.Expr, variance: sp.Expr) -> sp.Expr:
    """The 1-D normal density N(value; mean, variance) as prefactor × exp(quadratic)."""
    return sp.exp(-(value - mean) ** 2 / (2 * variance)) / sp.sqrt(2 * sp.pi * variance)


def kernel(value: sp.Expr = x, start: sp.Expr = x0) -> sp.Expr:
    """The forward kernel p_t(x_t | x_0) = N(x_t; α x_0, σ²) in 1-D (docs/design.md §1)."""
    return gaussian_density(value, alpha * start, sigma**2)


def conditional_score(value: sp.Expr = x, start: sp.Expr = x0) -> sp.Expr:
    """h(x_0, x_t) = ∇_{x_t} log p_t(x_t|x_0) = −(x_t − α x_0)/σ² (Vincent 2011, §4.2)."""
    return -(value - alpha * start) / sigma**2


def real_line(variable: sp.Symbol) -> tuple[sp.Symbol, sp.Expr, sp.Expr]:
    """Integration limits (variable, −∞, ∞)."""
    return (variable, -sp.oo, sp.oo)
