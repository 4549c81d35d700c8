"""Tweedie's formula: E[x_0|x_t] = (x_t + σ² ∇log p_t(x_t))/α, for every p_0.

Proved for an undefined p_0 with unevaluated integrals (differentiation under the integral and
∂_x N(x; αx_0, σ²) = −(x − αx_0)/σ² N), then on a Gaussian mixture with any number K of
components (a SymPy ``Sum``). The closed form ``tweedie_mean`` is declared here.
Efron (2011), eq. 2.8; Robbins (1956); docs/design.md §2 ("Beyond the seed").
"""

from __future__ import annotations

import sympy as sp

from .._notation import alpha, kernel, p0, real_line, sigma, x, x0
from .._registry import derivation, register_closed_form
from .._step import Step

__all__: list[str] = []

EFRON = "Efron (2011), eq. 2.8"
_ASSUME = (alpha > 0, sigma > 0)

score = sp.Symbol("score", real=True)
TWEEDIE_MEAN = (x + sigma**2 * score) / alpha
register_closed_form("tweedie_mean", TWEEDIE_MEAN, (alpha, sigma, x, score),
                     citation=EFRON + "; E[x_0|x_t] = (x_t + σ² ∇log p_t(x_t))/α")


@derivation("tweedie[any-p0-1d]",
            claim="for every p_0: E[x_0|x_t] = (x_t + σ² ∇log p_t(x_t))/α",
            citation=EFRON, data="any p_0 (undefined function), 1-D")
def tweedie_any_prior() -> tuple[Step, ...]:
    """Leibniz under the integral, the kernel's derivative, then divide by p_t."""
    K = kernel()
    p_t = sp.Integral(p0(x0) * K, real_line(x0))
    first = sp.Integral(x0 * p0(x0) * K, real_line(x0))          # p_t E[x_0|x_t]
    post_mean = sp.Integral(x0 * p0(x0) * K / p_t, real_line(x0))
    return (
        Step("kernel-derivative", sp.Derivative(K, x), -(x - alpha * x0) / sigma**2 * K,
             justification="∂_x N(x; αx_0, σ²) = −(x − αx_0)/σ² N — Gaussian form",
             assumptions=_ASSUME),
        Step("first-moment", alpha * first, x * p_t + sigma**2 * sp.Derivative(p_t, x),
             justification="α ∫ x_0 p_0 N dx_0 = x ∫ p_0 N + σ² ∂_x ∫ p_0 N: differentiate "
             "under the integral (sm_dsm[any-p0-1d]::leibniz) and insert −(x − αx_0) N = σ² ∂_x N "
             "— linearity", assumptions=_ASSUME,
             hypotheses=("leibniz",)),
        Step("tweedie", post_mean, TWEEDIE_MEAN.subs(score, sp.Derivative(sp.log(p_t), x)),
             justification="divide by α p_t: E[x_0|x_t] = (x_t + σ² ∇log p_t)/α, the registered "
             "closed form tweedie_mean — " + EFRON,
             assumptions=_ASSUME,
             hypotheses=("leibniz",)),
    )


@derivation("tweedie[mixture-K-1d]",
            claim="p_0 = Σ_{k≤K} π_k N(μ_k, τ_k²): Σ_k w_k m_k = (x_t + σ² ∇log p_t)/α",
            citation=EFRON, data="K-component Gaussian mixture, K symbolic (SymPy Sum), 1-D")
def tweedie_mixture() -> tuple[Step, ...]:
    """Per component, then the posterior-weighted average (weights sum to 1)."""
    k = sp.Symbol("k", integer=True, positive=True)
    count = sp.Symbol("K", integer=True, positive=True)
    mu = sp.IndexedBase("mu", real=True)
    tau = sp.IndexedBase("tau", positive=True)
    v = alpha**2 * tau[k] ** 2 + sigma**2
    m = (alpha * tau[k] ** 2 * x + sigma**2 * mu[k]) / v
    component_score = -(x - alpha * mu[k]) / v
    # the posterior weights w_k = π_k g_k/p_t enter only through Σ_k w_k = 1: any u_k/Σ_j u_j;
    # component k's posterior mean is m_k and its score E_k[h] = (α m_k − x_t)/σ²
    u = sp.IndexedBase("u", positive=True)
    w = u[k] / sp.Sum(u[k], (k, 1, count))
    means = sp.IndexedBase("m", real=True)
    mixture_score = sp.Sum(w * (alpha * means[k] - x) / sigma**2, (k, 1, count))
    return (
        Step("component", (x + sigma**2 * component_score) / alpha, m,
             justification="Tweedie for component k: (x_t + σ² ∇log g_k)/α = m_k, the component "
             "posterior mean — " + EFRON, assumptions=_ASSUME),
        Step("weights-sum-to-one", sp.Sum(w, (k, 1, count)), sp.Integer(1),
             justification="posterior weights are normalised — Bayes' rule",
             assumptions=_ASSUME),
        Step("component-score", component_score, (alpha * m - x) / sigma**2,
             justification="∇log g_k = E_k[h] = (α m_k − x_t)/σ² — seed eq. \"score-2\" per "
             "component", assumptions=_ASSUME),
        Step("mixture", sp.Sum(w * means[k], (k, 1, count)),
             (x + sigma**2 * mixture_score) / alpha,
             justification="E[x_0|x_t] = Σ_k w_k m_k and ∇log p_t = Σ_k w_k ∇log g_k "
             "(sm_dsm[mixture-K-1d]::score-2) for weights w_k ≥ 0 with Σ_k w_k = 1 — " + EFRON,
             assumptions=_ASSUME),
    )
