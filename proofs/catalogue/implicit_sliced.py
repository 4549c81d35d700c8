"""Implicit score matching (Hyvärinen 2005) and sliced score matching (Song et al. 2019).

Implicit SM: E_p(∇log p − s)² = E_p[s² + 2 ∂s] + E_p(∇log p)², by integration by parts with the
boundary term [p s]_{−∞}^{∞} = 0 stated as an assumption (Hyvärinen 2005, Theorem 1); checked on an
undefined p and s with unevaluated integrals, and on N(μ, τ²) with a quadratic s by moments.

Sliced SM: for a fixed direction v, ½E_p(vᵀ(∇log p − s))² = E_p[vᵀ∇s v + ½(vᵀs)²] + a θ-free
term (again by parts, boundary term assumed 0). Averaging over v with second moment
M = E[vvᵀ]: M = I for v ~ N(0, I) (then the variance-reduced form E_v[vᵀ∇s v] + ½‖s‖² has the
same mean and equals ½ × implicit SM), and M = I/d for v uniform on the unit sphere, which scales
SM by 1/d (``sliced_sm_scale``). Song et al. (2019), eqs. 7-8 and Appendix.
"""

from __future__ import annotations

import sympy as sp

from .._notation import d as dim
from .._notation import mu, real_line, tau, x
from .._registry import derivation, register_closed_form
from .._step import Step
from .gaussian import gaussian_expectation

__all__: list[str] = []

HYVARINEN = "Hyvärinen (2005), Theorem 1"
SONG = "Song et al. (2019), sliced score matching, eqs. 7-8"

theta = sp.symbols("theta0:3", real=True)

_QUADRATIC = theta[0] + theta[1] * x + theta[2] * x**2
IMPLICIT_SM_GAUSSIAN_QUADRATIC = gaussian_expectation(
    _QUADRATIC**2 + 2 * sp.diff(_QUADRATIC, x), {x: (mu, tau**2)})
register_closed_form("implicit_sm_gaussian_quadratic", IMPLICIT_SM_GAUSSIAN_QUADRATIC,
                     (mu, tau, *theta),
                     citation=HYVARINEN + "; E_p[s² + 2 s'] for p = N(μ, τ²), s = θ_0 + θ_1 x + "
                     "θ_2 x² (Gaussian moments)")
SLICED_SM_SCALE = 1 / dim
register_closed_form("sliced_sm_scale", SLICED_SM_SCALE, (dim,),
                     citation=SONG + "; E_v[(vᵀa)²] = ‖a‖²/d for v uniform on the unit sphere "
                     "in R^d")


# ----------------------------------------------------------------------------- implicit SM
@derivation("implicit_sm[any-p-1d]",
            claim="E_p(∂log p − s)² = E_p[s² + 2 s'] + E_p(∂log p)² when p s → 0 at ±∞",
            citation=HYVARINEN, data="any density p and model s (undefined functions), 1-D")
def implicit_any() -> tuple[Step, ...]:
    """Expand the square, p ∂log p = ∂p, product rule, boundary term."""
    p = sp.Function("p", positive=True)(x)
    s = sp.Function("s", real=True)(x)

    def integral(f: sp.Expr) -> sp.Expr:
        return sp.Integral(f, real_line(x))

    grad_log_p = sp.Derivative(sp.log(p), x)
    fisher = integral(p * grad_log_p**2)
    boundary = integral(sp.Derivative(p * s, x))
    return (
        Step("expand-square", integral(p * (grad_log_p - s) ** 2),
             integral(p * s**2) - 2 * integral(s * sp.Derivative(p, x)) + fisher,
             justification="expand the square; p ∂log p = ∂p — linearity"),
        Step("product-rule", integral(s * sp.Derivative(p, x)),
             boundary - integral(p * sp.Derivative(s, x)),
             justification="s p' = (p s)' − p s' — product rule under the integral"),
        Step("boundary-term", integral(p * s**2) - 2 * (boundary - integral(
            p * sp.Derivative(s, x))) + fisher,
             integral(p * (s**2 + 2 * sp.Derivative(s, x))) + fisher,
             justification="∫ (p s)' dx = [p s]_{−∞}^{∞} = 0 (assumption: p(x) s(x) → 0 as "
             "|x| → ∞) — " + HYVARINEN, assumptions=(sp.Eq(boundary, 0),)),
    )


@derivation("implicit_sm[gaussian-quadratic-1d]",
            claim="p = N(μ, τ²), s quadratic: E(∂log p − s)² = E[s² + 2s'] + 1/τ²",
            citation=HYVARINEN, data="N(mu, tau^2), s(x) = theta0 + theta1 x + theta2 x^2")
