"""SM = DSM + C for Gaussian-mixture data: the posterior is a mixture, the identities hold exactly.

p_0 = Σ_k π_k N(μ_k, τ_k² I). Under the kernel N(α x_0, σ² I), component k factorises as
marginal N(α μ_k, v_k I), v_k = α²τ_k² + σ², times posterior N(m_k(x_t), c_k I) with
m_k = (α τ_k² x_t + σ² μ_k)/v_k and c_k = σ²τ_k²/v_k (Bishop 2006, eqs. 2.113-2.117). The mixture
posterior has weights w_k(x_t) = π_k N(x_t; αμ_k, v_k)/p_t(x_t) and these Gaussian components, so
every posterior expectation of a polynomial is a finite sum of Gaussian moments (no integration).

The general case is a symbolic number K of components (SymPy ``Sum``); K = 2 and K = 3 in 1-D and
K = 2 in 2-D (isotropic components) are written out term by term. Where a step holds for *every*
weight vector w_k ≥ 0 with Σ_k w_k = 1 (the pointwise identity, Jensen), it is stated for such
symbols; the steps "posterior-normalised" and "score-2" show the posterior weights are one.
Gaussian expectations use the moment formula of ``proofs.catalogue.gaussian`` (checked there
against the moment generating function). C(t) as a number: :func:`proofs.mixture_constant`.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from .._notation import S, alpha, conditional_score, gaussian_density, real_line, sigma, x
from .._notation import x0 as _x0
from .._registry import derivation
from .._step import Step
from .gaussian import gaussian_expectation

__all__: list[str] = []

VINCENT = "Vincent (2011), §4.2"
BISHOP = "Bishop (2006), PRML §2.3.3 (eqs. 2.113-2.117)"
DESIGN = "docs/design.md §1"
_ASSUME = (alpha > 0, sigma > 0)


def _marginal_variance(tau_k: sp.Expr) -> sp.Expr:
    return alpha**2 * tau_k**2 + sigma**2


def _posterior_mean(value: sp.Expr, mu_k: sp.Expr, tau_k: sp.Expr) -> sp.Expr:
    return (alpha * tau_k**2 * value + sigma**2 * mu_k) / _marginal_variance(tau_k)


def _posterior_variance(tau_k: sp.Expr) -> sp.Expr:
    return sigma**2 * tau_k**2 / _marginal_variance(tau_k)


def _gap_pieces(weights: list[sp.Expr], means: list[list[sp.Expr]], variances: list[sp.Expr],
                values: list[sp.Expr], total: Any = None
                ) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """E_{x_0|x_t}‖h − S‖², ‖E h − S‖², (α²/σ⁴) tr Cov(x_0|x_t) and the nonnegative form of
    the gap, for a posterior Σ_k w_k N(m_k, c_k I) in len(values) dimensions. Posterior
    expectations are sums of Gaussian moments (proofs.catalogue.gaussian.gaussian_expectation)."""
    total = total or (lambda terms: sp.Add(*terms))
    dim = len(values)
    ys = [_x0] if dim == 1 else list(sp.symbols(f"y1:{dim + 1}", real=True))
    ss = [S] if dim == 1 else list(sp.symbols(f"S1:{dim + 1}", real=True))
    h = [conditional_score(v, y_i) for v, y_i in zip(values, ys, strict=True)]
    laws = [{y_i: (m_i, c_k) for y_i, m_i in zip(ys, m_k, strict=True)}
            for m_k, c_k in zip(means, variances, strict=True)]
    dsm = total([w_k * gaussian_expectation(sp.Add(*[(h_i - s_i) ** 2 for h_i, s_i in
                                                     zip(h, ss, strict=True)]), law)
                 for w_k, law in zip(weights, laws, strict=True)])
    mean_h = [total([w_k * gaussian_expectation(h_i, law) for w_k, law in
                     zip(weights, laws, strict=True)]) for h_i in h]
    sm = sp.Add(*[(e - s_i) ** 2 for e, s_i in zip(mean_h, ss, strict=True)])
    mbar = [total([w_k * m_k[i] for w_k, m_k in zip(weights, means, strict=True)])
            for i in range(dim)]
    trace_cov = total([w_k * (dim * c_k + sp.Add(*[m_i**2 for m_i in m_k]))
                       for w_k, m_k, c_k in zip(weights, means, variances, strict=True)]
                      ) - sp.Add(*[b**2 for b in mbar])
    spread = total([w_k * (dim * c_k + sp.Add(*[(m_i - b) ** 2 for m_i, b in
                                               zip(m_k, mbar, strict=True)]))
                    for w_k, m_k, c_k in zip(weights, means, variances, strict=True)])
    return dsm, sm, alpha**2 / sigma**4 * trace_cov, alpha**2 / sigma**4 * spread


def _pointwise_steps(dsm: sp.Expr, sm: sp.Expr, trace_cov: sp.Expr, spread: sp.Expr,
                     model: list[sp.Symbol], assumptions: tuple[Any, ...], *,
                     full: bool = True) -> tuple[Step, ...]:
    steps = (
        Step("pointwise-identity", dsm - sm, trace_cov,
             justification="E_{x_0|x_t}‖h − S‖² − ‖∇log p_t − S‖² = (α²/σ⁴) tr Cov(x_0|x_t), "
             "Cov = Σ_k w_k (C_k + m_k m_kᵀ) − m mᵀ — " + DESIGN, assumptions=assumptions),
        Step("jensen", sm, dsm, relation="<=", witness=spread,
             justification="SM ≤ DSM pointwise: the gap is (α²/σ⁴) Σ_k w_k (‖m_k − m‖² + tr C_k)"
             " ≥ 0 — Jensen", assumptions=assumptions),
        Step("pointwise-theta-free", sp.Matrix([sp.diff(dsm - sm, s) for s in model]),
             sp.zeros(len(model), 1),
             justification="∂/∂S of the pointwise gap is 0: it contains no S = s_θ(x_t) — "
             + VINCENT, assumptions=assumptions),
    )
    return steps if full else steps[:2]


# ----------------------------------------------------------------------------- general K (Sum)
_k = sp.Symbol("k", integer=True, positive=True)
_K = sp.Symbol("K", integer=True, positive=True)


def _sum(term: sp.Expr) -> sp.Expr:
    return sp.Sum(term, (_k, 1, _K))


@derivation("sm_dsm[mixture-K-1d]",
            claim="p_0 = Σ_{k≤K} π_k N(μ_k, τ_k²) for every K: the posterior is a mixture with "
            "weights ∝ π_k N(x_t; αμ_k, v_k); ∇log p_t = E_{x_0|x_t}[h]; the pointwise gap is "
            "(α²/σ⁴) Var(x_0|x_t) ≥ 0, free of s_θ",
            citation=VINCENT, data="K-component Gaussian mixture, K symbolic (SymPy Sum), 1-D")
def mixture_general() -> tuple[Step, ...]:
    """Every step over a symbolic number K of components, as finite sums."""
    pi = sp.IndexedBase("pi", positive=True)
    mus = sp.IndexedBase("mu", real=True)
    taus = sp.IndexedBase("tau", positive=True)
    mu_k, tau_k = mus[_k], taus[_k]
    v = _marginal_variance(tau_k)
    m = _posterior_mean(x, mu_k, tau_k)
    c = _posterior_variance(tau_k)
    h = conditional_score()
    law = {_x0: (m, c)}
    g = gaussian_density(x, alpha * mu_k, v)
    # the mixture score, with a_k = αμ_k and v_k = α²τ_k² + σ² written as symbols
    a_s, v_s = sp.IndexedBase("a", real=True), sp.IndexedBase("v", positive=True)
    g_s = gaussian_density(x, a_s[_k], v_s[_k])
    p_t = _sum(pi[_k] * g_s)
    w = pi[_k] * g_s / p_t
    e_h = gaussian_expectation(h, law)
    # the pointwise identity over any posterior weights u_k/Σu_k, means m_k, variances c_k
    u = sp.IndexedBase("u", positive=True)
    ms = sp.IndexedBase("m", real=True)
    cs = sp.IndexedBase("c", positive=True)
    pieces = _gap_pieces([u[_k] / _sum(u[_k])], [[ms[_k]]], [cs[_k]], [x], total=_sum1)
    moment = gaussian_expectation(gaussian_expectation(h**2, law), {x: (alpha * mu_k, v)})
    fisher = sp.Integral(sp.Function("p_t", positive=True)(x)
                         * sp.Function("s_bar", real=True)(x) ** 2, real_line(x))
    return (
        Step("component-score", sp.diff(sp.log(g), x), -(x - alpha * mu_k) / v,
             justification="score of component k of p_t, N(x_t; αμ_k, α²τ_k² + σ²) — Gaussian "
             "form (joint = marginal × posterior per component: sm_dsm[gaussian-1d]::bayes)",
             assumptions=_ASSUME),
        Step("component-score-2", -(x - alpha * mu_k) / v, e_h,
             justification="the component score is E_k[h] = −(x_t − α m_k)/σ² (h is affine in "
             "x_0) — seed eq. \"score-2\" per component", assumptions=_ASSUME),
        Step("posterior-normalised", _sum(w), sp.Integer(1),
             justification="the posterior weights w_k = π_k N(x_t; αμ_k, v_k)/p_t(x_t) sum to 1 "
             "— Bayes' rule", assumptions=_ASSUME),
        Step("score-2", sp.Derivative(sp.log(p_t), x),
             _sum(w * -(x - a_s[_k]) / v_s[_k]),
             justification="∇log p_t = Σ_k w_k ∇log g_k = Σ_k w_k E_k[h] = E_{x_0|x_t}[h] with "
             "g_k = N(x_t; a_k, v_k), a_k = αμ_k, v_k = α²τ_k² + σ², w_k = π_k g_k/p_t "
             "(component-score-2) — seed eq. \"score-2\"", assumptions=_ASSUME),
        *_pointwise_steps(*pieces, [S], _ASSUME),
        Step("second-moment-of-h", moment, 1 / sigma**2,
             justification="E_{x_t~g_k} E_k[h²] = E[ε²]/σ² = 1/σ² for each component — tower "
             "property and Gaussian moments", assumptions=_ASSUME),
        Step("constant", _sum(pi[_k]) / sigma**2 - fisher, 1 / sigma**2 - fisher,
             justification="C = E‖h‖² − J(p_t) = Σ_k π_k E_{g_k}E_k[h²] − J = Σ_k π_k/σ² − J "
             "(second-moment-of-h) = 1/σ² − ∫ p_t (∇log p_t)² with Σ_k π_k = 1, J unevaluated — "
             + VINCENT, assumptions=(*_ASSUME, sp.Eq(_sum(pi[_k]), 1))),
    )


def _sum1(terms: list[sp.Expr]) -> sp.Expr:
    (term,) = terms
    return _sum(term)


# ----------------------------------------------------------------------------- concrete K
def _symbols(name: str, count: int, **assumptions: bool) -> list[sp.Symbol]:
    return list(sp.symbols(f"{name}1:{count + 1}", **assumptions))


def _convex_weights(count: int) -> tuple[list[sp.Expr], tuple[Any, ...]]:
    """Posterior weights w_1..w_K as symbols, w_K = 1 − Σ_{k<K} w_k, all ≥ 0: the pointwise
    identity holds for every such vector, so for the posterior weights w_k(x_t)."""
    free = _symbols("w", count - 1, nonnegative=True)
    last = 1 - sp.Add(*free)
    return [*free, last], (*_ASSUME, last >= 0)


def _concrete_1d(count: int, *, full: bool = True) -> tuple[Step, ...]:
    pis = _symbols("pi", count, positive=True)
    a_s = _symbols("a", count, real=True)
    v_s = _symbols("v", count, positive=True)
    comps = [gaussian_density(x, a_k, v_k) for a_k, v_k in zip(a_s, v_s, strict=True)]
    p_t = sp.Add(*[p_k * g_k for p_k, g_k in zip(pis, comps, strict=True)])
    w = [p_k * g_k / p_t for p_k, g_k in zip(pis, comps, strict=True)]
    weights, convex = _convex_weights(count)
    pieces = _gap_pieces(weights, [[m_k] for m_k in _symbols("m", count, real=True)],
                         _symbols("c", count, positive=True), [x])
    return (
        Step("score-2", sp.Derivative(sp.log(p_t), x),
             sp.Add(*[w_k * -(x - a_k) / v_k for w_k, a_k, v_k in zip(w, a_s, v_s, strict=True)]),
             justification="∇log p_t = Σ_k w_k ∇log g_k = Σ_k w_k E_k[h] = E_{x_0|x_t}[h], "
             "g_k = N(x_t; a_k, v_k), a_k = αμ_k, v_k = α²τ_k² + σ², w_k = π_k g_k/p_t "
             "(sm_dsm[mixture-K-1d]::component-score-2) — seed eq. \"score-2\"",
             assumptions=_ASSUME),
        *_pointwise_steps(*pieces, [S], convex, full=full),
    )


def _constant_as_integral(count: int) -> Step:
    """C = ∫ p_t (E[h²|x_t] − (∇log p_t)²) = Σ_k π_k ∫ g_k E_k[h²] − J, by p_t w_k = π_k g_k."""
    pis = _symbols("pi", count, positive=True)
    g = [sp.Function(f"g{k + 1}", positive=True)(x) for k in range(count)]
    e = [sp.Function(f"e{k + 1}", positive=True)(x) for k in range(count)]
    score = sp.Function("s_bar", real=True)(x)
    p_t = sp.Add(*[p_k * g_k for p_k, g_k in zip(pis, g, strict=True)])
    post_h2 = sp.Add(*[p_k * g_k / p_t * e_k for p_k, g_k, e_k in zip(pis, g, e, strict=True)])
    fisher = sp.Integral(p_t * score**2, real_line(x))
    return Step(
        "constant-as-integral", sp.Integral(p_t * (post_h2 - score**2), real_line(x)),
        sp.Add(*[p_k * sp.Integral(g_k * e_k, real_line(x))
                 for p_k, g_k, e_k in zip(pis, g, e, strict=True)]) - fisher,
        justification="C = ∫ p_t (α²/σ⁴) Var(x_0|x_t) = ∫ p_t (E[h²|x_t] − (∇log p_t)²) = "
        "Σ_k π_k ∫ g_k E_k[h²] − J(p_t), with g_k = N(x_t; αμ_k, v_k), E_k[h²] its posterior "
        "second moment and p_t w_k = π_k g_k; then sm_dsm[mixture-K-1d]::constant — linearity",
        assumptions=_ASSUME)


@derivation("sm_dsm[mixture-K2-1d]",
            claim="p_0 = π_1 N(μ_1, τ_1²) + π_2 N(μ_2, τ_2²): ∇log p_t = E_{x_0|x_t}[h]; the "
            "pointwise gap is (α²/σ⁴) Var(x_0|x_t) ≥ 0; C = 1/σ² − J(p_t) as an integral",
            citation=VINCENT, data="2-component Gaussian mixture, symbolic weights/means (1-D)")
def mixture_k2() -> tuple[Step, ...]:
    """Two components, every parameter symbolic, written out term by term."""
    return (*_concrete_1d(2), _constant_as_integral(2))


@derivation("sm_dsm[mixture-K3-1d]",
            claim="p_0 = Σ_{k≤3} π_k N(μ_k, τ_k²): ∇log p_t = E_{x_0|x_t}[h]; the pointwise gap "
            "is (α²/σ⁴) Var(x_0|x_t) ≥ 0, free of s_θ",
            citation=VINCENT, data="3-component Gaussian mixture, symbolic weights/means (1-D)")
def mixture_k3() -> tuple[Step, ...]:
    """Three components, every parameter symbolic, written out term by term."""
    return _concrete_1d(3, full=False)


# ----------------------------------------------------------------------------- 2-D
@derivation("sm_dsm[mixture-K2-2d]",
            claim="p_0 = Σ_{k≤2} π_k N(μ_k, τ_k² I) on R²: ∇log p_t = E_{x_0|x_t}[h]; the "
            "pointwise gap is (α²/σ⁴) tr Cov(x_0|x_t) ≥ 0; E‖h‖² = 2/σ²",
            citation=VINCENT, data="2-component isotropic Gaussian mixture in 2-D, symbolic")
def mixture_k2_2d() -> tuple[Step, ...]:
    """Two isotropic components in two dimensions; vectors written by coordinates."""
    count, dim = 2, 2
    xs = list(sp.symbols(f"x1:{dim + 1}", real=True))
    pis = _symbols("pi", count, positive=True)
    v_s = _symbols("v", count, positive=True)
    a_s = [list(sp.symbols(f"a{k + 1}_1:{dim + 1}", real=True)) for k in range(count)]
    comps = [sp.Mul(*[gaussian_density(x_i, a_i, v_k) for x_i, a_i in zip(xs, a_k, strict=True)])
             for a_k, v_k in zip(a_s, v_s, strict=True)]
    p_t = sp.Add(*[p_k * g_k for p_k, g_k in zip(pis, comps, strict=True)])
    w = [p_k * g_k / p_t for p_k, g_k in zip(pis, comps, strict=True)]
    e_h = sp.Matrix([sp.Add(*[w_k * -(x_i - a_k[i]) / v_k for w_k, a_k, v_k in
                              zip(w, a_s, v_s, strict=True)]) for i, x_i in enumerate(xs)])
    weights, convex = _convex_weights(count)
    ms = [list(sp.symbols(f"m{k + 1}_1:{dim + 1}", real=True)) for k in range(count)]
    pieces = _gap_pieces(weights, ms, _symbols("c", count, positive=True), xs)
    tau, mus = sp.Symbol("tau", positive=True), sp.symbols(f"mu1:{dim + 1}", real=True)
    means = [_posterior_mean(x_i, m_i, tau) for x_i, m_i in zip(xs, mus, strict=True)]
    ys = list(sp.symbols(f"y1:{dim + 1}", real=True))
    h2 = sp.Add(*[conditional_score(x_i, y_i) ** 2 for x_i, y_i in zip(xs, ys, strict=True)])
    moment = gaussian_expectation(
        gaussian_expectation(h2, {y_i: (m_i, _posterior_variance(tau)) for y_i, m_i in
                                  zip(ys, means, strict=True)}),
        {x_i: (alpha * m_i, _marginal_variance(tau)) for x_i, m_i in zip(xs, mus, strict=True)})
    return (
        Step("score-2", sp.Matrix([sp.Derivative(sp.log(p_t), x_i) for x_i in xs]), e_h,
             justification="∇log p_t = Σ_k w_k ∇log g_k = Σ_k w_k E_k[h], g_k = N(x_t; a_k, v_k I),"
             " a_k = αμ_k, v_k = α²τ_k² + σ², E_k[h] = −(x_t − α m_k)/σ² coordinatewise — seed "
             "eq. \"score-2\"", assumptions=_ASSUME),
        *_pointwise_steps(*pieces, list(sp.symbols(f"S1:{dim + 1}", real=True)), convex,
                          full=False),
        Step("second-moment-of-h", moment, dim / sigma**2,
             justification="E‖h‖² = E‖ε‖²/σ² = d/σ² for a component in d = 2 — Gaussian moments",
             assumptions=_ASSUME),
    )
