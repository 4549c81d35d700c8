"""SM = DSM + C for *any* data density p_0: an undefined function with unevaluated integrals.

Steps 1-7 of docs/design.md §2, in 1-D and with a genuine d-dimensional kernel
(d = 3, component symbols). The model's value at one x_t is a symbol S (pointwise identities) or a
function s(x_t) (the integrated losses). Vincent (2011), §4.2 and Appendix; the seed's equations
"score-1" (ratio form) and "score-2" (posterior form).
"""

from __future__ import annotations

import sympy as sp

from .._notation import S, alpha, conditional_score, kernel, p0, real_line, sigma, x, x0
from .._registry import derivation
from .._step import Step

__all__: list[str] = []

VINCENT = "Vincent (2011), §4.2 and Appendix"
_ASSUME = (sigma > 0, alpha > 0)
_DIM = 2


# ----------------------------------------------------------------------------- 1-D
def _expect(f: sp.Expr) -> sp.Expr:
    """E_{p_0}[f] = ∫ p_0(x_0) f dx_0, unevaluated."""
    return sp.Integral(p0(x0) * f, real_line(x0))


@derivation("sm_dsm[any-p0-1d]",
            claim="for every p_0: DSM(s) − SM(s) = E‖h‖² − J(p_t), free of s; SM ≤ DSM pointwise",
            citation=VINCENT, data="any p_0 (undefined function), 1-D")
