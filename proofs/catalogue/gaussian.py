"""SM = DSM + C for Gaussian data: N(μ, τ²) in 1-D and N(μ, Σ) in d dimensions.

Everything is done with Gaussian forms (a prefactor times a quadratic exponent), precision
matrices and moment formulas; ``sympy.integrate`` is never called on a Gaussian (it is slow, and
wrong at μ = 0 in some SymPy versions). Closed forms proved here are registered once:
``gaussian_constant_1d``, ``gaussian_constant_isotropic``, ``gaussian_constant_diagonal``,
``gaussian_constant_full_2x2``, ``gaussian_constant_full_3x3``, ``gaussian_posterior_mean_1d``,
``gaussian_posterior_variance_1d``. Vincent (2011), §4.2; docs/design.md §2.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import comb

import sympy as sp
from sympy.matrices.utilities import dotprodsimp

from .._notation import alpha, conditional_score, gaussian_density, kernel, mu, sigma, tau, x, x0
from .._notation import d as dim
from .._registry import derivation, register_closed_form
from .._step import Step

__all__ = ["gaussian_expectation", "gaussian_moment"]

VINCENT = "Vincent (2011), §4.2"
BISHOP = "Bishop (2006), PRML §2.3.3 (eqs. 2.113-2.117)"

s_iso = sp.Symbol("s", positive=True)
eps = sp.Symbol("epsilon", real=True)
_DEGREE = 3
theta = sp.symbols(f"theta0:{_DEGREE + 1}", real=True)


# ----------------------------------------------------------------------------- moments
def _double_factorial_odd(k: int) -> int:
    """(k − 1)!! for even k: the k-th moment of N(0, 1)."""
    out = 1
    for j in range(k - 1, 0, -2):
        out *= j
    return out


def gaussian_moment(n: int, mean: sp.Expr, variance: sp.Expr) -> sp.Expr:
    """E[X^n] for X ~ N(mean, variance): Σ_{k even} C(n, k) mean^{n−k} variance^{k/2} (k−1)!!."""
    return sp.Add(*[comb(n, k) * mean ** (n - k) * variance ** (k // 2) * _double_factorial_odd(k)
                    for k in range(0, n + 1, 2)])


def gaussian_expectation(poly: sp.Expr, laws: dict[sp.Symbol, tuple[sp.Expr, sp.Expr]]
                         ) -> sp.Expr:
    """E[poly] for independent Gaussian variables ``{symbol: (mean, variance)}``: expand the
    polynomial and replace each monomial by the product of moments (no integration)."""
    variables = list(laws)
    expanded = _expand(poly)
    moments: dict[tuple[sp.Symbol, int], sp.Expr] = {}
    terms = []
    for term in sp.Add.make_args(expanded):
        powers = term.as_powers_dict()
        factor = sp.Integer(1)
        for variable in variables:
            power = int(powers.get(variable, 0))
            if power:
                key = (variable, power)
                if key not in moments:
                    moments[key] = gaussian_moment(power, *laws[variable])
                factor *= moments[key] / variable**power
        terms.append(term * factor)
    total = sp.Add(*terms)
    if total.free_symbols & set(variables):
        raise ValueError("gaussian_expectation: not a polynomial in the Gaussian variables")
    return _expand(total)


def _expand(expr: sp.Expr) -> sp.Expr:
    """``sympy.expand`` done by symengine, with the symbols (and their assumptions) kept."""
    import symengine

    symbols = sorted(expr.free_symbols, key=sp.default_sort_key)
    forward = {s: sp.Symbol(f"_smeq_g{i}") for i, s in enumerate(symbols)}
    back = {v: k for k, v in forward.items()}
    return sp.sympify(symengine.expand(symengine.sympify(expr.xreplace(forward)))).xreplace(back)


# ----------------------------------------------------------------------------- 1-D
A = alpha**2 * tau**2 + sigma**2                      # marginal variance of x_t
POST_MEAN = (alpha * tau**2 * x + sigma**2 * mu) / A   # Bishop (2006), eq. 2.116
POST_VAR = sigma**2 * tau**2 / A                       # Bishop (2006), eq. 2.117
CONSTANT_1D = 1 / sigma**2 - 1 / A

register_closed_form("gaussian_posterior_mean_1d", POST_MEAN, (alpha, sigma, tau, mu, x),
                     citation=BISHOP)
register_closed_form("gaussian_posterior_variance_1d", POST_VAR, (alpha, sigma, tau),
                     citation=BISHOP)
register_closed_form("gaussian_constant_1d", CONSTANT_1D, (alpha, sigma, tau),
                     citation=VINCENT + "; C = 1/σ² − 1/(α²τ² + σ²)")


def _polynomial_model(value: sp.Expr) -> sp.Expr:
    """s_θ(x) = Σ_k θ_k x^k, degree 3, symbolic coefficients."""
    return sp.Add(*[c * value**k for k, c in enumerate(theta)])


@derivation("sm_dsm[gaussian-1d]",
            claim="p_0 = N(μ, τ²): DSM(θ) − SM(θ) = 1/σ² − 1/(α²τ² + σ²) for a cubic s_θ",
            citation=VINCENT, data="N(mu, tau^2), s_theta(x) = sum_k theta_k x^k, k <= 3")
def gaussian_1d() -> tuple[Step, ...]:
    """Closed-form marginal, posterior, score and C(t); SM and DSM by Gaussian moments."""
    prior = gaussian_density(x0, mu, tau**2)
    K = kernel()
    marginal = gaussian_density(x, alpha * mu, A)
    posterior = gaussian_density(x0, POST_MEAN, POST_VAR)
    h = conditional_score()
    score = -(x - alpha * mu) / A
    t_ = sp.Symbol("t", real=True)
    mgf = sp.exp(mu * t_ + tau**2 * t_**2 / 2)
    n_max = 6
    # SM: x_t ~ N(αμ, A); DSM: x_0 ~ N(μ, τ²), ε ~ N(0, 1), x_t = α x_0 + σ ε, h = −ε/σ.
    model = _polynomial_model(x)
    sm = gaussian_expectation((score - model) ** 2, {x: (alpha * mu, A)})
    x_t = alpha * x0 + sigma * eps
    dsm = gaussian_expectation((-eps / sigma - model.subs(x, x_t)) ** 2,
                               {x0: (mu, tau**2), eps: (sp.Integer(0), sp.Integer(1))})
    fisher = gaussian_expectation(score**2, {x: (alpha * mu, A)})
    return (
        Step("moment-start", sp.Matrix([sp.diff(mgf, t_, n).subs(t_, 0) for n in (0, 1, 2)]),
             sp.Matrix([gaussian_moment(n, mu, tau**2) for n in (0, 1, 2)]),
             justification="E[1], E[X], E[X²] from M(t) = exp(μt + τ²t²/2) — moment "
             "generating function"),
        Step("moment-recurrence",
             sp.Matrix([gaussian_moment(n + 1, mu, tau**2) for n in range(1, n_max)]),
             sp.Matrix([mu * gaussian_moment(n, mu, tau**2)
                        + n * tau**2 * gaussian_moment(n - 1, mu, tau**2)
                        for n in range(1, n_max)]),
             justification="E[X^{n+1}] = μE[X^n] + nτ²E[X^{n−1}] up to n = 6 — Stein's "
             "lemma E[(X − μ)f(X)] = τ²E[f'(X)]"),
        Step("bayes", prior * K, marginal * posterior,
             justification="joint = marginal × posterior, checked in log space (quadratic "
             "exponents and log-prefactors) — " + BISHOP),
        Step("kernel-score", sp.Derivative(sp.log(K), x), h,
             justification="conditional score of N(α x_0, σ²) — " + VINCENT),
        Step("score", sp.Derivative(sp.log(marginal), x), score,
             justification="score of the marginal N(αμ, α²τ² + σ²) — Gaussian form"),
        Step("score-2", h.subs(x0, POST_MEAN), score,
             justification="∇log p_t = E_{x_0|x_t}[h] (h is affine in x_0) — seed eq. "
             "\"score-2\""),
        Step("tweedie", (x + sigma**2 * score) / alpha, POST_MEAN,
             justification="E[x_0|x_t] = (x_t + σ² ∇log p_t)/α — Efron (2011), eq. 2.8"),
        Step("gap-is-posterior-variance", alpha**2 / sigma**4 * POST_VAR, CONSTANT_1D,
             justification="Var(h|x_t) = (α²/σ⁴) Var(x_0|x_t) = 1/σ² − 1/(α²τ² + σ²) — "
             "docs/design.md §1"),
        Step("fisher-information", fisher, 1 / A,
             justification="J(p_t) = E[(∇log p_t)²] = 1/(α²τ² + σ²) — Gaussian moments"),
        Step("constant", gaussian_expectation(h.subs(x, x_t) ** 2, {x0: (mu, tau**2),
                                                                     eps: (0, 1)}) - fisher,
             CONSTANT_1D,
             justification="C = E‖h‖² − J(p_t) = 1/σ² − 1/(α²τ² + σ²) — " + VINCENT),
        Step("dsm-minus-sm", dsm - sm, CONSTANT_1D,
             justification="DSM(θ) − SM(θ) = C(t) for a cubic s_θ, both by Gaussian moments "
             "— " + VINCENT),
        Step("theta-free", sp.Matrix([sp.diff(dsm - sm, c) for c in theta]),
             sp.zeros(len(theta), 1),
             justification="∂(DSM − SM)/∂θ_k = 0 for every coefficient — " + VINCENT),
        Step("jensen", sm, dsm, relation="<=", witness=alpha**2 / sigma**4 * POST_VAR,
             justification="SM ≤ DSM with gap (α²/σ⁴) Var(x_0|x_t) ≥ 0 — Jensen"),
    )


# ----------------------------------------------------------------------------- d-D, full Σ
def _covariance(n: int) -> sp.Matrix:
    """A symmetric n×n matrix of symbolic entries Σ_ij = Σ_ji."""
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(f"Sigma{min(i, j) + 1}{max(i, j) + 1}",
                                                  real=True))


def _quad(v: sp.Matrix, precision: sp.Matrix) -> sp.Expr:
    """vᵀ P v as a plain sum (no matrix products)."""
    n = v.shape[0]
    return sp.Add(*[v[i] * precision[i, j] * v[j] for i in range(n) for j in range(n)])


def _gradient(expr: sp.Expr, variables: Iterable[sp.Symbol]) -> sp.Matrix:
    """The partial derivatives of ``expr``, taken by symengine (symbols and assumptions kept)."""
    import symengine

    symbols = sorted(expr.free_symbols, key=sp.default_sort_key)
    forward = {s: sp.Symbol(f"_smeq_g{i}") for i, s in enumerate(symbols)}
    back = {v: k for k, v in forward.items()}
    flat = symengine.sympify(expr.xreplace(forward))
    return sp.Matrix([sp.sympify(symengine.diff(flat, symengine.sympify(forward[v])))
                      .xreplace(back) if v in forward else sp.Integer(0) for v in variables])


def _full_constant(n: int) -> tuple[sp.Expr, sp.Matrix]:
    Sigma = _covariance(n)
    with dotprodsimp(False):
        M = alpha**2 * Sigma + sigma**2 * sp.eye(n)
        M_inv = M.adjugate() / M.det(method="berkowitz")
        return n / sigma**2 - M_inv.trace(), Sigma


def _entries(matrix: sp.Matrix) -> tuple[sp.Symbol, ...]:
    return tuple(sorted(matrix.free_symbols, key=sp.default_sort_key))


for _n in (2, 3):
    _C, _Sigma = _full_constant(_n)
    register_closed_form(f"gaussian_constant_full_{_n}x{_n}", _C,
                         (alpha, sigma, *_entries(_Sigma)),
                         citation=VINCENT + "; C = d/σ² − tr((α²Σ + σ²I)⁻¹)")


def _full_steps(n: int) -> tuple[Step, ...]:
    # SymPy's default simplification of matrix products (dotprodsimp) is what makes symbolic
    # 3×3 algebra slow; the checker normalises the results exactly, so build them plainly.
    with dotprodsimp(False):
        return _full_steps_plain(n)


def _full_steps_plain(n: int) -> tuple[Step, ...]:
    Sigma = _covariance(n)
    I = sp.eye(n)
    P0 = Sigma.adjugate() / Sigma.det(method="berkowitz")                      # prior precision Σ⁻¹
    M = alpha**2 * Sigma + sigma**2 * I                      # marginal covariance
    M_inv = M.adjugate() / M.det(method="berkowitz")
    post_prec = P0 + alpha**2 / sigma**2 * I                 # V⁻¹
    V = sigma**2 * Sigma * M_inv                             # V = σ² Σ (α²Σ + σ²I)⁻¹
    xs = sp.Matrix(sp.symbols(f"x1:{n + 1}", real=True))
    ys = sp.Matrix(sp.symbols(f"y1:{n + 1}", real=True))
    mus = sp.Matrix(sp.symbols(f"mu1:{n + 1}", real=True))
    post_mean = mus + alpha * Sigma * M_inv * (xs - alpha * mus)
    h = -(xs - alpha * ys) / sigma**2
    score = -M_inv * (xs - alpha * mus)
    # an affine model s(x) = W x + b, symbolic W and b
    W = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"W{i + 1}{j + 1}", real=True))
    b = sp.Matrix(sp.symbols(f"b1:{n + 1}", real=True))
    G = -M_inv - W
    c = -(W * alpha * mus + b)
    sm = (G * M * G.T).trace() + c.dot(c)                   # x_t − αμ ~ N(0, M)
    D = I / sigma + sigma * W                               # h − s = −D ε − αW(x_0 − μ) + c
    dsm = (D * D.T).trace() + alpha**2 * (W * Sigma * W.T).trace() + c.dot(c)
    constant = n / sigma**2 - M_inv.trace()
    # the full quadratic-form identity is checked for 2×2 only: at 3×3 it alone costs seconds,
    # and the blocks it rests on (precision product, Woodbury, posterior mean) are checked here
    quadratic = (Step("bayes-quadratic",
                      _quad(ys - mus, P0) + (xs - alpha * ys).dot(xs - alpha * ys) / sigma**2,
                      _quad(xs - alpha * mus, M_inv) + _quad(ys - post_mean, post_prec),
                      justification="joint = marginal × posterior in log space: the quadratic "
                      "exponents agree — " + BISHOP),) if n == 2 else ()
    return (
        Step("precision-product", post_prec * V, I,
             justification="V⁻¹ = Σ⁻¹ + (α²/σ²) I is the inverse of σ²Σ(α²Σ + σ²I)⁻¹ — "
             + BISHOP),
        *quadratic,
        Step("bayes-determinant", Sigma.det(method="berkowitz") * sigma ** (2 * n),
             M.det(method="berkowitz") * V.det(method="berkowitz"),
             justification="joint = marginal × posterior in log space: the log-prefactors "
             "agree, det Σ · σ^{2d} = det M · det V — " + BISHOP),
        Step("score-2", h.xreplace(dict(zip(ys, post_mean, strict=True))), score,
             justification="∇log p_t = E_{x_0|x_t}[h] = −(α²Σ + σ²I)⁻¹(x_t − αμ) — seed eq. "
             "\"score-2\""),
        Step("woodbury", alpha**2 / sigma**4 * V, I / sigma**2 - M_inv,
             justification="Cov(h|x_t) = (α²/σ⁴) V = I/σ² − (α²Σ + σ²I)⁻¹ — Woodbury "
             "identity"),
        Step("constant", alpha**2 / sigma**4 * V.trace(), constant,
             justification="C = (α²/σ⁴) tr Cov(x_0|x_t) = d/σ² − tr((α²Σ + σ²I)⁻¹) — "
             + VINCENT),
        Step("dsm-minus-sm", dsm - sm, constant,
             justification="DSM(W, b) − SM(W, b) = C(t) for an affine s(x) = W x + b, by "
             "second moments — " + VINCENT),
        Step("theta-free", _gradient(dsm - sm, (*W, *b)),
             sp.zeros(n * n + n, 1),
             justification="∂(DSM − SM)/∂W_ij = ∂(DSM − SM)/∂b_i = 0 — " + VINCENT),
    )


@derivation("sm_dsm[gaussian-full-2x2]",
            claim="p_0 = N(μ, Σ), Σ a symbolic symmetric 2×2: C = 2/σ² − tr((α²Σ + σ²I)⁻¹)",
            citation=VINCENT, data="N(mu, Sigma), symbolic 2x2 Sigma, affine s")
def gaussian_full_2x2() -> tuple[Step, ...]:
    """Joint = marginal × posterior via precision matrices; C(t) in closed form."""
    return _full_steps(2)


@derivation("sm_dsm[gaussian-full-3x3]",
            claim="p_0 = N(μ, Σ), Σ a symbolic symmetric 3×3: C = 3/σ² − tr((α²Σ + σ²I)⁻¹)",
            citation=VINCENT, data="N(mu, Sigma), symbolic 3x3 Sigma, affine s")
def gaussian_full_3x3() -> tuple[Step, ...]:
    """As the 2×2 case, with a 3×3 covariance."""
    return _full_steps(3)


# ----------------------------------------------------------------------------- d-D, diagonal Σ
_i = sp.Symbol("i", integer=True, positive=True)
_lam = sp.Function("lambda_", positive=True)      # the i-th variance of a diagonal Σ
CONSTANT_ISOTROPIC = dim / sigma**2 - dim / (alpha**2 * s_iso**2 + sigma**2)
register_closed_form("gaussian_constant_isotropic", CONSTANT_ISOTROPIC, (alpha, sigma, s_iso, dim),
                     citation=VINCENT + "; C = d/σ² − d/(α²s² + σ²)")


def _coordinatewise(expr_of_variance: sp.Expr) -> sp.Expr:
    return sp.Sum(expr_of_variance, (_i, 1, dim))


@derivation("sm_dsm[gaussian-diagonal-d]",
            claim="p_0 = N(μ, diag(λ_1..λ_d)) for every d: C = d/σ² − Σ_i 1/(α²λ_i + σ²); "
            "isotropic: d/σ² − d/(α²s² + σ²)",
            citation=VINCENT, data="N(mu, diag(lambda)), general d (per-coordinate argument)")
def gaussian_diagonal() -> tuple[Step, ...]:
    """Per coordinate the 1-D result with τ² = λ_i; the constant adds over coordinates."""
    lam = _lam(_i)
    per_coordinate = alpha**2 / sigma**4 * POST_VAR.subs(tau**2, lam)
    total = _coordinatewise(per_coordinate)
    closed = dim / sigma**2 - _coordinatewise(1 / (alpha**2 * lam + sigma**2))
    return (
        Step("coordinate-posterior", per_coordinate, CONSTANT_1D.subs(tau**2, lam),
             justification="a diagonal Σ factorises p_0, the kernel and the posterior over "
             "coordinates; each is the 1-D case with τ² = λ_i — " + BISHOP),
        Step("sum-of-coordinates", total, _coordinatewise(CONSTANT_1D.subs(tau**2, lam)),
             justification="C = Σ_i (α²/σ⁴) Var(x_{0,i}|x_t), each term by the 1-D case — "
             "linearity of the sum"),
        Step("constant", _coordinatewise(CONSTANT_1D.subs(tau**2, lam)), closed,
             justification="Σ_i (1/σ² − 1/(α²λ_i + σ²)) = d/σ² − Σ_i 1/(α²λ_i + σ²) — "
             "linearity of the sum"),
        Step("isotropic", closed.subs(lam, s_iso**2), CONSTANT_ISOTROPIC,
             justification="λ_i = s² for every i — docs/design.md §2"),
        Step("isotropic-is-full", _full_constant(3)[0].subs(_isotropic_sigma(3)),
             CONSTANT_ISOTROPIC.subs(dim, 3),
             justification="the full 3×3 closed form at Σ = s²I agrees — consistency"),
    )


def _isotropic_sigma(n: int) -> dict[sp.Symbol, sp.Expr]:
    Sigma = _covariance(n)
    return {Sigma[i, j]: (s_iso**2 if i == j else sp.Integer(0))
            for i in range(n) for j in range(n)}
