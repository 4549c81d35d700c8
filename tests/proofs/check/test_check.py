"""Unit tests of the one generic checker, :func:`proofs.check`: each exact route, the
never-a-pass rule for undecided steps, and malformed steps raising :class:`proofs.InvalidStep`."""

from __future__ import annotations

import pytest
import sympy as sp

import proofs
from proofs import Step, check
from proofs._notation import alpha, conditional_score, kernel, p0, real_line, sigma, x, x0

a, b = sp.symbols("a b", positive=True)
u = sp.Symbol("u", real=True)
_M = alpha**2 + sigma**2   # marginal variance of x_t for x_0 ~ N(0, 1)


# ----------------------------------------------------------------------------- exact routes
@pytest.mark.parametrize(("lhs", "rhs", "method"), [
    pytest.param((a**2 - b**2) / (a - b), a + b, "exact:", id="rational-cancel"),
    pytest.param(sp.exp(-(u - a) ** 2 / 2) * sp.exp(-(u + a) ** 2 / 2),
                 sp.exp(-u**2) * sp.exp(-a**2), "exact:", id="exponential-split"),
    pytest.param(sp.sqrt(a) * sp.sqrt(a) + 1 / (a + b), a + 1 / (b + a), "exact:",
                 id="radical"),
    pytest.param(sp.exp(-(x - alpha * x0) ** 2 / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)
                 * sp.exp(-x0**2 / 2) / sp.sqrt(2 * sp.pi),
                 sp.exp(-x**2 / (2 * _M)) / sp.sqrt(2 * sp.pi * _M)
                 * sp.exp(-(x0 - alpha * x / _M) ** 2 / (2 * sigma**2 / _M))
                 / sp.sqrt(2 * sp.pi * sigma**2 / _M),
                 "exact:log", id="log-space-bayes"),
    pytest.param(sp.Integral(p0(x0) * (kernel() + 2 * x0 * kernel()), real_line(x0)),
                 sp.Integral(p0(x0) * kernel(), real_line(x0))
                 + 2 * sp.Integral(x0 * p0(x0) * kernel(), real_line(x0)),
                 "exact:linearity", id="linearity"),
    pytest.param(sp.Derivative(sp.Integral(p0(x0) * kernel(), real_line(x0)), x),
                 sp.Integral(p0(x0) * kernel() * conditional_score(), real_line(x0)),
                 "exact:", id="leibniz"),
    pytest.param(sp.cos(u) ** 2 + sp.sin(u) ** 2, sp.Integer(1), "exact:", id="trig"),
    pytest.param(sp.Matrix([a, a * b]), sp.Matrix([a, b * a]), "exact:", id="matrix"),
])
def test_equality_routes_prove(lhs: sp.Expr, rhs: sp.Expr, method: str) -> None:
    # Leibniz's rule (the "leibniz" case) is used only under its stated hypothesis
    verdict = check(Step("eq", lhs, rhs, hypotheses=("leibniz",)))
    assert verdict.ok, verdict.detail
    assert verdict.status == "proved"
    assert verdict.method.startswith(method)


def test_inequality_proved_structurally() -> None:
    verdict = check(Step("sos", 2 * a * b, a**2 + b**2 + 2 * a * b, relation="<="))
    assert verdict.ok and verdict.method == "exact:nonnegative"


def test_inequality_proved_with_a_witness() -> None:
    step = Step("amgm", 2 * u * a, u**2 + a**2, relation="<=", witness=(u - a) ** 2)
    verdict = check(step)
    assert verdict.ok and verdict.method == "exact:nonnegative", verdict.detail


def test_inequality_reads_both_directions() -> None:
    assert check(Step("ge", a**2 + 1, 2 * a - 1, relation=">=", witness=(a - 1) ** 2 + 1)).ok


def test_integral_of_nonnegative_density_needs_the_assumption() -> None:
    gap = sp.Integral(p0(x0) * (x0 - u) ** 2, real_line(x0))
    assumed = check(Step("w", sp.Integer(0), gap, relation="<=", assumptions=(p0(x0) >= 0,)))
    assert assumed.ok, assumed.detail
    unassumed = check(Step("w", sp.Integer(0), gap, relation="<="))
    assert not unassumed.ok


