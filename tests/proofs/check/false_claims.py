"""A corpus of FALSE claims that :func:`proofs.check` must never prove (issue 10, item 6).

Every entry is a :class:`proofs.Step` that is false under its stated assumptions, or whose truth
needs a condition that is not stated. Its ``justification`` starts with ``FALSE`` and names a
counterexample; where the counterexample is a point (a value for each free symbol, a concrete
function for each undefined one), it is also recorded in :data:`COUNTEREXAMPLES`, so that the
corpus itself can be re-checked numerically. Claims are grouped by the trap they set in
:data:`FALSE_CLAIMS`; "contradictory_assumptions" holds steps whose assumptions cannot all hold,
for which the only acceptable outcomes are :class:`proofs.InvalidStep` or a verdict that is not ok.

Test data only: nothing here is run at import beyond building SymPy expressions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import sympy as sp
from sympy import (
    Abs,
    Derivative,
    E,
    Eq,
    Integral,
    Limit,
    Max,
    Min,
    Ne,
    Piecewise,
    Product,
    Q,
    Rational,
    Subs,
    Sum,
    exp,
    log,
    oo,
    pi,
    sqrt,
)

from proofs import Step

__all__ = ["COUNTEREXAMPLES", "FALSE_CLAIMS"]

#: class name -> the false steps of that class.
FALSE_CLAIMS: dict[str, list[Step]] = {}
#: step name -> a point where the claim fails (symbols and undefined functions to values).
COUNTEREXAMPLES: dict[str, dict[Any, Any]] = {}


def _fmt(point: Mapping[Any, Any]) -> str:
    return ", ".join(f"{getattr(k, 'name', None) or getattr(k, '__name__', k)}={v}"
                     for k, v in point.items())


#: Whether this version of :class:`proofs.Step` takes named regularity ``hypotheses``.
_HAS_HYPOTHESES = "hypotheses" in {f.name for f in dataclasses.fields(Step)}


def _false(cls: str, name: str, lhs: Any, rhs: Any, why: str, *, relation: str = "==",
           assumptions: tuple[Any, ...] = (), at: Mapping[Any, Any] | None = None,
           hypotheses: tuple[str, ...] = ()) -> None:
    """Add one false step to class ``cls``; ``at`` is a point where it fails, if there is one.
    A step stating ``hypotheses`` is skipped where :class:`proofs.Step` has no such field."""
    if hypotheses and not _HAS_HYPOTHESES:
        return
    where = f" at {_fmt(at)}" if at else ""
    extra = {"hypotheses": hypotheses} if hypotheses else {}
    step = Step(name, lhs, rhs, relation, f"FALSE{where}: {why}", tuple(assumptions), **extra)
    if any(s.name == name for claims in FALSE_CLAIMS.values() for s in claims):
        raise ValueError(f"duplicate false-claim name {name!r}")
    FALSE_CLAIMS.setdefault(cls, []).append(step)
    if at:
        COUNTEREXAMPLES[name] = dict(at)


# ----------------------------------------------------------------------------- shared symbols
x, y, z, w = sp.symbols("x y z w", real=True)
t = sp.Symbol("t", real=True)
a, b = sp.symbols("a b", positive=True)
u, m, c = sp.symbols("u m c")                      # complex: no assumptions at all
i, j, k = sp.symbols("i j k", integer=True, nonnegative=True)
n = sp.Symbol("n", integer=True, positive=True)
f, g = sp.Function("f", real=True), sp.Function("g", real=True)
q, h = sp.Function("q"), sp.Function("h", real=True)
alpha, sigma, tau = sp.symbols("alpha sigma tau", positive=True)
mu, x0, eps, s_hat, e_hat = sp.symbols("mu x_0 epsilon s_hat epsilon_hat", real=True)
R = (-oo, oo)

# 2x2 matrices used as counterexamples for the noncommutative claims (E12, E21 and shears).
E12, E21 = sp.ImmutableMatrix([[0, 1], [0, 0]]), sp.ImmutableMatrix([[0, 0], [1, 0]])
SHEAR_U, SHEAR_L = sp.ImmutableMatrix([[1, 1], [0, 1]]), sp.ImmutableMatrix([[1, 0], [1, 1]])
DIAG12 = sp.ImmutableMatrix([[1, 0], [0, 2]])


def _normal(value: Any, mean: Any, variance: Any) -> Any:
    return exp(-(value - mean) ** 2 / (2 * variance)) / sqrt(2 * pi * variance)


# ----------------------------------------------------------------------------- noncommutative
def _noncommutative() -> None:
    A, B, C = sp.symbols("A B C", commutative=False)
    cls = "noncommutative"
    two = {A: E12, B: E21}
    _false(cls, "nc_commute", A * B, B * A, "AB = E11, BA = E22", at=two)
    _false(cls, "nc_binomial_square", (A + B) ** 2, A**2 + 2 * A * B + B**2,
           "the difference is BA - AB", at=two)
    _false(cls, "nc_difference_of_squares", (A + B) * (A - B), A**2 - B**2,
           "the difference is BA - AB", at=two)
    _false(cls, "nc_commutative_scalar_between", x * A * B, B * x * A,
           "x commutes, A and B do not", at={x: 1, A: E12, B: E21})
    _false(cls, "nc_square_of_product", (A * B) ** 2, A**2 * B**2,
           "(AB)^2 = E11 but A^2 = 0", at=two)
    _false(cls, "nc_inverse_of_product", (A * B) ** -1, A**-1 * B**-1,
           "(AB)^-1 = B^-1 A^-1, and the shears do not commute",
           at={A: SHEAR_U, B: SHEAR_L})
    _false(cls, "nc_exp_of_sum", exp(A) * exp(B), exp(A + B),
           "exp(E12) exp(E21) = [[2,1],[1,1]], exp(E12+E21) = [[cosh 1, sinh 1], ...]", at=two)
    _false(cls, "nc_cyclic_triple", A * B * C, C * A * B,
           "ABC = [[1, 2], [0, 0]] but CAB = [[1, 1], [0, 0]]",
           at={A: E12, B: SHEAR_L, C: DIAG12})
    _false(cls, "nc_swapped_factors", (A - B) * (A + B), (A + B) * (A - B),
           "the difference is 2(AB - BA)", at=two)
    _false(cls, "nc_binomial_cube", (A + B) ** 3,
           A**3 + 3 * A**2 * B + 3 * A * B**2 + B**3, "only true when AB = BA", at=two)
    _false(cls, "nc_matrix_of_products", sp.Matrix([[A * B, 0], [0, 1]]),
           sp.Matrix([[B * A, 0], [0, 1]]), "entry (0, 0) is AB vs BA", at=two)


# ----------------------------------------------------------------------------- symbol identity
def _symbol_identity() -> None:
    cls = "symbol_identity"
    x_pos, x_neg = sp.Symbol("x", positive=True), sp.Symbol("x", negative=True)
    x_plain = sp.Symbol("x")
    _false(cls, "sym_positive_vs_negative", x_pos, x_neg,
           "two different symbols: a positive one is never equal to a negative one",
           at={x_pos: 1, x_neg: -1})
    _false(cls, "sym_same_name_in_polynomial", (x_pos + 1) ** 2, x**2 + 2 * x + 1,
           "x (positive) and x (real) are different symbols", at={x_pos: 1, x: 2})
    _false(cls, "sym_same_name_in_exponential", x_pos * exp(y), x_plain * exp(y),
           "x (positive) and x (no assumptions) are different symbols",
           at={x_pos: 1, x_plain: 2, y: 0})
    dummy_x = sp.Dummy("x")
    _false(cls, "sym_dummy_vs_symbol", dummy_x + 1, x_plain + 1,
           "a Dummy is another variable than the Symbol of the same name",
           at={dummy_x: 1, x_plain: 0})
    _false(cls, "sym_renamed_by_assumption", x_plain, x_pos,
           "x (no assumptions) assumed > 0 is still not the positive symbol x",
           assumptions=(x_plain > 0,), at={x_plain: 1, x_pos: 2})
    smeq0 = sp.Symbol("_smeq_0")
    _false(cls, "sym_internal_fresh_name", Integral(f(t), (t, 0, 1)), smeq0,
           "a user symbol named like the checker's fresh generators is a free variable",
           at={f: sp.Lambda(t, t), smeq0: 0})
    smeq1 = sp.Symbol("_smeq_1")
    _false(cls, "sym_internal_fresh_names_two",
           Integral(f(t), (t, 0, 1)) + 2 * Integral(g(t), (t, 0, 1)), smeq0 + 2 * smeq1,
           "user symbols named like fresh generators are free variables",
           at={f: sp.Lambda(t, t), g: sp.Lambda(t, 1), smeq0: 0, smeq1: 0})
    names = ["_x0", "x_0", "Dummy_1", "_t", "z0", "u0", "tmp0", "_s1", "r0", "g0", "_r0"]
    fresh = [sp.Symbol(name, real=True) for name in names]
    _false(cls, "sym_fresh_looking_names_sum", sp.Add(*fresh), sp.Integer(0),
           "a sum of free symbols with internal-looking names is not 0",
           at={s: 1 for s in fresh})
    r0, g0 = sp.Symbol("r0", real=True), sp.Symbol("g0", real=True)
    _false(cls, "sym_named_like_radical_dummy", sqrt(a) + 1 / (a + 1), r0 + 1 / (a + 1),
           "r0 is a free symbol, not the square root the checker names r0", at={a: 4, r0: 0})
    _false(cls, "sym_named_like_generator_dummy",
           Integral(f(t) * exp(t), (t, 0, 1)) / (a + 1), g0 / (a + 1),
           "g0 is a free symbol, not the integral the checker names g0",
           at={f: sp.Lambda(t, 1), g0: 0, a: 1})
    x_0, x0_plain = sp.Symbol("x_0"), sp.Symbol("x0")
    _false(cls, "sym_x_0_vs_x0", x_0 + 1, x0_plain + 1,
           "x_0 and x0 are different names", at={x_0: 0, x0_plain: 1})
    under_t, dummy_t = sp.Symbol("_t", real=True), sp.Dummy("t", real=True)
    _false(cls, "sym_underscore_vs_dummy", under_t**2, dummy_t**2,
           "a user symbol _t is not a Dummy t (which prints as _t)",
           at={under_t: 1, dummy_t: 2})
    f_plain = sp.Function("f")   # same name as the real-valued f, other assumptions
    _false(cls, "sym_function_same_name", f(x), f_plain(x),
           "f (real) and f (no assumptions) are different functions",
           at={f: sp.Lambda(t, 0), f_plain: sp.Lambda(t, 1)})
    _false(cls, "sym_function_same_name_square", (f(x) - f_plain(x)) ** 2, sp.Integer(0),
           "f (real) and f (no assumptions) are different functions",
           at={f: sp.Lambda(t, 0), f_plain: sp.Lambda(t, 1)})
    x_real_other = sp.Symbol("x", real=True, integer=True)
    _false(cls, "sym_integer_vs_real", sqrt(x_real_other**2 + 1), sqrt(x**2 + 1),
           "x (integer) and x (real) are different symbols", at={x_real_other: 0, x: 1})


# ----------------------------------------------------------------------------- branch cuts
def _branch_cuts() -> None:
    cls = "branch_cuts"
    p, v = sp.symbols("p v", real=True)   # real exponents
    _false(cls, "bc_sqrt_of_reciprocal", sqrt(1 / x), 1 / sqrt(x),
           "sqrt(-1) = I but 1/sqrt(-1) = -I", at={x: -1})
    _false(cls, "bc_power_of_reciprocal", (1 / x) ** y, x ** (-y),
           "(-1)^(1/2) = I vs (-1)^(-1/2) = -I", at={x: -1, y: Rational(1, 2)})
    _false(cls, "bc_sqrt_of_product", sqrt(x * y), sqrt(x) * sqrt(y),
           "sqrt(1) = 1 vs I*I = -1", at={x: -1, y: -1})
    _false(cls, "bc_log_of_product", log(x * y), log(x) + log(y),
           "log(1) = 0 vs 2*I*pi", at={x: -1, y: -1})
    _false(cls, "bc_log_of_square", log(x**2), 2 * log(x),
           "log(1) = 0 vs 2*I*pi", at={x: -1})
    _false(cls, "bc_sqrt_of_square", (x**2) ** Rational(1, 2), x, "sqrt(1) = 1 vs -1",
           at={x: -1})
    _false(cls, "bc_exp_half_angle", exp(sp.I * t / 2), sqrt(exp(sp.I * t)),
           "exp(I*pi) = -1 vs sqrt(1) = 1", at={t: 2 * pi})
    _false(cls, "bc_exp_three_halves", exp(3 * m / 2), exp(m) ** Rational(3, 2),
           "exp(3*I*pi) = -1 vs 1^(3/2) = 1", at={m: 2 * pi * sp.I})
    _false(cls, "bc_exp_symbolic_power", exp(c * m), exp(m) ** c,
           "c = 1/2, m = 2*I*pi: -1 vs 1", at={c: Rational(1, 2), m: 2 * pi * sp.I})
    _false(cls, "bc_power_of_power", (x**p) ** v, x ** (p * v),
           "((-1)^2)^(1/2) = 1 vs (-1)^1 = -1", at={x: -1, p: 2, v: Rational(1, 2)})
    _false(cls, "bc_power_of_product", (x * y) ** z, x**z * y**z,
           "1^(1/2) = 1 vs I*I = -1", at={x: -1, y: -1, z: Rational(1, 2)})
    _false(cls, "bc_log_of_exp", log(exp(m)), m, "log(exp(2*I*pi)) = 0", at={m: 2 * pi * sp.I})
    _false(cls, "bc_asin_of_sin", sp.asin(sp.sin(x)), x, "asin(sin(pi)) = 0", at={x: pi})
    _false(cls, "bc_cube_root_of_cube", (x**3) ** Rational(1, 3), x,
           "principal (-1)^(1/3) = exp(I*pi/3), not -1", at={x: -1})
    _false(cls, "bc_sqrt_of_exp_square", sqrt(exp(2 * m)), exp(m),
           "sqrt(exp(2*I*pi)) = 1 vs exp(I*pi) = -1", at={m: pi * sp.I})
    _false(cls, "bc_sqrt_with_positive_factor", sqrt(x**2 * a), x * sqrt(a),
           "sqrt(1) = 1 vs -1", at={x: -1, a: 1})


# ----------------------------------------------------------------------------- Fubini
def _fubini() -> None:
    cls = "fubini"
    square = (x**2 - y**2) / (x**2 + y**2) ** 2
    _false(cls, "fub_classic_square_iterated",
           Integral(Integral(square, (x, 0, 1)), (y, 0, 1)),
           Integral(Integral(square, (y, 0, 1)), (x, 0, 1)),
           "not absolutely integrable: dx first gives -pi/4, dy first gives pi/4")
    _false(cls, "fub_classic_square_multi_limit",
           Integral(square, (x, 0, 1), (y, 0, 1)), Integral(square, (y, 0, 1), (x, 0, 1)),
           "the same iterated integrals in multi-limit form: -pi/4 vs pi/4")
    _false(cls, "fub_classic_square_false_hypothesis",
           Integral(Integral(square, (x, 0, 1)), (y, 0, 1)),
           Integral(Integral(square, (y, 0, 1)), (x, 0, 1)),
           "the stated hypothesis 'fubini' does not hold: ∫∫|f| = oo; -pi/4 vs pi/4",
           hypotheses=("fubini",))
    cubic = (x - y) / (x + y) ** 3
    _false(cls, "fub_cubic_quotient",
           Integral(Integral(cubic, (y, 0, 1)), (x, 0, 1)),
           Integral(Integral(cubic, (x, 0, 1)), (y, 0, 1)),
           "dy first gives 1/2, dx first gives -1/2")
    strip = exp(-x * y) - 2 * exp(-2 * x * y)
    _false(cls, "fub_exponential_strip",
           Integral(Integral(strip, (y, 1, oo)), (x, 0, 1)),
           Integral(Integral(strip, (x, 0, 1)), (y, 1, oo)),
           "dy first: integrand (e^-x - e^-2x)/x > 0; dx first: (e^-2y - e^-y)/y < 0")
    delta = sp.KroneckerDelta(i, j) - sp.KroneckerDelta(i, j + 1)
    _false(cls, "fub_kronecker_double_series",
           Sum(Sum(delta, (i, 0, oo)), (j, 0, oo)), Sum(Sum(delta, (j, 0, oo)), (i, 0, oo)),
           "summing over i first gives 0, over j first gives 1")
    _false(cls, "fub_triangle_count", Sum(Sum(1, (j, 0, i)), (i, 0, n)), (n + 1) ** 2,
           "the triangle has (n+1)(n+2)/2 points: 3 vs 4", at={n: 1})
    _false(cls, "fub_wrong_triangle_swap_integral",
           Integral(Integral(x, (y, 0, x)), (x, 0, 1)),
           Integral(Integral(x, (x, 0, y)), (y, 0, 1)),
           "the swapped limits should be x from y to 1: 1/3 vs 1/6")
    _false(cls, "fub_wrong_triangle_swap_function",
           Integral(Integral(f(x) * g(y), (y, 0, x)), (x, 0, 1)),
           Integral(Integral(f(x) * g(y), (x, 0, y)), (y, 0, 1)),
           "f(x) = x, g = 1: 1/3 vs 1/6", at={f: sp.Lambda(t, t), g: sp.Lambda(t, 1)})
    _false(cls, "fub_wrong_triangle_swap_sum",
           Sum(Sum(j, (j, 0, i)), (i, 0, n)), Sum(Sum(j, (i, 0, j)), (j, 0, n)),
           "the swapped index should run from j to n: 1 vs 2", at={n: 1})
    kk = sp.Symbol("kk", integer=True, positive=True)
    _false(cls, "fub_rearranged_alternating_series",
           Sum((-1) ** (kk + 1) / kk, (kk, 1, oo)),
           Sum(1 / (2 * kk - 1) - 1 / (4 * kk - 2) - 1 / (4 * kk), (kk, 1, oo)),
           "a rearrangement of a conditionally convergent series: log 2 vs log(2)/2")


# ----------------------------------------------------------------------------- Leibniz
def _leibniz() -> None:
    cls = "leibniz"
    _false(cls, "leib_gelbaum_olmsted",
           Subs(Derivative(Integral(x**3 / y**2 * exp(-x**2 / y), (y, 0, 1)), x), x, 0),
           sp.Integer(0),
           "F(x) = x exp(-x^2), so F'(0) = 1, but the differentiated integrand is 0 at x = 0")
    _false(cls, "leib_rational_kernel",
           Subs(Derivative(Integral(x * t**3 / (x**2 + t**2) ** 2, (x, 0, 1)), t), t, 0),
           sp.Integer(0), "F(t) = t/(2(1+t^2)), so F'(0) = 1/2; the integrand's t-derivative "
           "at t = 0 is 0")
    _false(cls, "leib_cubic_exponential",
           Subs(Derivative(Integral(t**3 * exp(-t**2 * x), (x, 0, oo)), t), t, 0),
           sp.Integer(0), "F(t) = t for t != 0 (F(0) = 0), so F'(0) = 1; no dominating "
           "function near t = 0")
    _false(cls, "leib_cubic_exponential_false_hypothesis",
           Subs(Derivative(Integral(t**3 * exp(-t**2 * x), (x, 0, oo)), t), t, 0),
           sp.Integer(0), "the stated hypothesis 'leibniz' does not hold near t = 0; F'(0) = 1",
           hypotheses=("leibniz",))
    _false(cls, "leib_rational_kernel_false_hypothesis",
           Subs(Derivative(Integral(x * t**3 / (x**2 + t**2) ** 2, (x, 0, 1)), t), t, 0),
           sp.Integer(0), "the stated hypothesis 'leibniz' does not hold near t = 0; "
           "F'(0) = 1/2", hypotheses=("leibniz",))
    _false(cls, "leib_moving_limit_dropped",
           Derivative(Integral(exp(-x**2), (x, 0, t)), t), sp.Integer(0),
           "the boundary term exp(-t^2) is missing", at={t: 0})
    _false(cls, "leib_moving_limit_sign",
           Derivative(Integral(exp(-x**2), (x, t, 1)), t), exp(-t**2),
           "a moving lower limit contributes -exp(-t^2)", at={t: 0})
    _false(cls, "leib_chain_rule_dropped",
           Derivative(Integral(exp(-x**2), (x, 0, t**2)), t), exp(-t**4),
           "the chain rule factor 2t is missing", at={t: 1})
    _false(cls, "leib_wrong_variable",
           Derivative(Integral(x * t**2, (x, 0, 1)), t), Integral(t**2, (x, 0, 1)),
           "lhs = t, rhs = t^2", at={t: 2})
    _false(cls, "leib_kernel_score_sign",
           Derivative(Integral(f(y) * _normal(x, alpha * y, sigma**2), (y, -oo, oo)), x),
           Integral(f(y) * _normal(x, alpha * y, sigma**2) * (x - alpha * y) / sigma**2,
                    (y, -oo, oo)),
           "the kernel score is -(x - alpha y)/sigma^2: the sign is flipped",
           at={f: sp.Lambda(t, t), x: 1, alpha: 1, sigma: 1})
    _false(cls, "leib_divergent_interchange",
           Derivative(Integral(sp.sin(t * x) / x, (x, 0, oo)), t),
           Integral(sp.cos(t * x), (x, 0, oo)),
           "lhs = d/dt (pi/2) = 0 for t > 0; the rhs integral diverges",
           assumptions=(t > 0,))


# ----------------------------------------------------------------------------- kinks
def _kinks() -> None:
    cls = "kinks"
    _false(cls, "kink_abs_at_zero_is_zero", Subs(Derivative(Abs(x), x), x, 0), sp.Integer(0),
           "|x| has no derivative at 0 (one-sided derivatives -1 and 1)")
    _false(cls, "kink_abs_at_zero_is_one", Subs(Derivative(Abs(x), x), x, 0), sp.Integer(1),
           "|x| has no derivative at 0")
    _false(cls, "kink_relu_at_zero_is_half", Subs(Derivative(Max(x, 0), x), x, 0),
           Rational(1, 2), "max(x, 0) has no derivative at 0 (0 from the left, 1 from the "
           "right)")
    _false(cls, "kink_relu_derivative_everywhere", Derivative(Max(x, 0), x), sp.Heaviside(x),
           "max(x, 0) has no derivative at x = 0")
    _false(cls, "kink_piecewise_break",
           Subs(Derivative(Piecewise((x, x < 0), (2 * x, True)), x), x, 0), sp.Integer(2),
           "one-sided derivatives 1 and 2 at the break")
    _false(cls, "kink_sign_derivative", Derivative(sp.sign(x), x), sp.Integer(0),
           "sign jumps at 0: no derivative there")
    _false(cls, "kink_relu_square_second_derivative",
           Subs(Derivative(Max(x, 0) ** 2, (x, 2)), x, 0), sp.Integer(1),
           "the second derivative is 0 on the left, 2 on the right: none at 0")
    _false(cls, "kink_shifted_abs", Derivative(Abs(x - y), x), sp.sign(x - y),
           "|x - y| has no x-derivative at x = y (rhs is 0 there)")
    _false(cls, "kink_floor_derivative", Derivative(sp.floor(x), x), sp.Integer(0),
           "floor jumps at every integer")
    _false(cls, "kink_min_at_break", Subs(Derivative(Min(x, 1), x), x, 1), Rational(1, 2),
           "min(x, 1) has one-sided derivatives 1 and 0 at x = 1")
    _false(cls, "kink_singularity_function_ramp",
           Subs(Derivative(sp.SingularityFunction(x, 0, 1), x), x, 0), sp.Integer(1),
           "the ramp <x>^1 = max(x, 0) has no derivative at 0")
    _false(cls, "kink_atan2_branch_cut",
           Subs(Derivative(sp.atan2(y, x), y), (x, y), (-1, 0)), sp.Integer(-1),
           "atan2 jumps from pi to -pi across y = 0 for x < 0: no y-derivative there")
    _false(cls, "kink_mod_derivative", Derivative(sp.Mod(x, 1), x), sp.Integer(1),
           "x mod 1 jumps at every integer")
    _false(cls, "kink_heaviside_derivative", Derivative(sp.Heaviside(x), x), sp.Integer(0),
           "the step function has no derivative at 0")


# ----------------------------------------------------------------------------- limits
def _limits() -> None:
    cls = "limits"
    _false(cls, "lim_sin_over_x_at_infinity", Limit(sp.sin(x) / x, x, oo), sp.Integer(1),
           "the limit is 0")
    _false(cls, "lim_compound_at_zero", Limit((1 + 1 / x) ** x, x, 0, "+"), E,
           "the limit is 1 (E is the limit at infinity)")
    _false(cls, "lim_x_sin_inverse_at_infinity", Limit(x * sp.sin(1 / x), x, oo),
           sp.Integer(0), "the limit is 1")
    _false(cls, "lim_two_sided_pole", Limit(1 / x, x, 0, "+-"), oo,
           "-oo from the left, oo from the right: no two-sided limit")
    _false(cls, "lim_x_to_the_x", Limit(x**x, x, 0, "+"), sp.Integer(0), "the limit is 1")
    _false(cls, "lim_root_x_at_infinity", Limit(x ** (1 / x), x, oo), sp.Integer(0),
           "the limit is 1")
    _false(cls, "lim_removable", Limit((x**2 - 1) / (x - 1), x, 1), sp.Integer(1),
           "the limit is 2")
    _false(cls, "lim_oscillating", Limit(sp.sin(1 / x), x, 0), sp.Integer(0),
           "sin(1/x) oscillates: no limit")
    _false(cls, "lim_sign_jump", Limit(Abs(x) / x, x, 0, "+-"), sp.Integer(1),
           "-1 from the left: no two-sided limit")
    _false(cls, "lim_cosine_ratio", Limit((1 - sp.cos(x)) / x**2, x, 0), sp.Integer(1),
           "the limit is 1/2")
    _false(cls, "lim_sine_cubic", Limit((sp.sin(x) - x) / x**3, x, 0), Rational(1, 6),
           "the limit is -1/6")
    _false(cls, "lim_sqrt_difference", Limit(x * (sqrt(x**2 + 1) - x), x, oo), sp.Integer(1),
           "the limit is 1/2")
    _false(cls, "lim_compound_squared", Limit((1 + 1 / x) ** (x**2), x, oo), E,
           "(1 + 1/x)^(x^2) grows like exp(x - 1/2): the limit is oo")
    _false(cls, "lim_atan_signed_slope", Limit(sp.atan(y * x), x, oo), pi / 2,
           "the limit is -pi/2 for y < 0", at={y: -1})
    _false(cls, "lim_x_sin_x", Limit(x * sp.sin(x), x, oo), oo,
           "x sin(x) oscillates with growing amplitude: no limit")
    C, M1, M2, aa = sp.symbols("C M_1 M_2 a", positive=True)
    kk = sp.Symbol("k", real=True)
    chain = sqrt(2 * C * ((M1 + M2) - sqrt((M1 + M2) ** 2 - M1 * M2 * (2 - 2 * sp.cos(kk * aa))))
                 / (2 * M1 * M2))
    _false(cls, "lim_sympy_issue_23525", Limit(sp.diff(chain, kk), kk, 0, "+"), sp.Integer(0),
           "SymPy returns 0 (sympy/sympy#23525); the limit is a*sqrt(C/(2*(M_1+M_2)))",
           at={C: 1, M1: 1, M2: Rational(3, 2), aa: 1})


# ----------------------------------------------------------------------------- nonnegativity
def _nonnegativity() -> None:
    cls = "nonnegativity"
    zero = sp.Integer(0)
    _false(cls, "nn_positive_base_complex_exponent", a**c, zero, "e^(I*pi) = -1",
           relation=">=", at={a: E, c: pi * sp.I})
    _false(cls, "nn_positive_base_imaginary_exponent", a**sp.I, zero,
           "(e^pi)^I = -1", relation=">=", at={a: exp(pi)})
    _false(cls, "nn_square_of_sqrt_difference", zero, (sqrt(x) - sqrt(y)) ** 2,
           "(I - 0)^2 = -1", relation="<=", at={x: -1, y: 0})
    _false(cls, "nn_square_of_log", log(x) ** 2, zero, "log(-1)^2 = -pi^2", relation=">=",
           at={x: -1})
    x_pos = sp.Symbol("x", positive=True)
    _false(cls, "nn_integral_outside_declared_domain", Integral(x_pos, (x_pos, -2, 1)), zero,
           "the integration variable leaves the positive axis: the value is -3/2",
           relation=">=")
    _false(cls, "nn_reversed_limits", Integral(1, (x, 1, 0)), zero, "the value is -1",
           relation=">=")
    _false(cls, "nn_symbolic_upper_limit", Integral(exp(-x**2), (x, 0, y)), zero,
           "negative for y < 0", relation=">=", at={y: -1})
    _false(cls, "nn_complex_limits", Integral(u, (u, 0, sp.I)), zero, "the value is -1/2",
           relation=">=")
    _false(cls, "nn_square_of_complex", u**2, zero, "I^2 = -1", relation=">=", at={u: sp.I})
    _false(cls, "nn_witness_with_branch_cut", x + y, 2 * sqrt(x) * sqrt(y),
           "-5 < 2*I*(2*I) = -4; the witness (sqrt x - sqrt y)^2 is not a real square",
           relation=">=", at={x: -1, y: -4})
    _false(cls, "nn_real_part_of_square", sp.re(u**2), zero, "re(I^2) = -1", relation=">=",
           at={u: sp.I})
    _false(cls, "nn_integral_of_sqrt_square", Integral((sqrt(x) - sqrt(y)) ** 2, (x, -2, -1)),
           zero, "at y = 0 the integrand is x < 0: the value is -3/2", relation=">=",
           at={y: 0})
    _false(cls, "nn_square_of_real_power", (x**y) ** 2, zero, "((-1)^(1/2))^2 = -1",
           relation=">=", at={x: -1, y: Rational(1, 2)})
    _false(cls, "nn_exp_of_complex", exp(u), zero, "exp(I*pi) = -1", relation=">=",
           at={u: pi * sp.I})
    _false(cls, "nn_log_of_positive", log(a), zero, "log(1/2) < 0", relation=">=",
           at={a: Rational(1, 2)})
    _false(cls, "nn_product_of_reals", x * y, zero, "(-1)(1) = -1", relation=">=",
           at={x: -1, y: 1})
    _false(cls, "nn_square_le_zero", x**2, zero, "1 > 0", relation="<=", at={x: 1})


# ----------------------------------------------------------------------------- binding
def _assumption_binding() -> None:
    cls = "assumption_binding"
    _false(cls, "bind_derivative_variable", Derivative(x * y, x), 2 * y,
           "d/dx (x y) = y; substituting x = y inside the derivative binds the wrong x",
           assumptions=(Eq(x, y),), at={x: 1, y: 1})
    _false(cls, "bind_derivative_into_variable", Derivative(x * y, x), 2 * x,
           "d/dx (x y) = y = x, not 2x", assumptions=(Eq(y, x),), at={x: 1, y: 1})
    _false(cls, "bind_derivative_cubic", Derivative(x**2 * y, x), 3 * y**2,
           "d/dx (x^2 y) = 2 x y = 2 y^2", assumptions=(Eq(x, y),), at={x: 1, y: 1})
    _false(cls, "bind_integration_variable", Integral(x * y, (x, 0, 1)),
           Integral(y**2, (y, 0, 1)), "lhs = y/2, rhs = 1/3 (the bound x is not the free x)",
           assumptions=(Eq(x, y),), at={x: 1, y: 1})
    _false(cls, "bind_variable_capture", Integral(x * y, (x, 0, 1)), Integral(x**2, (x, 0, 1)),
           "lhs = y/2 = 1/2 at y = 1, rhs = 1/3: y = x must not be captured by the bound x",
           assumptions=(Eq(y, x),), at={x: 1, y: 1})
    _false(cls, "bind_integration_variable_constant", Integral(x**2, (x, 0, 3)),
           Integral(x, (x, 0, 3)), "9 vs 9/2; the free x = 1 says nothing about the bound x",
           assumptions=(Eq(x, 1),))
    _false(cls, "bind_summation_index", Sum(i * k, (i, 1, 3)), Sum(k**2, (k, 1, 3)),
           "lhs = 6k, rhs = 14", assumptions=(Eq(i, k),), at={i: 1, k: 1})
    _false(cls, "bind_subs_variable", Subs(x * y, x, 2), sp.Integer(4),
           "lhs = 2y", assumptions=(Eq(x, y),), at={x: 1, y: 1})
    y_pos = sp.Symbol("y", positive=True)
    _false(cls, "bind_limit_variable", Limit(x / (x + y_pos), x, oo), Rational(1, 2),
           "the limit is 1 for every y > 0", assumptions=(Eq(x, y_pos),),
           at={y_pos: 1})
    _false(cls, "bind_product_index", Product(x + y, (x, 1, 2)), Product(2 * y, (y, 1, 2)),
           "lhs = (1+y)(2+y) = 6 at y = 1, rhs = 8", assumptions=(Eq(x, y),),
           at={x: 1, y: 1})
    _false(cls, "bind_function_argument", Derivative(f(x) * g(y), x),
           Derivative(f(y) * g(y), y), "f = g = exp at x = y = 0: 1 vs 2",
           assumptions=(Eq(x, y),),
           at={f: sp.Lambda(t, exp(t)), g: sp.Lambda(t, exp(t)), x: 0, y: 0})


# ----------------------------------------------------------------------------- bound-variable facts
def _bound_variable_facts() -> None:
    """An integration/summation variable ranges over its limits, not over what its declared
    assumptions or the sign of one limit suggest: reversed limits, complex paths, half-integer
    summation ranges."""
    cls = "bound_variable_facts"
    r = sp.Symbol("r", real=True)       # a real summation index (not an integer)
    s_int = sp.Symbol("s", integer=True)  # an integer index of either sign
    half = Rational(1, 2)
    _false(cls, "bvf_abs_reversed_limits", Integral(Abs(x), (x, 1, -1)),
           Integral(x, (x, 1, -1)), "x runs over [-1, 1] although the lower limit is 1: -1 vs 0")
    _false(cls, "bvf_abs_symbolic_limits", Integral(Abs(x), (x, a, y)), Integral(x, (x, a, y)),
           "for y < 0 the range [y, a] contains negative x: -1 vs 0", at={a: 1, y: -1})
    _false(cls, "bvf_max_reversed_limits", Integral(Max(x, 0), (x, 1, -1)),
           Integral(x, (x, 1, -1)), "-1/2 vs 0")
    _false(cls, "bvf_cube_reversed_limits", Integral(x**3, (x, 2, -1)),
           Integral(Abs(x) ** 3, (x, 2, -1)), "-15/4 vs -17/4")
    _false(cls, "bvf_sqrt_square_reversed_limits", Integral(sqrt(x**2) * x, (x, 1, -1)),
           Integral(x**2, (x, 1, -1)), "0 vs -2/3")
    _false(cls, "bvf_abs_complex_path", Integral(Abs(u), (u, 0, sp.I)), Integral(u, (u, 0, sp.I)),
           "on the path u = I s: I/2 vs -1/2")
    _false(cls, "bvf_conjugate_complex_path", Integral(sp.conjugate(u), (u, 0, sp.I)),
           Integral(u, (u, 0, sp.I)), "on the path u = I s: 1/2 vs -1/2")
    _false(cls, "bvf_real_part_complex_path", Integral(sp.re(u), (u, 0, sp.I)),
           Integral(u, (u, 0, sp.I)), "on the path u = I s: 0 vs -1/2")
    _false(cls, "bvf_sum_reversed_abs", Sum(Abs(s_int), (s_int, 3, -3)),
           Sum(s_int, (s_int, 3, -3)),
           "Karr's convention: -(2+1+0+1+2) = -6 vs 0")
    _false(cls, "bvf_sum_half_integer_sine", Sum(sp.sin(pi * r), (r, half, 5 * half)),
           sp.Integer(0), "r = 1/2, 3/2, 5/2 are not integers: the sum is 1")
    _false(cls, "bvf_sum_half_integer_floor", Sum(sp.floor(r), (r, half, 5 * half)),
           Sum(r, (r, half, 5 * half)), "0 + 1 + 2 = 3 vs 9/2")
    # An upper limit that shares the integration variable's name is the FREE variable
    # (∫_0^x f(x) dx = F(x)); renaming the bound variable must not rename the limit with it.
    _false(cls, "bvf_limit_named_like_variable", Integral(f(x), (x, 0, x)),
           Integral(f(z), (z, 0, z)), "with f = 1 it reads x = z",
           at={f: sp.Lambda(t, 1), x: 1, z: 0})
    _false(cls, "bvf_limit_captured_by_equality", Integral(f(x), (x, 0, y)),
           Integral(f(z), (z, 0, w)), "with f = 1 it reads y = w, i.e. x = z",
           assumptions=(Eq(y, x), Eq(w, z)), at={f: sp.Lambda(t, 1), x: 1, y: 1, z: 0, w: 0})
    xp, zp = sp.symbols("x z", positive=True)
    _false(cls, "bvf_limit_named_like_variable_singular", Integral(1 / sqrt(xp), (xp, 0, xp)),
           Integral(1 / sqrt(zp), (zp, 0, zp)), "2 sqrt(x) vs 2 sqrt(z): 2 vs 4",
           at={xp: 1, zp: 4})
    _false(cls, "bvf_limit_named_like_variable_log", Integral(log(xp), (xp, 0, xp)),
           Integral(log(zp), (zp, 0, zp)), "x log x - x vs z log z - z: -1 vs 2 log 2 - 2",
           at={xp: 1, zp: 2})
    _false(cls, "bvf_limit_named_like_variable_oscillating",
           Integral(sp.sin(1 / xp), (xp, 0, xp)), Integral(sp.sin(1 / zp), (zp, 0, zp)),
           "∫_0^1 sin(1/t) dt = 0.5042 vs ∫_0^2 sin(1/t) dt = 1.1366 (x = 1, z = 2)")
    s_pos, j_pos = sp.Symbol("s", integer=True, positive=True), sp.Symbol("j", integer=True,
                                                                            positive=True)
    _false(cls, "bvf_sum_limit_named_like_index", Sum(s_pos, (s_pos, 1, s_pos + 10**4)),
           Sum(j_pos, (j_pos, 1, j_pos + 10**4)), "the triangular numbers T(10001) vs T(10002)",
           at={s_pos: 1, j_pos: 2})


# ----------------------------------------------------------------------------- contradictions
def _contradictory_assumptions() -> None:
    cls = "contradictory_assumptions"
    _false(cls, "contra_eq_and_bound", x**2, sp.Integer(1),
           "no x has x = 1 and x > 2 (and x^2 = 1 fails for every x > 2)",
           assumptions=(Eq(x, 1), x > 2))
    _false(cls, "contra_positive_and_negative", x, sp.Integer(0), "x > 0 and x < 0",
           assumptions=(x > 0, x < 0))
    x_pos = sp.Symbol("x", positive=True)
    _false(cls, "contra_declared_positive", x_pos, sp.Integer(-2),
           "x is declared positive but assumed < -1", assumptions=(x_pos < -1,))
    _false(cls, "contra_two_equalities", x, sp.Integer(2), "x = 1 and x = 2",
           assumptions=(Eq(x, 1), Eq(x, 2)))
    _false(cls, "contra_equal_opposite_signs", x, y, "x = y with x > 0 and y < 0",
           assumptions=(Eq(x, y), x > 0, y < 0))
    _false(cls, "contra_eq_and_ne", x, sp.Integer(1), "x = 1 and x != 1",
           assumptions=(Eq(x, 1), Ne(x, 1)))
    _false(cls, "contra_sum_of_positives", x + y, sp.Integer(0),
           "x, y > 0 but x + y < 0 (and x + y <= 0 fails for positive x, y)", relation="<=",
           assumptions=(x > 0, y > 0, x + y < 0))
    _false(cls, "contra_eq_positive_symbol", x_pos, sp.Integer(-1),
           "a positive symbol assumed equal to -1", assumptions=(Eq(x_pos, -1),))
    _false(cls, "contra_function_value", f(x), sp.Integer(1), "f(x) = 1 and f(x) < 0",
           assumptions=(Eq(f(x), 1), f(x) < 0))
    mass = Integral(q(x), (x, -oo, oo))
    _false(cls, "contra_normalisation_negative_density", mass, sp.Integer(1),
           "a density that integrates to 1 but is negative everywhere",
           assumptions=(Eq(mass, 1), q(x) < 0))
    _false(cls, "contra_square_negative", x**2, sp.Integer(-1), "x real with x^2 < 0",
           assumptions=(x**2 < 0,))
    _false(cls, "contra_predicate_and_relation", x, sp.Integer(-1),
           "Q.positive(x) and x < 0", assumptions=(Q.positive(x), x < 0))
    _false(cls, "contra_quadratic_region", x, sp.Integer(0), "x > 1 and x^2 < 1",
           assumptions=(x > 1, x**2 < 1))


# ----------------------------------------------------------------------------- near identities
def _near_identity() -> None:
    cls = "near_identity"
    poly = (x + y + z + w + 1) ** 8
    _false(cls, "near_expanded_power_plus_one", sp.expand(poly), poly + 1,
           "differs by exactly -1", at={x: 0, y: 0, z: 0, w: 0})
    product = sp.Mul(*[x + kk for kk in range(1, 31)])
    _false(cls, "near_product_30_factors", product, sp.expand(product) + 1,
           "differs by exactly -1", at={x: 0})
    _false(cls, "near_epsilon_offset", x + Rational(1, 10**30), x, "differs by 10^-30",
           at={x: 0})
    _false(cls, "near_rational_factor", Rational(10**30 + 1, 10**30) * y, y,
           "differs by y/10^30", at={y: 1})
    _false(cls, "near_ramanujan_constant", exp(pi * sqrt(163)), sp.Integer(640320**3 + 744),
           "e^(pi sqrt 163) = 640320^3 + 744 - 7.5e-13")
    _false(cls, "near_pi_approximation", pi, Rational(355, 113), "355/113 - pi = 2.7e-7")
    _false(cls, "near_binomial_coefficient", (x + 1) ** 10, sp.expand((x + 1) ** 10) + x**5,
           "the x^5 coefficient is 252, not 253", at={x: 1})
    partial = sum(1 / (x + kk) for kk in range(1, 13))
    _false(cls, "near_partial_fractions", partial, sp.together(partial) + Rational(1, 10**30),
           "differs by 10^-30", at={x: 0})
    _false(cls, "near_nested_radical", sqrt(2) + sqrt(3),
           sqrt(5 + 2 * sqrt(6)) + Rational(1, 10**30), "differs by 10^-30")
    _false(cls, "near_float_lookalike", Rational(5404319552844595, 2**54) * x,
           Rational(3, 10) * x, "the double nearest 0.3 is not 3/10", at={x: 1})
    _false(cls, "near_float_literal", sp.Float("0.1") * 3 * x, Rational(3, 10) * x,
           "the binary float 0.1 times 3 is not exactly 3/10")
    _false(cls, "near_ceiling_minus_floor", sp.ceiling(x) - sp.floor(x), sp.Integer(1),
           "true except on the integers, a null set", at={x: 0})
    _false(cls, "near_exp_of_tiny", exp(Rational(1, 10**30)), sp.Integer(1),
           "exp(10^-30) - 1 = 10^-30 + ...")
    _false(cls, "near_gaussian_exponents",
           exp(-x**2 / 2) * exp(x**2 / 2 + Rational(1, 10**20)), sp.Integer(1),
           "the exponents sum to 10^-20", at={x: 0})
    _false(cls, "near_binomial_sign", sp.expand((x - y) ** 9),
           sp.expand((x - y) ** 9) + 2 * 126 * x**4 * y**5,
           "one coefficient's sign flipped", at={x: 1, y: 1})


# ----------------------------------------------------------------------------- score matching
def _score_matching_planted() -> None:
    cls = "score_matching_planted"
    marginal = alpha**2 * tau**2 + sigma**2
    post_var = tau**2 * sigma**2 / marginal
    _false(cls, "sm_posterior_variance_alpha_not_squared", post_var,
           1 / (1 / tau**2 + alpha / sigma**2), "alpha^2 is needed: 4/5 vs 2/3",
           at={alpha: 2, sigma: 1, tau: 1})
    _false(cls, "sm_posterior_variance_factor_two", post_var,
           2 / (1 / tau**2 + alpha**2 / sigma**2), "off by a factor 2",
           at={alpha: 1, sigma: 1, tau: 1})
    mass = Integral(q(x), (x, -oo, oo))
    _false(cls, "sm_jensen_reversed", Integral(q(x) * (h(x) - s_hat) ** 2, (x, -oo, oo)),
           (Integral(q(x) * h(x), (x, -oo, oo)) - s_hat) ** 2,
           "Jensen goes the other way: 1 <= 0 for q = N(0,1), h(x) = x, S = 0",
           relation="<=", assumptions=(Eq(mass, 1), q(x) >= 0),
           at={q: sp.Lambda(t, _normal(t, 0, 1)), h: sp.Lambda(t, t), s_hat: 0})
    _false(cls, "sm_constant_without_fisher", alpha**2 / sigma**4 * post_var, 1 / sigma**2,
           "C(t) = 1/sigma^2 - 1/(alpha^2 tau^2 + sigma^2): the Fisher term is missing",
           at={alpha: 1, sigma: 1, tau: 1})
    h_cond, s_model = -eps / sigma, -e_hat / sigma
    _false(cls, "sm_eps_weighting_sigma", (e_hat - eps) ** 2, sigma * (s_model - h_cond) ** 2,
           "the epsilon-loss weight is sigma^2, not sigma", at={e_hat: 1, eps: 0, sigma: 2})
    score = -(x - alpha * mu) / marginal
    post_mean = mu + alpha * tau**2 * (x - alpha * mu) / marginal
    _false(cls, "sm_tweedie_sign", (x - sigma**2 * score) / alpha, post_mean,
           "Tweedie adds sigma^2 * score", at={x: 1, mu: 0, alpha: 1, sigma: 1, tau: 1})
    _false(cls, "sm_gaussian_normalisation_constant",
           Integral(exp(-(x - mu) ** 2 / (2 * tau**2)), (x, -oo, oo)), sqrt(pi * tau**2),
           "the constant is sqrt(2 pi tau^2)", at={mu: 0, tau: 1})
    _false(cls, "sm_second_moment", Integral(x**2 * _normal(x, mu, tau**2), (x, -oo, oo)),
           mu**2, "the second moment is mu^2 + tau^2", at={mu: 0, tau: 1})
    _false(cls, "sm_kernel_score_sign", Derivative(log(_normal(x, alpha * x0, sigma**2)), x),
           (x - alpha * x0) / sigma**2, "the kernel score is -(x - alpha x0)/sigma^2",
           at={x: 1, x0: 0, alpha: 1, sigma: 1})
    _false(cls, "sm_marginal_score_sigma_not_squared",
           Derivative(log(_normal(x, alpha * mu, marginal)), x),
           -(x - alpha * mu) / (alpha**2 * tau**2 + sigma), "the marginal variance has sigma^2",
           at={x: 1, mu: 0, alpha: 1, sigma: 2, tau: 1})
    x0_hat = sp.Symbol("x0_hat", real=True)
    s_x0 = -(x - alpha * x0_hat) / sigma**2
    h_x0 = -(x - alpha * x0) / sigma**2
    _false(cls, "sm_x0_weighting_sigma_squared", (x0_hat - x0) ** 2,
           sigma**2 / alpha**2 * (s_x0 - h_x0) ** 2,
           "the x0-loss weight is sigma^4/alpha^2", at={x0_hat: 1, x0: 0, x: 0, alpha: 1,
                                                         sigma: 2})
    _false(cls, "sm_eps_score_power", (-(x - alpha * x0) / sigma**2).subs(
        x, alpha * x0 + sigma * eps), -eps / sigma**2, "h = -eps/sigma",
           at={eps: 1, x0: 0, alpha: 1, sigma: 2})
    _false(cls, "sm_gap_sign", 1 / sigma**2 - 1 / marginal, sp.Integer(0),
           "C(t) >= 0: it is positive for every alpha, tau > 0", relation="<=",
           at={alpha: 1, sigma: 1, tau: 1})
    _false(cls, "sm_bayes_posterior_variance_wrong",
           _normal(x, alpha * x0, sigma**2) * _normal(x0, mu, tau**2),
           _normal(x, alpha * mu, marginal) * _normal(x0, post_mean, sigma**2 / marginal),
           "the posterior variance is tau^2 sigma^2/(alpha^2 tau^2 + sigma^2)",
           at={x: 0, x0: 0, mu: 0, alpha: 1, sigma: 1, tau: 2})


for _build in (_noncommutative, _symbol_identity, _branch_cuts, _fubini, _leibniz, _kinks,
               _limits, _nonnegativity, _assumption_binding, _bound_variable_facts,
               _contradictory_assumptions,
               _near_identity, _score_matching_planted):
    _build()
del _build
