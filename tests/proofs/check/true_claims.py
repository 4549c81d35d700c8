"""A corpus of TRUE steps from score-matching algebra that :func:`proofs.check` should prove.

Every entry is a :class:`proofs.Step` that holds under its stated assumptions (symbols carry
``positive=True``/``real=True`` where the identity needs it, and side conditions such as the
normalisation ``Eq(Integral(q(x), (x, -oo, oo)), 1)`` are listed as assumptions). Steps are grouped
by the kind of reasoning a checker needs in :data:`TRUE_CLAIMS`; several classes need routes the
checker may not have yet (evaluating Gaussian integrals, using a normalisation that appears only
after expansion, renaming bound variables), which is the point of the corpus.

Test data only: nothing here is run at import beyond building SymPy expressions.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy import (
    Abs,
    Derivative,
    Eq,
    IndexedBase,
    Integral,
    Max,
    Min,
    Ne,
    Sum,
    exp,
    log,
    oo,
    pi,
    sqrt,
)

from proofs import Step

__all__ = ["TRUE_CLAIMS"]

#: class name -> the true steps of that class.
TRUE_CLAIMS: dict[str, list[Step]] = {}


def _true(cls: str, name: str, lhs: Any, rhs: Any, why: str, *, relation: str = "==",
          assumptions: tuple[Any, ...] = (), witness: Any = None) -> None:
    """Add one true step to class ``cls``."""
    if any(s.name == name for claims in TRUE_CLAIMS.values() for s in claims):
        raise ValueError(f"duplicate true-claim name {name!r}")
    TRUE_CLAIMS.setdefault(cls, []).append(
        Step(name, lhs, rhs, relation, why, tuple(assumptions), witness))


# ----------------------------------------------------------------------------- shared symbols
x, y, z, w = sp.symbols("x y z w", real=True)
alpha, sigma, tau, s = sp.symbols("alpha sigma tau s", positive=True)
a, b = sp.symbols("a b", positive=True)
mu, m, m1, m2, S, S1, S2 = sp.symbols("mu m m_1 m_2 S S_1 S_2", real=True)
x0, eps, e_hat, x0_hat, v_hat = sp.symbols("x_0 epsilon epsilon_hat x0_hat v_hat", real=True)
s1, s2 = sp.symbols("s_1 s_2", positive=True)
i, j, kk = sp.symbols("i j k", integer=True)
n = sp.Symbol("n", integer=True, positive=True)
q = sp.Function("q", real=True)         # a density on the real line
h, h1, h2 = (sp.Function(name, real=True) for name in ("h", "h_1", "h_2"))
f, g, p = (sp.Function(name, real=True) for name in ("f", "g", "p"))
MARGINAL = alpha**2 * tau**2 + sigma**2   # variance of x_t for x_0 ~ N(mu, tau^2)


def _normal(value: Any, mean: Any, variance: Any) -> Any:
    """The 1-D normal density N(value; mean, variance)."""
    return exp(-(value - mean) ** 2 / (2 * variance)) / sqrt(2 * pi * variance)


def _e(body: Any, var: Any = x) -> Any:
    """The expectation of ``body`` under ``q``: an integral over the real line."""
    return Integral(q(var) * body, (var, -oo, oo))


# ----------------------------------------------------------------------------- Jensen, normalised
def _jensen_normalised() -> None:
    cls = "jensen_normalised"
    norm = (Eq(Integral(q(x), (x, -oo, oo)), 1),)
    mean = _e(h(x))
    _true(cls, "jensen_gap_is_variance", _e((h(x) - S) ** 2) - (mean - S) ** 2,
          _e(h(x) ** 2) - mean**2, "Jensen gap = Var(h); the S^2 terms cancel only with "
          "∫q = 1", assumptions=norm)
    _true(cls, "jensen_expand_square", _e((h(x) - S) ** 2),
          _e(h(x) ** 2) - 2 * S * mean + S**2, "expand the square; ∫q S^2 = S^2",
          assumptions=norm)
    centred = _e(h(x) ** 2) - mean**2
    _true(cls, "jensen_centred_variance", _e((h(x) - mean) ** 2), centred,
          "E(h - Eh)^2 = Eh^2 - (Eh)^2 with ∫q = 1", assumptions=norm)
    _true(cls, "jensen_two_models", _e((S1 - h(x)) ** 2) - _e((S2 - h(x)) ** 2),
          (S1 - S2) * (S1 + S2 - 2 * mean), "difference of two squared errors",
          assumptions=norm)
    _true(cls, "jensen_affine_expectation", _e(a * h(x) + b), a * mean + b,
          "linearity and ∫q = 1", assumptions=norm)
    _true(cls, "jensen_bias_variance", _e((h(x) - S) ** 2) - _e((h(x) - mean) ** 2),
          (mean - S) ** 2, "bias-variance split", assumptions=norm)
    mean1, mean2 = _e(h1(x)), _e(h2(x))
    _true(cls, "jensen_two_components",
          _e((h1(x) - S1) ** 2 + (h2(x) - S2) ** 2) - (mean1 - S1) ** 2 - (mean2 - S2) ** 2,
          _e(h1(x) ** 2 + h2(x) ** 2) - mean1**2 - mean2**2,
          "the 2-D Jensen gap is the trace of the covariance", assumptions=norm)
    post = (Eq(Integral(q(y), (y, -oo, oo)), 1),)
    score = (alpha * y - x) / sigma**2         # the conditional score h(x0 = y, x_t = x)
    _true(cls, "jensen_conditional_score_gap",
          _e((score - S) ** 2, y) - (_e(score, y) - S) ** 2,
          alpha**2 / sigma**4 * (_e(y**2, y) - _e(y, y) ** 2),
          "the gap is alpha^2/sigma^4 Var(x0 | x_t) (README step 2)", assumptions=post)
    _true(cls, "jensen_constant_expectation", _e(S), S, "∫q S = S", assumptions=norm)
    _true(cls, "jensen_inequality_with_witness", (mean - S) ** 2, _e((h(x) - S) ** 2),
          "Jensen: the gap equals ∫q (h - Eh)^2 >= 0", relation="<=",
          assumptions=(*norm, q(x) >= 0), witness=_e((h(x) - mean) ** 2))


# ----------------------------------------------------------------------------- Gaussian integrals
def _gaussian_integrals() -> None:
    cls = "gaussian_integrals"
    dens = _normal(x, m, s**2)
    line = (x, -oo, oo)
    _true(cls, "gauss_normalisation", Integral(dens, line), sp.Integer(1), "a density")
    _true(cls, "gauss_first_moment", Integral(x * dens, line), m, "mean m")
    _true(cls, "gauss_second_moment", Integral(x**2 * dens, line), m**2 + s**2,
          "second moment m^2 + s^2")
    _true(cls, "gauss_central_second_moment", Integral((x - m) ** 2 * dens, line), s**2,
          "variance s^2")
    prod = _normal(x, m1, s1**2) * _normal(y, m2, s2**2)
    _true(cls, "gauss_product_normalisation", Integral(prod, (x, -oo, oo), (y, -oo, oo)),
          sp.Integer(1), "a product density on R^2")
    _true(cls, "gauss_product_cross_moment",
          Integral(x * y * prod, (x, -oo, oo), (y, -oo, oo)), m1 * m2,
          "independent coordinates: E[xy] = m1 m2")
    _true(cls, "gauss_unnormalised", Integral(exp(-a * x**2), line), sqrt(pi / a),
          "the Gaussian integral")
    _true(cls, "gauss_convolution", Integral(_normal(x, m1, s1) * _normal(x, m2, s2), line),
          _normal(m1, m2, s1 + s2), "∫N(x; m1, v1) N(x; m2, v2) dx = N(m1; m2, v1 + v2)")
    _true(cls, "gauss_kernel_mean", Integral(x * _normal(x, alpha * y, sigma**2), line),
          alpha * y, "the forward kernel has mean alpha x0")


# ----------------------------------------------------------------------------- bound renaming
def _bound_renaming() -> None:
    cls = "bound_renaming"
    u, v, t = sp.symbols("u v t", real=True)
    _true(cls, "rename_integral", Integral(f(x), (x, a, b)), Integral(f(y), (y, a, b)),
          "alpha-renaming of the integration variable")
    _true(cls, "rename_sum", Sum(f(i), (i, 1, n)), Sum(f(j), (j, 1, n)),
          "renaming the summation index")
    _true(cls, "rename_double_integral",
          Integral(Integral(g(x, y), (x, 0, 1)), (y, 0, 1)),
          Integral(Integral(g(u, v), (u, 0, 1)), (v, 0, 1)), "renaming both variables")
    _true(cls, "rename_first_moment", Integral(x * p(x), (x, -oo, oo)),
          Integral(t * p(t), (t, -oo, oo)), "renaming inside a moment")
    _true(cls, "rename_then_combine",
          2 * Integral(f(x), (x, 0, 1)) - Integral(f(y), (y, 0, 1)), Integral(f(z), (z, 0, 1)),
          "the same integral under three names")
    wb, vb = IndexedBase("w"), IndexedBase("v")
    _true(cls, "rename_indexed_sum", Sum(wb[i] * vb[i], (i, 1, n)),
          Sum(wb[j] * vb[j], (j, 1, n)), "renaming an Indexed summation index")
    _true(cls, "rename_with_free_parameter", Integral(f(x) * g(y), (x, 0, 1)),
          Integral(f(u) * g(y), (u, 0, 1)), "the free y is untouched")
    _true(cls, "rename_variable_upper_limit", Integral(f(x), (x, 0, y)),
          Integral(f(t), (t, 0, y)), "renaming with a free upper limit")


# ----------------------------------------------------------------------------- finite sums
def _finite_sums() -> None:
    cls = "finite_sums"
    c = sp.Symbol("c", real=True)
    r = sp.Symbol("r", positive=True)
    _true(cls, "sum_three_terms", Sum(f(i), (i, 1, 3)), f(1) + f(2) + f(3), "unroll")
    wb, xb = IndexedBase("w"), IndexedBase("x")
    _true(cls, "sum_indexed_four_terms", Sum(wb[i], (i, 1, 4)),
          wb[1] + wb[2] + wb[3] + wb[4], "unroll an IndexedBase sum")
    _true(cls, "sum_indexed_dot_product", Sum(wb[kk] * xb[kk], (kk, 1, 3)),
          wb[1] * xb[1] + wb[2] * xb[2] + wb[3] * xb[3], "unroll a dot product")
    _true(cls, "sum_arithmetic", Sum(i, (i, 1, n)), n * (n + 1) / 2, "Gauss")
    _true(cls, "sum_squares", Sum(i**2, (i, 1, n)), n * (n + 1) * (2 * n + 1) / 6,
          "sum of squares")
    _true(cls, "sum_constant_factor", Sum(c * f(i), (i, 1, n)), c * Sum(f(i), (i, 1, n)),
          "linearity")
    _true(cls, "sum_of_sums", Sum(f(i) + g(i), (i, 1, n)),
          Sum(f(i), (i, 1, n)) + Sum(g(i), (i, 1, n)), "linearity")
    _true(cls, "sum_geometric", Sum(r**i, (i, 0, 4)), (1 - r**5) / (1 - r),
          "geometric series, r != 1", assumptions=(Ne(r, 1),))
    _true(cls, "sum_count", Sum(1, (i, 1, n)), n, "n terms")


# ----------------------------------------------------------------------------- min and max
def _min_max() -> None:
    cls = "min_max"
    _true(cls, "minmax_relu_split", Max(x, 0) + Min(x, 0), x, "x = x+ + x-")
    _true(cls, "minmax_sum", Max(x, y) + Min(x, y), x + y, "max + min = sum")
    _true(cls, "minmax_positive_parts", Max(x, 0) - Max(-x, 0), x, "x = x+ - (-x)+")
    _true(cls, "minmax_difference", Max(x, y) - Min(x, y), Abs(x - y), "max - min = |x - y|")
    _true(cls, "minmax_product_zero", Max(x, 0) * Min(x, 0), sp.Integer(0),
          "one of the two is 0")
    _true(cls, "minmax_squares", Max(x, 0) ** 2 + Min(x, 0) ** 2, x**2, "x+^2 + x-^2 = x^2")
    _true(cls, "minmax_closed_form", Max(x, y), (x + y + Abs(x - y)) / 2, "closed form")
    _true(cls, "minmax_abs", Max(x, 0) + Max(-x, 0), Abs(x), "|x| = x+ + (-x)+")


# ----------------------------------------------------------------------------- mixture weights
def _mixture_weights() -> None:
    cls = "mixture_weights"
    K = 12
    wts = sp.symbols(f"w_1:{K + 1}", positive=True)
    logits = sp.symbols(f"l_1:{K + 1}", real=True)
    means = sp.symbols(f"m_1:{K + 1}", real=True)
    total = sp.Add(*wts)
    _true(cls, "mix_weights_sum_to_one", sp.Add(*[wk / total for wk in wts]), sp.Integer(1),
          f"K = {K} normalised weights")
    soft = sp.Add(*[exp(lk) for lk in logits])
    _true(cls, "mix_softmax_sums_to_one", sp.Add(*[exp(lk) / soft for lk in logits]),
          sp.Integer(1), f"K = {K} softmax weights")
    v = sp.Symbol("v", positive=True)
    comps = [wk * _normal(x, mk, v) for wk, mk in zip(wts, means, strict=True)]
    evidence = sp.Add(*comps)
    _true(cls, "mix_posterior_responsibilities", sp.Add(*[cmp / evidence for cmp in comps]),
          sp.Integer(1), f"K = {K} posterior component probabilities")
    beta = sp.Symbol("beta", positive=True)
    tempered = sp.Add(*[wk**beta for wk in wts])
    _true(cls, "mix_tempered_weights", sp.Add(*[wk**beta / tempered for wk in wts]),
          sp.Integer(1), f"K = {K} tempered weights")
    few = 4
    comps4 = [wk * _normal(x, mk, v) for wk, mk in zip(wts[:few], means[:few], strict=True)]
    ev4 = sp.Add(*comps4)
    _true(cls, "mix_score_is_weighted_mean", Derivative(log(ev4), x),
          sp.Add(*[cmp / ev4 * (-(x - mk) / v)
                   for cmp, mk in zip(comps4, means[:few], strict=True)]),
          "the mixture score is the responsibility-weighted mean of component scores")


# ----------------------------------------------------------------------------- inverses
def _inverses() -> None:
    cls = "inverses"
    M = sp.Matrix(4, 4, sp.symbols("M_0:16", real=True))
    det = M.det(method="berkowitz")
    _true(cls, "inv_adjugate_generic_4x4", M * (M.adjugate() / det), sp.eye(4),
          "M adj(M)/det(M) = I", assumptions=(Ne(det, 0),))
    _true(cls, "inv_adjugate_polynomial_4x4", M.adjugate() * M, det * sp.eye(4),
          "adj(M) M = det(M) I, a polynomial identity")
    d = sp.symbols("d_1:5", positive=True)
    uu = sp.Matrix(sp.symbols("u_1:5", real=True))
    vv = sp.Matrix(sp.symbols("v_1:5", real=True))
    D, Dinv = sp.diag(*d), sp.diag(*[1 / di for di in d])
    denom = 1 + (vv.T * Dinv * uu)[0, 0]
    sherman = Dinv - Dinv * uu * vv.T * Dinv / denom
    _true(cls, "inv_sherman_morrison_4x4", (D + uu * vv.T) * sherman, sp.eye(4),
          "Sherman-Morrison for a diagonal plus rank one", assumptions=(Ne(denom, 0),))
    U = sp.Matrix(4, 4, lambda r, c: sp.Symbol(f"U_{r}{c}", positive=True) if c >= r else 0)
    _true(cls, "inv_upper_triangular_4x4", U * U.inv(), sp.eye(4),
          "an upper-triangular matrix with a positive diagonal")
    aa, bb, cc, dd = sp.symbols("a_11 a_12 a_21 a_22", real=True)
    two = sp.Matrix([[aa, bb], [cc, dd]])
    _true(cls, "inv_explicit_2x2", two.inv(),
          sp.Matrix([[dd, -bb], [-cc, aa]]) / (aa * dd - bb * cc),
          "the 2x2 inverse formula", assumptions=(Ne(aa * dd - bb * cc, 0),))
    A = sp.Matrix(2, 2, sp.symbols("A_0:4", real=True))
    B = sp.Matrix(2, 2, sp.symbols("B_0:4", real=True))
    C = sp.Matrix(2, 2, sp.symbols("C_0:4", real=True))
    block = sp.Matrix(sp.BlockMatrix([[A, B], [sp.zeros(2), C]]))
    Ai, Ci = A.adjugate() / A.det(), C.adjugate() / C.det()
    block_inv = sp.Matrix(sp.BlockMatrix([[Ai, -Ai * B * Ci], [sp.zeros(2), Ci]]))
    _true(cls, "inv_block_triangular_4x4", block * block_inv, sp.eye(4),
          "block upper-triangular inverse", assumptions=(Ne(A.det(), 0), Ne(C.det(), 0)))
    cov = sp.diag(*[sp.Symbol(f"c_{r}", positive=True) for r in range(4)])
    post = (cov.inv() + alpha**2 / sigma**2 * sp.eye(4)).inv()
    _true(cls, "inv_posterior_covariance_4x4", post,
          sigma**2 * cov * (alpha**2 * cov + sigma**2 * sp.eye(4)).inv(),
          "(Σ^-1 + α²/σ² I)^-1 = σ² Σ (α² Σ + σ² I)^-1")


# ----------------------------------------------------------------------------- exp rational
def _exp_rational() -> None:
    cls = "exp_rational"
    sig = 1 / (1 + exp(-z))
    _true(cls, "exp_cancel_common_factor", (exp(z) + 1) / (exp(z) * (exp(z) + 1)), exp(-z),
          "cancel exp(z) + 1")
    _true(cls, "exp_sigmoid_two_forms", sig, exp(z) / (1 + exp(z)), "multiply by exp(z)")
    _true(cls, "exp_sigmoid_symmetry", sig + 1 / (1 + exp(z)), sp.Integer(1),
          "sigmoid(z) + sigmoid(-z) = 1")
    _true(cls, "exp_sigmoid_derivative", Derivative(sig, z), sig * (1 - sig),
          "sigmoid' = sigmoid (1 - sigmoid)")
    _true(cls, "exp_tanh_two_forms", (exp(z) - exp(-z)) / (exp(z) + exp(-z)),
          (exp(2 * z) - 1) / (exp(2 * z) + 1), "tanh")
    _true(cls, "exp_difference_of_squares", exp(2 * z) - 1, (exp(z) - 1) * (exp(z) + 1),
          "factor")
    _true(cls, "exp_softplus_derivative", Derivative(log(1 + exp(z)), z), sig,
          "softplus' = sigmoid")
    _true(cls, "exp_two_way_softmax", exp(z) / (exp(z) + exp(w)) + exp(w) / (exp(z) + exp(w)),
          sp.Integer(1), "two softmax weights")
    _true(cls, "exp_geometric_quotient", (exp(3 * z) - 1) / (exp(z) - 1),
          exp(2 * z) + exp(z) + 1, "geometric sum, z != 0", assumptions=(Ne(z, 0),))


# ----------------------------------------------------------------------------- score identities
def _score_identities() -> None:
    cls = "score_identities"
    kernel = _normal(x, alpha * x0, sigma**2)
    h_cond = -(x - alpha * x0) / sigma**2
    _true(cls, "score_kernel_log_derivative", Derivative(log(kernel), x), h_cond,
          "the conditional score (Vincent 2011)")
    _true(cls, "score_kernel_derivative", Derivative(kernel, x), kernel * h_cond,
          "∇p = p ∇log p")
    _true(cls, "score_conditional_in_eps", h_cond.subs(x, alpha * x0 + sigma * eps),
          -eps / sigma, "x_t = alpha x0 + sigma eps")
    marginal_score = -(x - alpha * mu) / MARGINAL
    _true(cls, "score_marginal_log_derivative",
          Derivative(log(_normal(x, alpha * mu, MARGINAL)), x), marginal_score,
          "the Gaussian marginal's score")
    post_mean = mu + alpha * tau**2 * (x - alpha * mu) / MARGINAL
    post_var = tau**2 * sigma**2 / MARGINAL
    _true(cls, "score_tweedie_gaussian", (x + sigma**2 * marginal_score) / alpha, post_mean,
          "Tweedie's formula for a Gaussian prior")
    _true(cls, "score_posterior_precision", post_var, 1 / (1 / tau**2 + alpha**2 / sigma**2),
          "posterior precision = prior precision + alpha^2/sigma^2")
    _true(cls, "score_constant_is_posterior_variance", 1 / sigma**2 - 1 / MARGINAL,
          alpha**2 / sigma**4 * post_var, "C(t) = d/sigma^2 - J(p_t) = alpha^2/sigma^4 Var")
    _true(cls, "score_bayes_log_space", kernel * _normal(x0, mu, tau**2),
          _normal(x, alpha * mu, MARGINAL) * _normal(x0, post_mean, post_var),
          "Bayes' rule for Gaussians (log-space)")
    s_eps, h_eps = -e_hat / sigma, -eps / sigma
    _true(cls, "score_eps_weighting", (e_hat - eps) ** 2, sigma**2 * (s_eps - h_eps) ** 2,
          "epsilon-prediction weights the score error by sigma^2")
    s_x0 = -(x - alpha * x0_hat) / sigma**2
    _true(cls, "score_x0_weighting", (x0_hat - x0) ** 2,
          sigma**4 / alpha**2 * (s_x0 - h_cond) ** 2,
          "x0-prediction weights the score error by sigma^4/alpha^2")
    xt = alpha * x0 + sigma * eps
    v = alpha * eps - sigma * x0
    s_v = -(sigma * xt + alpha * v_hat) / sigma
    _true(cls, "score_v_weighting", (v_hat - v) ** 2,
          sigma**2 / alpha**2 * (s_v - h_eps) ** 2,
          "v-prediction (VP: alpha^2 + sigma^2 = 1) weights by sigma^2/alpha^2",
          assumptions=(Eq(alpha**2 + sigma**2, 1),))
    M_ = sp.Symbol("M", real=True)
    hh = sp.Symbol("h", real=True)
    _true(cls, "score_squared_error_difference", (hh - S) ** 2 - (M_ - S) ** 2,
          hh**2 - M_**2 - 2 * S * (hh - M_), "the cross terms of DSM - SM")


# ----------------------------------------------------------------------------- misc
def _misc() -> None:
    cls = "misc"
    c, d = sp.symbols("c d", real=True)
    _true(cls, "misc_log_product", log(a * b), log(a) + log(b), "a, b > 0")
    _true(cls, "misc_log_power", log(a**c), c * log(a), "a > 0, c real")
    _true(cls, "misc_exp_log_sum", exp(log(a) + log(b)), a * b, "a, b > 0")
    _true(cls, "misc_sqrt_product", sqrt(a * b), sqrt(a) * sqrt(b), "a, b > 0")
    _true(cls, "misc_power_of_power", (a**c) ** d, a ** (c * d), "a > 0, c, d real")
    _true(cls, "misc_log_normaliser", log(sqrt(2 * pi * s**2)), log(2 * pi) / 2 + log(s),
          "s > 0")
    _true(cls, "misc_hyperbolic", sp.cosh(z) ** 2 - sp.sinh(z) ** 2, sp.Integer(1),
          "cosh^2 - sinh^2 = 1")
    _true(cls, "misc_gaussian_product_exponents",
          exp(-(x - m) ** 2 / (2 * s**2)) * exp(-(x + m) ** 2 / (2 * s**2)),
          exp(-(x**2 + m**2) / s**2), "add the exponents")


for _build in (_jensen_normalised, _gaussian_integrals, _bound_renaming, _finite_sums, _min_max,
               _mixture_weights, _inverses, _exp_rational, _score_identities, _misc):
    _build()
del _build
