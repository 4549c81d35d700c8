"""Regression tests for issue 10, item 5: the true steps of our field that the checker must
prove, each within 2 s of CPU."""

from __future__ import annotations

import time

import pytest
import sympy as sp

from proofs import Step, check

x, y, m, mu = sp.symbols("x y m mu", real=True)
s, v, a = sp.symbols("s v a", positive=True)
k, n = sp.symbols("k n", integer=True, positive=True)
q = sp.Function("q", real=True)
S = sp.Symbol("S", real=True)
line = (x, -sp.oo, sp.oo)
normal = sp.exp(-(x - mu) ** 2 / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
normalised = (sp.Eq(sp.Integral(q(x), line), 1), q(x) >= 0)
_K = 12
_w = sp.symbols(f"w1:{_K + 1}", positive=True)
_M4 = sp.Matrix(4, 4, lambda i, j: sp.Symbol(f"a{i}{j}", real=True) if i <= j else 0)

_TRUE = {
    "gauss-normalisation": Step("s", sp.Integral(normal, line), sp.Integer(1)),
    "gauss-first-moment": Step("s", sp.Integral(x * normal, line), mu),
    "gauss-second-moment": Step("s", sp.Integral(x**2 * normal, line), mu**2 + s**2),
    "rename-bound": Step("s", sp.Integral(q(x), line), sp.Integral(q(y), (y, -sp.oo, sp.oo))),
    "finite-sum": Step("s", sp.Sum(q(k), (k, 1, 4)), q(1) + q(2) + q(3) + q(4)),
    "faulhaber": Step("s", sp.Sum(k**2, (k, 1, n)), n * (n + 1) * (2 * n + 1) / 6),
    "max-min": Step("s", sp.Max(x, 0) + sp.Min(x, 0), x),
    "max-abs": Step("s", sp.Max(x, y) - sp.Min(x, y), sp.Abs(x - y)),
    "jensen-normalised": Step(
        "s", (sp.Integral(x * q(x), line) - S) ** 2,
        sp.Integral(q(x) * (x - S) ** 2, line), relation="<=",
        witness=sp.Integral(q(x) * (x - sp.Integral(x * q(x), line)) ** 2, line),
        assumptions=normalised),
    "normalisation-after-expansion": Step(
        "s", sp.Integral(q(x) * (x - m) ** 2, line),
        sp.Integral(x**2 * q(x), line) - 2 * m * sp.Integral(x * q(x), line) + m**2,
        assumptions=normalised),
    "mixture-weights-12": Step("s", sp.Add(*[wi / sp.Add(*_w) for wi in _w]), sp.Integer(1)),
    "inverse-4x4": Step("s", _M4 * _M4.inv(), sp.eye(4),
                        assumptions=tuple(sp.Ne(_M4[i, i], 0) for i in range(4))),
    "exp-cleared": Step("s", sp.exp(x) / (1 + sp.exp(x)), 1 - 1 / (1 + sp.exp(x))),
    "exp-integer-split": Step("s", sp.exp(sp.I * x / 2) ** 2, sp.exp(sp.I * x)),
}


@pytest.mark.parametrize("name", sorted(_TRUE))
def test_true_step_is_proved_within_2s(name: str) -> None:
    start = time.process_time()
    verdict = check(_TRUE[name])
    assert verdict.ok, verdict.detail
    assert time.process_time() - start < 2.0