# ----------------------------------------------------------------------------- never a pass
def test_undecided_is_never_ok() -> None:
    # true (Γ(u+1) = uΓ(u)), but no exact route knows the functional equation
    verdict = check(Step("gamma", sp.gamma(a + 1), a * sp.gamma(a)))
    assert not verdict.ok
    assert verdict.status == "undecided"
    assert verdict.method.startswith("evidence:")
    assert "evidence, not proof" in verdict.detail


def test_refuted_names_the_side_and_the_shape() -> None:
    verdict = check(Step("off", 2 * a / b, a / b))
    assert not verdict.ok and verdict.status == "refuted"
    assert "lhs is larger" in verdict.detail
    assert "constant factor" in verdict.detail


def test_refuted_inequality_names_the_side() -> None:
    verdict = check(Step("rev", a**2 + 1, a**2, relation="<="))
    assert verdict.status == "refuted"
    assert "lhs (claimed the smaller side) is larger" in verdict.detail


def test_verdicts_are_deterministic() -> None:
    step = Step("det", sp.exp(a) + b, sp.exp(b) + a)
    assert check(step).detail == check(step).detail


def test_probe_of_nested_integrals_is_bounded() -> None:
    # a false step with nested unevaluated integrals over an undefined p0: the numeric probe
    # gives up or refutes; it must not hang (this used to take minutes)
    K = kernel()
    dlogK = conditional_score()
    Z = sp.Integral(p0(x0) * K, real_line(x0))
    step = Step("post-bad", sp.Integral(p0(x0) * K * dlogK / Z, real_line(x0)),
                sp.Integral(p0(x0) * dlogK, real_line(x0)))
    verdict = check(step)
    assert not verdict.ok
    assert verdict.status in ("refuted", "undecided")


# ----------------------------------------------------------------------------- malformed steps
@pytest.mark.parametrize(("step", "argument"), [
    pytest.param(Step("py-float", 0.5, sp.Rational(1, 2)), "lhs", id="python-float"),
    pytest.param(Step("string", sp.Integer(1), "1"), "rhs", id="string"),
    pytest.param(Step("sympy-float", a * sp.Float(0.5), a / 2), "lhs", id="sympy-float"),
    pytest.param(Step("rel", a, a, relation="<"), "relation", id="unknown-relation"),
    pytest.param(Step("rel", a, a, relation="="), "relation", id="assignment-relation"),
    pytest.param(Step("empty", u, u, assumptions=(u > 2, u < 1)), "assumptions",
                 id="contradictory-assumptions"),
    pytest.param(Step("sign", a, a, assumptions=(a < 0,)), "assumptions",
                 id="contradicts-symbol-assumption"),
    pytest.param(Step("str-assume", a, a, assumptions=("a > 0",)), "assumptions",
                 id="string-assumption"),
    pytest.param(Step("list-assume", a, a, assumptions=[a > 0]), "assumptions",  # type: ignore[arg-type]
                 id="list-of-assumptions"),
    pytest.param(Step("wit", a, a, witness=sp.Integer(0)), "witness", id="witness-on-equality"),
    pytest.param(Step("shape", sp.Matrix([a, b]), a), "rhs", id="matrix-vs-scalar"),
    pytest.param(Step("", a, a), "name", id="empty-name"),
    pytest.param(Step("nan", sp.nan, sp.Integer(1)), "lhs", id="nan-side"),
    pytest.param(Step("lam", sp.Lambda(u, u), sp.Lambda(u, u)), "lhs", id="lambda-side"),
    pytest.param(Step("rel", sp.Integer(1), u > 0), "rhs", id="relation-as-side"),
    pytest.param(Step("float-assume", u, u, assumptions=(u > sp.Float(0.5),)), "assumptions",
                 id="float-in-assumption"),
    pytest.param(Step("and", u, u, assumptions=(sp.And(u > 0, u < 1),)), "assumptions",
                 id="conjunction"),
])
def test_malformed_step_raises_invalid_step(step: Step, argument: str) -> None:
    with pytest.raises(proofs.InvalidStep, match=f"argument `{argument}`") as info:
        check(step)
    assert isinstance(info.value, proofs.SmeqError)
    assert "Fix:" in str(info.value)


def test_predicate_assumption_is_understood() -> None:
    verdict = check(Step("abs", sp.sqrt(u**2), u, assumptions=(sp.Q.positive(u),)))
    assert verdict.ok, verdict.detail


def test_non_step_raises_invalid_step() -> None:
    with pytest.raises(proofs.InvalidStep, match="argument `step`"):
        check((a, a))  # type: ignore[arg-type]