def any_prior_1d() -> tuple[Step, ...]:
    """Steps 1-7 for an arbitrary density p_0 on the real line."""
    K = kernel()                                    # p_t(x_t | x_0)
    h = conditional_score()                         # ∇ log p_t(x_t | x_0)
    eps = sp.Symbol("epsilon", real=True)
    p_t = _expect(K)                                # the marginal p_t(x_t)
    score = _expect(K * h) / p_t                    # ratio form, eq. "score-1"
    post = p0(x0) * K / p_t                         # the posterior p_t(x_0 | x_t)

    def post_mean(f: sp.Expr) -> sp.Expr:
        return sp.Integral(post * f, real_line(x0))

    s = sp.Function("s", real=True)(x)              # the model s_θ(x_t)
    phi = sp.Function("phi", real=True)(x)          # a direction of variation of s
    dsm = sp.Integral(_expect(K * (h - s) ** 2), real_line(x))
    sm = sp.Integral(p_t * (score - s) ** 2, real_line(x))
    fisher = sp.Integral(p_t * score**2, real_line(x))
    dsm_pointwise = post_mean((h - S) ** 2)
    sm_pointwise = (score - S) ** 2
    variance = post_mean((h - post_mean(h)) ** 2)
    density_ok = (*_ASSUME, p0(x0) >= 0)
    return (
        Step("marginal",
             sp.Integral(p0(x0) * sp.exp(-((x - alpha * x0) / sigma) ** 2 / 2)
                         / (sigma * sp.sqrt(2 * sp.pi)), real_line(x0)),
             p_t,
             justification="change of variables ε = (x_t − α x_0)/σ in x_t = α x_0 + σ ε — "
             + VINCENT, assumptions=_ASSUME),
        Step("kernel-score", sp.Derivative(sp.log(K), x), h,
             justification="conditional score of N(α x_0, σ²) — " + VINCENT,
             assumptions=_ASSUME),
        Step("grad-p-is-p-grad-log-p", sp.Derivative(K, x), K * sp.Derivative(sp.log(K), x),
             justification="∇p = p ∇log p for p > 0 — chain rule", assumptions=_ASSUME),
        Step("leibniz", sp.Derivative(p_t, x), _expect(sp.Derivative(K, x)),
             justification="differentiation under the integral (dominated convergence: the "
             "kernel and its x_t-derivative are bounded) — Leibniz rule", assumptions=_ASSUME,
             hypotheses=("leibniz",)),
        Step("score-1", sp.Derivative(sp.log(p_t), x), score,
             justification="ratio form ∇log p_t = E_{p_0}[∇p_t(x_t|x_0)]/E_{p_0}[p_t(x_t|x_0)] "
             "— seed eq. \"score-1\"", assumptions=_ASSUME,
             hypotheses=("leibniz",)),
        Step("posterior-normalised", sp.Integral(post, real_line(x0)), sp.Integer(1),
             justification="Bayes: p_t(x_0|x_t) = p_0 p_t(x_t|x_0)/p_t(x_t) integrates to 1 — "
             "Bayes' rule", assumptions=_ASSUME),
        Step("bayes", post * p_t, p0(x0) * K,
             justification="joint = marginal × posterior — Bayes' rule", assumptions=_ASSUME),
        Step("score-2", sp.Derivative(sp.log(p_t), x), post_mean(h),
             justification="posterior form ∇log p_t = E_{x_0|x_t}[h] — seed eq. \"score-2\"",
             assumptions=_ASSUME,
             hypotheses=("leibniz",)),
        Step("gap-is-posterior-variance", dsm_pointwise - sm_pointwise, variance,
             justification="E‖h − S‖² − ‖E h − S‖² = Var(h | x_t) — bias-variance "
             "decomposition, " + VINCENT, assumptions=_ASSUME),
        Step("variance-of-x0", variance,
             alpha**2 / sigma**4 * (post_mean(x0**2) - post_mean(x0) ** 2),
             justification="Var(h|x_t) = (α²/σ⁴) Var(x_0|x_t) since h is affine in x_0 — "
             "docs/design.md §1", assumptions=_ASSUME),
        Step("jensen", sm_pointwise, dsm_pointwise, relation="<=", witness=variance,
             justification="Jensen: ‖E h − S‖² ≤ E‖h − S‖², gap = Var(h|x_t) ≥ 0 — " + VINCENT,
             assumptions=density_ok),
        Step("pointwise-theta-free", sp.Derivative(dsm_pointwise - sm_pointwise, S),
             sp.Integer(0),
             justification="the pointwise gap contains no S = s_θ(x_t) — " + VINCENT,
             assumptions=_ASSUME,
             hypotheses=("leibniz",)),
        Step("expand-sm", sm,
             fisher + sp.Integral(p_t * s**2, real_line(x))
             - 2 * sp.Integral(p_t * s * score, real_line(x)),
             justification="expand the square: SM = J(p_t) + E‖s‖² − 2E[s·∇log p_t] — "
             "linearity", assumptions=_ASSUME),
        Step("expand-dsm", dsm,
             sp.Integral(_expect(K * h**2), real_line(x))
             + sp.Integral(_expect(K * s**2), real_line(x))
             - 2 * sp.Integral(_expect(K * s * h), real_line(x)),
             justification="expand the square: DSM = E‖h‖² + E‖s‖² − 2E[s·h] — linearity",
             assumptions=_ASSUME),
        Step("tower", sp.Integral(_expect(K * s * h), real_line(x)),
             sp.Integral(p_t * s * score, real_line(x)),
             justification="tower property E[s(x_t)·h] = E[s(x_t)·E[h|x_t]] with score-2 — "
             + VINCENT, assumptions=_ASSUME),
        Step("difference", dsm - sm,
             sp.Integral(_expect(K * h**2), real_line(x)) - fisher,
             justification="DSM − SM = E‖h‖² − J(p_t): no s — " + VINCENT,
             assumptions=_ASSUME),
        Step("theta-free",
             sp.Subs(sp.Derivative((dsm - sm).xreplace({s: s + eps * phi}), eps), eps, 0),
             sp.Integer(0),
             justification="the first variation of DSM − SM in s vanishes in every direction "
             "φ — " + VINCENT, assumptions=_ASSUME,
             hypotheses=("leibniz",)),
    )


# ----------------------------------------------------------------------------- d-D
def _components(name: str, dim: int) -> list[sp.Symbol]:
    return list(sp.symbols(f"{name}1:{dim + 1}", real=True))


@derivation("sm_dsm[any-p0-dd]",
            claim=f"for every p_0 on R^d (d = {_DIM}): DSM − SM = (α²/σ⁴) E tr Cov(x_0|x_t), "
            "free of s; SM ≤ DSM",
            citation=VINCENT, data=f"any p_0 (undefined function of {_DIM} coordinates)")
def any_prior_dd() -> tuple[Step, ...]:
    """Steps 1-7 with the isotropic kernel N(α x_0, σ² I) on R^d, coordinate by coordinate."""
    return _dd_steps(_DIM)