def implicit_gaussian() -> tuple[Step, ...]:
    """Both sides by Gaussian moments; the boundary term vanishes (Gaussian tails)."""
    score = -(x - mu) / tau**2
    law = {x: (mu, tau**2)}
    return (
        Step("implicit-sm", gaussian_expectation((score - _QUADRATIC) ** 2, law),
             IMPLICIT_SM_GAUSSIAN_QUADRATIC + gaussian_expectation(score**2, law),
             justification="E(∂log p − s)² = E[s² + 2s'] + J(p), every term a Gaussian moment "
             "— " + HYVARINEN),
        Step("fisher", gaussian_expectation(score**2, law), 1 / tau**2,
             justification="J(N(μ, τ²)) = 1/τ² — Gaussian moments"),
    )


@derivation("implicit_sm[gaussian-affine-2d]",
            claim="p = N(μ, diag(τ_1², τ_2²)), s(x) = Wx + b: E‖∇log p − s‖² = E‖s‖² + 2 tr W "
            "+ E‖∇log p‖²",
            citation=HYVARINEN, data="diagonal Gaussian in 2-D, affine s with symbolic W, b")
def implicit_gaussian_2d() -> tuple[Step, ...]:
    """The d-dimensional form E‖s‖² + 2 tr ∇s, in 2-D by Gaussian moments."""
    xs = list(sp.symbols("x1:3", real=True))
    mus = sp.symbols("mu1:3", real=True)
    taus = sp.symbols("tau1:3", positive=True)
    W = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"W{i + 1}{j + 1}", real=True))
    b = sp.Matrix(sp.symbols("b1:3", real=True))
    s = W * sp.Matrix(xs) + b
    score = sp.Matrix([-(x_i - m) / t**2 for x_i, m, t in zip(xs, mus, taus, strict=True)])
    law = {x_i: (m, t**2) for x_i, m, t in zip(xs, mus, taus, strict=True)}
    jac_trace = sum(sp.diff(s[i], xs[i]) for i in range(2))
    return (
        Step("implicit-sm", gaussian_expectation((score - s).dot(score - s), law),
             gaussian_expectation(s.dot(s) + 2 * jac_trace + score.dot(score), law),
             justification="E‖∇log p − s‖² = E[‖s‖² + 2 tr ∇s] + J(p) — " + HYVARINEN),
    )


# ----------------------------------------------------------------------------- sliced SM
def _expect_v(poly: sp.Expr, vs: list[sp.Symbol], second: sp.Matrix) -> sp.Expr:
    """E_v of a polynomial of degree ≤ 2 in v, homogeneous of degree 2 or 0, given E[v] = 0
    and E[vvᵀ] = ``second``: each monomial v_i v_j becomes second[i, j] (linearity)."""
    total = sp.Integer(0)
    for powers, coeff in sp.Poly(sp.expand(poly), *vs).terms():
        index = [i for i, n in enumerate(powers) for _ in range(n)]
        if len(index) == 0:
            total += coeff
        elif len(index) == 2:
            total += coeff * second[index[0], index[1]]
        # degree 1 terms have mean 0; degree > 2 does not occur in these objectives
    return total


@derivation("sliced_sm[any-p-2d]",
            claim="for a fixed direction v: ½E_p(vᵀ(∇log p − s))² = E_p[vᵀ∇s v + ½(vᵀs)²] + "
            "½E_p(vᵀ∇log p)² when p s → 0 at infinity",
            citation=SONG, data="any density p and model s on R^2 (undefined functions), "
            "symbolic direction v")
