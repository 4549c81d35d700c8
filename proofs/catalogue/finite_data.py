"""A finite data set p_0 = (1/B) Σ_i δ(x_0 − y_i): the ideal denoiser, the batch ratio estimator,
and C(t) → 0 as σ → 0.

The marginal is the Gaussian mixture (1/B) Σ_i N(α y_i, σ² I) (the mixture results with τ_i = 0);
the posterior puts weight softmax_i(−‖x_t − α y_i‖²/(2σ²)) on y_i, so E[x_0|x_t] is the "ideal
denoiser" of Karras et al. (2022), Appendix B.3, eq. 57. The seed's ratio-form estimator over a
batch, Σ_i ∇N(x; αy_i, σ²)/Σ_i N(x; αy_i, σ²) (eq. "score-1" with the batch as p_0), is exactly
the score of the batch's empirical distribution. For B = 2,
C = (α²/σ⁴)(y_1 − y_2)² E[w_1 w_2] ≤ (α²Δ²/(4σ⁴)) exp(−α²Δ²/(8σ²)) → 0 (Δ = y_1 − y_2).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from .._notation import S, alpha, conditional_score, gaussian_density, kernel, real_line, sigma, x
from .._registry import derivation, register_closed_form
from .._step import Step

__all__: list[str] = []

KARRAS = "Karras et al. (2022), Appendix B.3, eq. 57"
VINCENT = "Vincent (2011), §4.2"
_ASSUME = (alpha > 0, sigma > 0)

delta = sp.Symbol("delta", positive=True)     # |y_1 − y_2| > 0
#: the B = 2 upper bound on C(t): (α²Δ²/(4σ⁴)) exp(−α²Δ²/(8σ²))
CONSTANT_BOUND_B2 = alpha**2 * delta**2 / (4 * sigma**4) * sp.exp(-alpha**2 * delta**2
                                                                   / (8 * sigma**2))
register_closed_form("finite_data_constant_bound_b2", CONSTANT_BOUND_B2, (alpha, sigma, delta),
                     citation="C(t) ≤ (α²Δ²/(4σ⁴)) exp(−α²Δ²/(8σ²)) for two points at distance "
                     "Δ (AM-GM and the Bhattacharyya coefficient); → 0 as σ → 0")


def _points(count: int) -> list[sp.Symbol]:
    return list(sp.symbols(f"y1:{count + 1}", real=True))


def _softmax(logits: list[sp.Expr]) -> list[sp.Expr]:
    total = sp.Add(*[sp.exp(z) for z in logits])
    return [sp.exp(z) / total for z in logits]


_y2 = _points(2)
IDEAL_DENOISER_B2 = sp.Add(*[w * y for w, y in zip(
    _softmax([-(x - alpha * y) ** 2 / (2 * sigma**2) for y in _y2]), _y2, strict=True)])
register_closed_form("ideal_denoiser_b2", IDEAL_DENOISER_B2, (alpha, sigma, x, *_y2),
                     citation=KARRAS + "; D(x) = Σ_i softmax_i(−(x − αy_i)²/(2σ²)) y_i, B = 2")


def _convex(count: int) -> tuple[list[sp.Expr], tuple[Any, ...]]:
    free = list(sp.symbols(f"w1:{count}", nonnegative=True))
    last = 1 - sp.Add(*free)
    return [*free, last], (*_ASSUME, last >= 0)


def _steps_1d(count: int) -> tuple[Step, ...]:
    ys = _points(count)
    comps = [kernel(x, y) for y in ys]
    p_hat = sp.Add(*comps) / count                       # the empirical p_t
    logits = [-(x - alpha * y) ** 2 / (2 * sigma**2) for y in ys]
    soft = _softmax(logits)
    posterior = [g / count / p_hat for g in comps]
    denoiser = sp.Add(*[w * y for w, y in zip(soft, ys, strict=True)])
    ratio = sp.Add(*[sp.Derivative(g, x) for g in comps]) / sp.Add(*comps)
    h = [conditional_score(x, y) for y in ys]
    # pointwise identity: the posterior is Σ_i w_i δ_{y_i}, for any weights w_i ≥ 0, Σ = 1
    ws, convex = _convex(count)
    dsm = sp.Add(*[w * (h_i - S) ** 2 for w, h_i in zip(ws, h, strict=True)])
    mean_h = sp.Add(*[w * h_i for w, h_i in zip(ws, h, strict=True)])
    mean_y = sp.Add(*[w * y for w, y in zip(ws, ys, strict=True)])
    var_y = sp.Add(*[w * (y - mean_y) ** 2 for w, y in zip(ws, ys, strict=True)])
    tau = sp.Symbol("tau", nonnegative=True)
    return (
        Step("marginal", gaussian_density(x, alpha * ys[0], alpha**2 * tau**2 + sigma**2
                                          ).subs(tau, 0), comps[0],
             justification="∫ δ(x_0 − y) N(x_t; αx_0, σ²) dx_0 = N(x_t; αy, σ²): the Gaussian "
             "mixture's component with τ = 0, so p_t = (1/B) Σ_i N(αy_i, σ²) — sifting property",
             assumptions=_ASSUME),
        Step("posterior-softmax", sp.Matrix(posterior), sp.Matrix(soft),
             justification="p_t(y_i|x_t) = (1/B) N(x_t; αy_i, σ²)/p_t(x_t) = softmax_i(−(x_t − "
             "αy_i)²/(2σ²)) — Bayes' rule, " + KARRAS, assumptions=_ASSUME),
        Step("ratio-estimator-is-empirical-score", ratio, sp.Derivative(sp.log(p_hat), x),
             justification="the ratio-form estimator over the batch, Σ_i ∇N(x; αy_i, σ²)/Σ_i "
             "N(x; αy_i, σ²), is exactly ∇log of the batch's empirical p_t — seed eq. "
             "\"score-1\" with p_0 the batch", assumptions=_ASSUME),
        Step("score-2", sp.Derivative(sp.log(p_hat), x),
             sp.Add(*[w * h_i for w, h_i in zip(soft, h, strict=True)]),
             justification="∇log p_t = Σ_i softmax_i h(y_i, x_t) = E_{x_0|x_t}[h] — seed eq. "
             "\"score-2\"", assumptions=_ASSUME),
        Step("ideal-denoiser", (x + sigma**2 * sp.Derivative(sp.log(p_hat), x)) / alpha,
             denoiser,
             justification="Tweedie: E[x_0|x_t] = (x_t + σ²∇log p_t)/α = Σ_i softmax_i y_i, the "
             "ideal denoiser — " + KARRAS, assumptions=_ASSUME),
        Step("pointwise-identity", dsm - (mean_h - S) ** 2, alpha**2 / sigma**4 * var_y,
             justification="E_{x_0|x_t}(h − S)² − (∇log p_t − S)² = (α²/σ⁴) Var(x_0|x_t), "
             "Var = Σ_i w_i (y_i − ȳ)² over the posterior weights — docs/design.md §1",
             assumptions=convex),
    )


@derivation("finite_data[B2-1d]",
            claim="p_0 = ½(δ_{y_1} + δ_{y_2}): the ideal denoiser; the batch ratio estimator is "
            "the empirical score; C(t) ≤ (α²Δ²/(4σ⁴)) exp(−α²Δ²/(8σ²)) → 0 as σ → 0",
            citation=KARRAS, data="two points y_1, y_2 (symbolic), 1-D")
def finite_data_b2() -> tuple[Step, ...]:
    """B = 2, with the bound that sends C(t) to 0 as σ → 0."""
    y1, y2 = _points(2)
    w1 = sp.Symbol("w1", nonnegative=True)
    r1, r2 = (sp.Function(f"r{i}", positive=True)(x) for i in (1, 2))   # r_i = √g_i
    g1, g2 = r1**2, r2**2
    p_hat = (g1 + g2) / 2
    weight_product = sp.Integral(p_hat * (g1 / (g1 + g2)) * (g2 / (g1 + g2)), real_line(x))
    halved = sp.Integral(g1 * g2 / (2 * (g1 + g2)), real_line(x))
    geometric = sp.Integral(r1 * r2 / 4, real_line(x))
    gap = (r1 - r2) ** 2 * r1 * r2 / (4 * (g1 + g2))
    a1, a2 = alpha * y1, alpha * y2
    bhattacharyya = sp.exp(-(a1 - a2) ** 2 / (8 * sigma**2)) * gaussian_density(
        x, (a1 + a2) / 2, sigma**2)
    return (
        *_steps_1d(2),
        Step("variance-of-two-points", w1 * y1**2 + (1 - w1) * y2**2
             - (w1 * y1 + (1 - w1) * y2) ** 2, w1 * (1 - w1) * (y1 - y2) ** 2,
             justification="Var(x_0|x_t) = w_1 w_2 (y_1 − y_2)², so C = (α²Δ²/σ⁴) E[w_1 w_2] — "
             "algebra", assumptions=(*_ASSUME, 1 - w1 >= 0)),
        Step("expected-weight-product", weight_product, halved,
             justification="E_{x_t}[w_1 w_2] = ∫ ½(g_1 + g_2) g_1 g_2/(g_1 + g_2)² = ∫ g_1 g_2/"
             "(2(g_1 + g_2)), g_i = r_i² = N(x_t; αy_i, σ²) — linearity", assumptions=_ASSUME),
        Step("am-gm", halved, geometric, relation="<=",
             witness=sp.Integral(gap, real_line(x)),
             justification="g_1 g_2/(g_1 + g_2) ≤ √(g_1 g_2)/2 since g_1 + g_2 ≥ 2√(g_1 g_2), "
             "integrated — AM-GM", assumptions=_ASSUME),
        Step("bhattacharyya", sp.sqrt(kernel(x, y1) * kernel(x, y2)), bhattacharyya,
             justification="√(N(x; a_1, σ²) N(x; a_2, σ²)) = exp(−(a_1 − a_2)²/(8σ²)) N(x; (a_1 "
             "+ a_2)/2, σ²), which integrates to exp(−α²Δ²/(8σ²)) — Gaussian form (log space)",
             assumptions=_ASSUME),
        Step("constant-bound", alpha**2 * delta**2 / sigma**4
             * sp.exp(-alpha**2 * delta**2 / (8 * sigma**2)) / 4, CONSTANT_BOUND_B2,
             justification="C ≤ (α²Δ²/σ⁴)·¼ exp(−α²Δ²/(8σ²)), the registered closed form "
             "finite_data_constant_bound_b2 — the three steps above", assumptions=_ASSUME),
        Step("constant-vanishes", sp.Limit(CONSTANT_BOUND_B2, sigma, 0, "+"), sp.Integer(0),
             justification="the bound → 0 as σ → 0⁺, so 0 ≤ C(t) → 0 — exact limit (SymPy's "
             "Gruntz algorithm)", assumptions=_ASSUME),
    )


@derivation("finite_data[B3-1d]",
            claim="p_0 = ⅓(δ_{y_1} + δ_{y_2} + δ_{y_3}): the ideal denoiser; the batch ratio "
            "estimator is the empirical score; the pointwise gap is (α²/σ⁴) Var(x_0|x_t)",
            citation=KARRAS, data="three points y_1, y_2, y_3 (symbolic), 1-D")
def finite_data_b3() -> tuple[Step, ...]:
    """B = 3."""
    return _steps_1d(3)


@derivation("finite_data[B2-2d]",
            claim="p_0 = ½(δ_{y_1} + δ_{y_2}) on R²: the ideal denoiser Σ_i softmax_i(−‖x_t − "
            "αy_i‖²/(2σ²)) y_i",
            citation=KARRAS, data="two points in R^2 (symbolic coordinates)")
def finite_data_b2_2d() -> tuple[Step, ...]:
    """B = 2 in two dimensions, vectors by coordinates."""
    dim = 2
    xs = list(sp.symbols(f"x1:{dim + 1}", real=True))
    ys = [list(sp.symbols(f"y{i + 1}_1:{dim + 1}", real=True)) for i in range(2)]
    logits = [-sp.Add(*[(x_j - alpha * y_j) ** 2 for x_j, y_j in zip(xs, y, strict=True)])
              / (2 * sigma**2) for y in ys]
    comps = [sp.exp(z) / (2 * sp.pi * sigma**2) for z in logits]    # N(x; αy_i, σ² I), d = 2
    p_hat = sp.Add(*comps) / 2
    soft = _softmax(logits)
    grad_log = sp.Matrix([sp.Derivative(sp.log(p_hat), x_j) for x_j in xs])
    denoiser = sp.Matrix([sp.Add(*[w * y[j] for w, y in zip(soft, ys, strict=True)])
                          for j in range(dim)])
    return (
        Step("ideal-denoiser", (sp.Matrix(xs) + sigma**2 * grad_log) / alpha, denoiser,
             justification="(x_t + σ²∇log p̂_t)/α = Σ_i softmax_i(−‖x_t − αy_i‖²/(2σ²)) y_i — "
             + KARRAS, assumptions=_ASSUME),
    )