def _dd_steps(dim: int) -> tuple[Step, ...]:
    xs, ys, ss = _components("x", dim), _components("y", dim), _components("S", dim)
    density = p0(*ys)
    limits = [real_line(y) for y in ys]
    x_limits = [real_line(v) for v in xs]
    sq = sum((xi - alpha * yi) ** 2 for xi, yi in zip(xs, ys, strict=True))
    K = sp.exp(-sq / (2 * sigma**2)) / (2 * sp.pi * sigma**2) ** sp.Rational(dim, 2)
    h = sp.Matrix([conditional_score(xi, yi) for xi, yi in zip(xs, ys, strict=True)])
    S_vec = sp.Matrix(ss)

    def expect(f: sp.Expr) -> sp.Expr:
        return sp.Integral(density * f, *limits)

    p_t = expect(K)
    post = density * K / p_t

    def post_mean(f: sp.Expr) -> sp.Expr:
        return sp.Integral(post * f, *limits)

    def grad(f: sp.Expr) -> sp.Matrix:
        return sp.Matrix([sp.Derivative(f, xi) for xi in xs])

    def norm2(v: sp.Matrix) -> sp.Expr:
        return sum(c**2 for c in v)

    score = h.applyfunc(lambda hi: expect(K * hi)) / p_t
    post_h = h.applyfunc(post_mean)
    dsm_pointwise = post_mean(norm2(h - S_vec))
    sm_pointwise = norm2(score - S_vec)
    variance = post_mean(sum((hi - mi) ** 2 for hi, mi in zip(h, post_h, strict=True)))
    trace_cov = sum(post_mean(yi**2) - post_mean(yi) ** 2 for yi in ys)
    s = sp.Matrix([sp.Function(f"s{i + 1}", real=True)(*xs) for i in range(dim)])
    dsm_cross = sp.Integral(expect(K * (s.T * h)[0]), *x_limits)
    sm_cross = sp.Integral(p_t * (s.T * score)[0], *x_limits)
    unit = sp.Mul(*[sp.exp(-((xi - alpha * yi) / sigma) ** 2 / 2) / (sigma * sp.sqrt(2 * sp.pi))
                    for xi, yi in zip(xs, ys, strict=True)])
    density_ok = (p0(*ys) >= 0,)
    return (
        Step("marginal", expect(unit), p_t,
             justification="change of variables ε = (x_t − α x_0)/σ, coordinate by coordinate "
             "— " + VINCENT),
        Step("kernel-score", grad(sp.log(K)), h,
             justification="conditional score of N(α x_0, σ² I): −(x_t − α x_0)/σ² — " + VINCENT),
        Step("grad-p-is-p-grad-log-p", grad(K), K * grad(sp.log(K)),
             justification="∇p = p ∇log p for p > 0 — chain rule"),
        Step("leibniz", grad(p_t), grad(K).applyfunc(expect),
             justification="differentiation under the integral (dominated convergence) — "
             "Leibniz rule",
             hypotheses=("leibniz",)),
        Step("score-1", grad(sp.log(p_t)), score,
             justification="ratio form ∇log p_t = E_{p_0}[∇p_t(x_t|x_0)]/E_{p_0}[p_t(x_t|x_0)] "
             "— seed eq. \"score-1\"",
             hypotheses=("leibniz",)),
        Step("posterior-normalised", sp.Integral(post, *limits), sp.Integer(1),
             justification="the posterior p_0 p_t(x_t|x_0)/p_t(x_t) integrates to 1 — Bayes' rule"),
        Step("score-2", grad(sp.log(p_t)), post_h,
             justification="posterior form ∇log p_t = E_{x_0|x_t}[h] — seed eq. \"score-2\"",
             hypotheses=("leibniz",)),
        Step("gap-is-posterior-variance", dsm_pointwise - sm_pointwise, variance,
             justification="E‖h − S‖² − ‖E h − S‖² = tr Cov(h | x_t) — bias-variance "
             "decomposition, " + VINCENT),
        Step("trace-covariance", variance, alpha**2 / sigma**4 * trace_cov,
             justification="tr Cov(h|x_t) = (α²/σ⁴) tr Cov(x_0|x_t) — docs/design.md §1"),
        Step("jensen", sm_pointwise, dsm_pointwise, relation="<=", witness=variance,
             justification="Jensen: ‖E h − S‖² ≤ E‖h − S‖², gap = tr Cov(h|x_t) ≥ 0 — "
             + VINCENT, assumptions=density_ok),
        Step("pointwise-theta-free",
             sp.Matrix([sp.Derivative(dsm_pointwise - sm_pointwise, si) for si in ss]),
             sp.zeros(dim, 1),
             justification="the pointwise gap contains no S = s_θ(x_t) — " + VINCENT,
             hypotheses=("leibniz",)),
        Step("tower", dsm_cross, sm_cross,
             justification="tower property E[s(x_t)·h] = E[s(x_t)·E[h|x_t]] with score-2 — "
             + VINCENT),
    )