def sliced_any() -> tuple[Step, ...]:
    """Directional integration by parts in two dimensions."""
    xs = list(sp.symbols("x1:3", real=True))
    vs = sp.Matrix(sp.symbols("v1:3", real=True))
    p = sp.Function("p", positive=True)(*xs)
    s = sp.Matrix([sp.Function(f"s{i + 1}", real=True)(*xs) for i in range(2)])
    limits = [real_line(x_i) for x_i in xs]

    def integral(f: sp.Expr) -> sp.Expr:
        return sp.Integral(f, *limits)

    def along(f: sp.Expr) -> sp.Expr:           # vᵀ∇f
        return sp.Add(*[v_i * sp.Derivative(f, x_i) for v_i, x_i in zip(vs, xs, strict=True)])

    vs_s = (vs.T * s)[0]
    proj_score = along(sp.log(p))
    vjv = sp.Add(*[vs[i] * sp.Derivative(s[i], xs[j]) * vs[j] for i in range(2)
                   for j in range(2)])                                    # vᵀ(∇s)v
    boundary = integral(along(p * vs_s))
    half_fisher = integral(p * proj_score**2) / 2
    return (
        Step("expand-square", integral(p * (proj_score - vs_s) ** 2) / 2,
             half_fisher - integral(along(p) * vs_s) + integral(p * vs_s**2) / 2,
             justification="expand the square; p vᵀ∇log p = vᵀ∇p — linearity"),
        Step("product-rule", integral(along(p) * vs_s), boundary - integral(p * vjv),
             justification="(vᵀ∇p)(vᵀs) = vᵀ∇(p vᵀs) − p vᵀ(∇s)v — product rule"),
        Step("boundary-term", half_fisher - (boundary - integral(p * vjv))
             + integral(p * vs_s**2) / 2,
             integral(p * (vjv + vs_s**2 / 2)) + half_fisher,
             justification="∫ vᵀ∇(p vᵀs) dx = 0 (assumption: p s → 0 at infinity) — "
             + SONG + "; " + HYVARINEN, assumptions=(sp.Eq(boundary, 0),)),
    )


@derivation("sliced_sm[projections]",
            claim="E_v(vᵀa)² = ‖a‖²/d for v uniform on the unit sphere and ‖a‖² for v ~ N(0, I); "
            "the VR objective E_v[vᵀ∇s v] + ½‖s‖² has the plain objective's mean, ½ × implicit "
            "SM; on the sphere the sliced objective is implicit SM scaled by 1/d",
            citation=SONG, data="d = 3, symbolic vectors and Jacobian entries")
def sliced_projections() -> tuple[Step, ...]:
    """Second moments of the projection directions, d = 3."""
    n = 3
    vs = list(sp.symbols(f"v1:{n + 1}", real=True))
    g = sp.Matrix(sp.symbols(f"g1:{n + 1}", real=True))       # ∇log p(x) at one x
    s = sp.Matrix(sp.symbols(f"s1:{n + 1}", real=True))       # s(x) at one x
    J = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"J{i + 1}{j + 1}", real=True))   # ∇s(x)
    v = sp.Matrix(vs)
    sphere, gauss = sp.eye(n) / n, sp.eye(n)
    a = g - s
    plain = (v.T * J * v)[0] + (v.T * s)[0] ** 2 / 2
    implicit = s.dot(s) + 2 * J.trace()
    return (
        Step("sphere-second-moment", sp.Integer(n) * sphere[0, 0], sp.Integer(1),
             justification="E[v_i²] is the same for every i and Σ_i E[v_i²] = E‖v‖² = 1, "
             "E[v_i v_j] = 0 for i ≠ j (reflection symmetry), so E[vvᵀ] = I/d — symmetry"),
        Step("sphere-projection", _expect_v(((v.T * a)[0]) ** 2, vs, sphere),
             sp.expand(a.dot(a)) * SLICED_SM_SCALE.subs(dim, n),
             justification="E_v(vᵀ(∇log p − s))² = ‖∇log p − s‖²/d: the sphere scales SM by "
             "1/d (closed form sliced_sm_scale) — " + SONG),
        Step("gaussian-projection", _expect_v(((v.T * a)[0]) ** 2, vs, gauss), a.dot(a),
             justification="E_v(vᵀa)² = ‖a‖² for v ~ N(0, I) — " + SONG),
        Step("variance-reduced", _expect_v(plain, vs, gauss),
             _expect_v((v.T * J * v)[0], vs, gauss) + s.dot(s) / 2,
             justification="for v ~ N(0, I), E_v[½(vᵀs)²] = ½‖s‖² exactly: the VR objective "
             "E_v[vᵀ∇s v] + ½‖s‖² has the plain objective's mean — " + SONG),
        Step("gaussian-sliced-is-half-implicit", _expect_v(plain, vs, gauss), implicit / 2,
             justification="E_v[vᵀ∇s v + ½(vᵀs)²] = tr ∇s + ½‖s‖² = ½(‖s‖² + 2 tr ∇s) — "
             + SONG + "; " + HYVARINEN),
        Step("sphere-sliced-is-scaled-implicit", _expect_v(plain, vs, sphere),
             SLICED_SM_SCALE.subs(dim, n) * implicit / 2,
             justification="on the unit sphere E_v[vᵀ∇s v + ½(vᵀs)²] = (1/d)(tr ∇s + ½‖s‖²) — "
             + SONG),
    )

