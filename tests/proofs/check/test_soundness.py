"""Regression tests for issue 10: :func:`proofs.check` never proves a false step, class by class
(conversion, conditional rewrites, nonnegativity, assumptions), the refutation gate only
blocks, and the CPU budget holds whatever the input."""

from __future__ import annotations

import threading
import time

import pytest
import sympy as sp

import proofs
from proofs import Step, check
from proofs._check._gate import gate

x, y = sp.symbols("x y", real=True)
t = sp.Symbol("t", real=True)
z = sp.Symbol("z")                       # complex
p = sp.Symbol("p", positive=True)
A, B = sp.symbols("A B", commutative=False)
f = sp.Function("f")
k, n = sp.symbols("k n", integer=True, positive=True)
j = sp.Symbol("j", integer=True)

_FALSE = {
    # 1. conversion to symengine loses meaning
    "noncommutative": Step("s", A * B, B * A),
    "noncommutative-mixed": Step("s", x * A * B, B * A * x),
    "same-name-signs": Step("s", sp.Symbol("x", positive=True), sp.Symbol("x", negative=True)),
    "dummy-vs-symbol": Step("s", sp.Dummy("x") + 1, sp.Symbol("x") + 1),
    "branch-sqrt": Step("s", sp.sqrt(1 / x), 1 / sp.sqrt(x)),
    "branch-power": Step("s", (1 / x) ** y, x ** (-y)),
    "fresh-name": Step("s", sp.Symbol("_smeq_0") + sp.Integral(f(x), (x, 0, 1)),
                       2 * sp.Symbol("_smeq_0")),
    # 2. rewrites applied without their conditions
    "exp-half": Step("s", sp.exp(sp.I * t / 2), sp.sqrt(sp.exp(sp.I * t))),
    "exp-third": Step("s", sp.exp(z / 3) ** 3, sp.exp(z) ** 0 * sp.exp(z) + 1),
    "fubini": Step("s", sp.Integral((x**2 - y**2) / (x**2 + y**2) ** 2, (x, 0, 1), (y, 0, 1)),
                   sp.Integral((x**2 - y**2) / (x**2 + y**2) ** 2, (y, 0, 1), (x, 0, 1))),
    "nested-sum-count": Step("s", sp.Sum(1, (j, 1, k), (k, 1, 3)), sp.Integer(9)),
    "leibniz-unstated": Step("s", sp.Derivative(sp.Integral(sp.exp(-(x - t) ** 2), (x, 0, 1)), t),
                             sp.Integral(sp.Derivative(sp.exp(-(x - t) ** 2), t), (x, 0, 1))),
    "kink-abs": Step("s", sp.Subs(sp.Derivative(sp.Abs(x), x), x, 0), sp.Integer(0)),
    "kink-max": Step("s", sp.Subs(sp.Derivative(sp.Max(x, 0), x), x, 0), sp.Rational(1, 2)),
    "limit": Step("s", sp.Limit(sp.sin(x) / x, x, 0), sp.Integer(1)),
    # 3. nonnegativity loopholes
    "complex-power": Step("s", sp.Integer(0), p**z, relation="<="),
    "sqrt-difference-square": Step("s", sp.Integer(0), (sp.sqrt(x) - sp.sqrt(y)) ** 2,
                                   relation="<="),
    "log-square": Step("s", sp.Integer(0), sp.log(x) ** 2, relation="<="),
    "complex-limit": Step("s", sp.Integer(0), sp.Integral(x**2, (x, 0, sp.I)), relation="<="),
    "reversed-limits": Step("s", sp.Integer(0), sp.Integral(x**2, (x, 1, 0)), relation="<="),
    "bound-sign": Step("s", sp.Integral(p, (p, -2, 1)), sp.Integer(0), relation=">="),
    "bound-by-assumption": Step("s", sp.Integer(0), sp.Integral(x**3, (x, -2, 1)), relation="<=",
                                assumptions=(x**3 >= 0,)),
    # 4. assumptions and binding
    "derivative-capture": Step("s", sp.Derivative(x * y, x), 2 * y, assumptions=(sp.Eq(x, y),)),
    "integral-capture": Step("s", sp.Integral(x * y, (x, 0, 1)), sp.Integral(y**2, (x, 0, 1)),
                             assumptions=(sp.Eq(x, y),)),
}


@pytest.mark.parametrize("name", sorted(_FALSE))
def test_false_step_is_never_proved(name: str) -> None:
    try:
        verdict = check(_FALSE[name])
    except proofs.InvalidStep:
        return
    assert not verdict.ok, verdict
    assert not verdict.method.startswith("exact:")


@pytest.mark.parametrize(("step", "construct"), [
    pytest.param(_FALSE["noncommutative"], "non-commutative", id="noncommutative"),
    pytest.param(_FALSE["kink-abs"], "Abs", id="kink"),
    pytest.param(_FALSE["limit"], "limit", id="limit"),
    pytest.param(_FALSE["leibniz-unstated"], "leibniz", id="leibniz"),
])
def test_unsupported_construct_is_named(step: Step, construct: str) -> None:
    verdict = check(step)
    assert verdict.status == "undecided" and construct in verdict.detail, verdict.detail


