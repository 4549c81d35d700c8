"""Planted false steps from real bug classes (σ vs σ², missing α, sign, prior vs posterior, ...).

Each must be rejected (never ``ok``), and its message must say which side is off and why.
"""

from __future__ import annotations

import pytest
import sympy as sp

from proofs import Step, check
from proofs._notation import S, alpha, conditional_score, kernel, p0, real_line, sigma, x, x0
from proofs.catalogue.gaussian import CONSTANT_1D, POST_MEAN, POST_VAR, mu, tau

A = alpha**2 * tau**2 + sigma**2
SCORE = -(x - alpha * mu) / A                          # score of N(αμ, α²τ² + σ²)
K = kernel()
h = conditional_score()
abar = sp.Symbol("abar", positive=True)
eps = sp.Symbol("epsilon", real=True)
s_val = sp.Symbol("s", real=True)
a1, a2, a3 = sp.symbols("a1:4", real=True)


def _prior_mean(f: sp.Expr) -> sp.Expr:
    return sp.Integral(p0(x0) * f, real_line(x0))


def _posterior_mean(f: sp.Expr) -> sp.Expr:
    return _prior_mean(K * f) / _prior_mean(K)


def _gaussian(value: sp.Expr, mean: sp.Expr, variance: sp.Expr) -> sp.Expr:
    return sp.exp(-(value - mean) ** 2 / (2 * variance)) / sp.sqrt(2 * sp.pi * variance)


PLANTED = [
    Step("posterior-variance-off-by-2", alpha**2 / sigma**4 * 2 * POST_VAR, CONSTANT_1D),
    Step("constant-missing-fisher", 1 / sigma**2, CONSTANT_1D),
    Step("jensen-reversed", (SCORE - S) ** 2 + CONSTANT_1D, (SCORE - S) ** 2, relation="<="),
    Step("jensen-reversed-any-p0", _posterior_mean((h - S) ** 2),
         (_posterior_mean(h) - S) ** 2, relation="<=", assumptions=(p0(x0) >= 0,)),
    Step("eps-weight-sigma-not-sigma2", sigma * (s_val - h) ** 2,
         (-sigma * s_val - (-sigma * h)) ** 2),
    Step("score-with-prior-not-posterior", sp.Derivative(sp.log(_prior_mean(K)), x),
         _prior_mean(h), hypotheses=("leibniz",)),
    Step("vp-abar-not-sqrt-abar", abar**2 * 1 + (1 - abar), sp.Integer(1)),
    Step("kernel-score-sign-flip", sp.Derivative(sp.log(K), x), (x - alpha * x0) / sigma**2),
    Step("kernel-mean-missing-alpha", sp.Derivative(sp.log(K), x), -(x - x0) / sigma**2),
    Step("kernel-score-sigma-not-sigma2", sp.Derivative(sp.log(K), x),
         -(x - alpha * x0) / sigma),
    Step("tweedie-sigma-not-sigma2", (x + sigma * SCORE) / alpha, POST_MEAN),
    Step("sliced-sm-missing-1-over-d",
         sum(ai * aj * (sp.Rational(1, 3) if i == j else 0)
             for i, ai in enumerate((a1, a2, a3)) for j, aj in enumerate((a1, a2, a3))),
         a1**2 + a2**2 + a3**2),
    Step("marginal-variance-missing-alpha-square", sp.Derivative(
        sp.log(_gaussian(x, alpha * mu, alpha**2 * tau**2 + sigma**2)), x),
        -(x - alpha * mu) / (alpha * tau**2 + sigma**2)),
    Step("fisher-is-not-1-over-sigma2", sp.Integer(1) / sigma**2, 1 / A),
    Step("posterior-mean-missing-alpha", POST_MEAN,
         (tau**2 * x + sigma**2 * mu) / A),
    Step("bayes-wrong-posterior-variance",
         _gaussian(x0, mu, tau**2) * K,
         _gaussian(x, alpha * mu, A) * _gaussian(x0, POST_MEAN, tau**2)),
    Step("leibniz-forgot-derivative", sp.Derivative(_prior_mean(K), x), _prior_mean(K),
         hypotheses=("leibniz",)),
    Step("jensen-wrong-witness", (SCORE - S) ** 2, (SCORE - S) ** 2 + CONSTANT_1D,
         relation="<=", witness=2 * CONSTANT_1D),
    Step("dsm-sign-of-cross-term", (eps / sigma + s_val) ** 2,
         eps**2 / sigma**2 + s_val**2 - 2 * s_val * eps / sigma),
    Step("square-below-identity", x**2, x, relation="<="),
]


def test_enough_planted_bugs() -> None:
    assert len(PLANTED) >= 15


@pytest.mark.parametrize("step", [pytest.param(s, id=s.name) for s in PLANTED])
def test_planted_false_step_is_rejected(step: Step) -> None:
    verdict = check(step)
    assert not verdict.ok, f"planted bug {step.name} passed: {verdict}"
    assert not verdict.method.startswith("exact:")
    assert verdict.status == "refuted", verdict.detail
    # the message says which side is off ...
    assert any(side in verdict.detail for side in ("lhs", "rhs", "witness")), verdict.detail
    # ... and why: the values at a counterexample, or the side claimed smaller being larger
    assert "larger" in verdict.detail or "not equal" in verdict.detail, verdict.detail