@pytest.mark.parametrize("assumptions", [
    pytest.param((sp.Eq(x, 1), x > 2), id="eq-and-bound"),
    pytest.param((sp.Eq(x, y), x > 0, y < 0), id="eq-and-opposite-signs"),
    pytest.param((sp.Eq(x, 1), sp.Ne(x, 1)), id="eq-and-ne"),
    pytest.param((sp.Eq(f(x), 1), f(x) < 0), id="function-value"),
    pytest.param((sp.Eq(sp.Integral(f(x), (x, -sp.oo, sp.oo)), 1), f(x) < 0),
                 id="normalised-negative-density"),
    pytest.param((sp.Eq(p, -1),), id="positive-symbol-negative-value"),
])
def test_contradictory_assumptions_raise(assumptions: tuple[sp.Basic, ...]) -> None:
    with pytest.raises(proofs.InvalidStep, match="assumptions"):
        check(Step("s", x, x + 1, assumptions=assumptions))


def test_order_of_integration_exchanged_only_under_tonelli() -> None:
    g = sp.Function("g", real=True)
    def swapped(body: sp.Expr) -> Step:
        return Step("s", sp.Integral(body, (x, 0, 1), (y, 0, 2)),
                    sp.Integral(body, (y, 0, 2), (x, 0, 1)))
    assert check(swapped(g(x, y) ** 2)).ok                      # nonnegative: Tonelli
    assert not check(swapped(g(x, y))).ok                       # sign unknown: undecided
    assert not check(swapped(g(x, y) ** 2 - g(y, x) ** 2)).ok   # pieces may be infinite


def test_unknown_hypothesis_raises() -> None:
    with pytest.raises(proofs.InvalidStep, match="hypotheses"):
        check(Step("s", x, x, hypotheses=("dominated",)))


def test_leibniz_is_used_only_when_stated_and_listed() -> None:
    lhs = sp.Derivative(sp.Integral(sp.exp(-(x - t) ** 2), (x, -sp.oo, sp.oo)), t)
    rhs = sp.Integral(2 * (x - t) * sp.exp(-(x - t) ** 2), (x, -sp.oo, sp.oo))
    assert not check(Step("s", lhs, rhs)).ok
    verdict = check(Step("s", lhs, rhs, hypotheses=("leibniz",)))
    assert verdict.ok and verdict.hypotheses == ("leibniz",), verdict


# ----------------------------------------------------------------------------- the gate
@pytest.mark.parametrize("step", [
    pytest.param(_FALSE["exp-half"], id="branch-of-exp"),
    pytest.param(_FALSE["branch-sqrt"], id="branch-of-sqrt"),
    pytest.param(Step("s", sp.Integer(0), sp.log(x) ** 2, relation="<="), id="complex-square"),
    pytest.param(Step("s", sp.Derivative(sp.Integral(sp.exp(-(x - y) ** 2 / 2),
                                                     (x, -sp.oo, sp.oo)), y), sp.Integer(1)),
                 id="derivative-of-integral"),
])
def test_gate_blocks_a_false_step(step: Step) -> None:
    assert gate(step, {}) is not None


@pytest.mark.parametrize("step", [
    pytest.param(Step("s", sp.exp(sp.I * t / 2) ** 2, sp.exp(sp.I * t)), id="integer-power"),
    pytest.param(Step("s", sp.Integral(sp.exp(-x**2 / 2), (x, -sp.oo, sp.oo)),
                      sp.sqrt(2 * sp.pi)), id="gaussian"),
    pytest.param(Step("s", sp.Integral(f(x) * x**0, (x, -sp.oo, sp.oo)), sp.Integer(1),
                      assumptions=(sp.Eq(sp.Integral(f(x), (x, -sp.oo, sp.oo)), 1),)),
                 id="normalised-stand-in"),
])
def test_gate_passes_a_true_step(step: Step) -> None:
    assert gate(step, {}) is None


# ----------------------------------------------------------------------------- the budget
@pytest.mark.parametrize("seconds", [0.5, 2.0])
def test_budget_cuts_off_an_expensive_step(seconds: float) -> None:
    w = sp.Symbol("w")
    base = x + y + z + w
    step = Step("s", (base + 1) ** 30, (base + 1) ** 15 * (base + 2) ** 15 - 1)
    start = time.process_time()
    verdict = check(step, budget_seconds=seconds)
    assert time.process_time() - start < seconds + 0.5
    assert not verdict.ok and verdict.status in ("undecided", "refuted")


def test_budget_holds_off_the_main_thread() -> None:
    # no SIGPROF timer in a worker thread: the budget is checked between routes, and every
    # expansion is sized before it starts
    step = Step("s", sp.expand((x + y + 1) ** 40), (x + y + 1) ** 40 + 1)
    out: list[proofs.Verdict] = []
    worker = threading.Thread(target=lambda: out.append(check(step, budget_seconds=1.0)))
    start = time.process_time()
    worker.start()
    worker.join(timeout=60)
    assert out and not out[0].ok
    assert time.process_time() - start < 10


def test_exact_constant_difference_is_refuted() -> None:
    xs = sp.symbols("x1:31", positive=True)
    product = sp.Mul(*[(1 + v) for v in xs])
    verdict = check(Step("s", product, product + 1))
    assert verdict.status == "refuted" and "-1" in verdict.detail, verdict.detail
