"""The refutation gate: a last numeric look at the step as written, which can only block.

Before any ``ok = True``, :func:`gate` evaluates the original step (symbols renamed apart, but
before any assumption is substituted and before any route's rewriting) at random points of the
assumption region, in complex arithmetic: a symbol without a ``real`` assumption gets complex
values, so branch cuts show (``exp(I*t/2)`` against ``sqrt(exp(I*t))``). Undefined functions are
replaced by several concrete stand-ins in turn (a normalised Gaussian density, a positive tilted
bump, and, for a function not declared real, a complex multiple of it); a point where a stated
condition fails, including a normalisation ``Eq(Integral(q), 1)``, is skipped. Any mismatch (an
equality off, an inequality reversed or complex-valued) blocks the proof: the verdict becomes
refuted. A gate that cannot evaluate anything grants nothing and blocks nothing; the proof then
rests on its exact route alone.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from .._step import Step
from ._calculus import Refused, evaluate
from ._common import _clock
from ._evidence import _Compiler, _GiveUp, _point_text

_SEED = 20250101
_GATE_SECONDS = 0.08   # the most CPU the gate spends on one step
_POINTS = 2            # points per stand-in family that must evaluate
_QUAD_NODES = 96       # Gauss-Legendre nodes of the gate's quadrature (checked against 192)
_REALS = [sp.Rational(n, d) for n, d in ((1, 2), (3, 2), (7, 3), (2, 5), (9, 7), (4, 1), (13, 4),
                                         (5, 6), (6, 1), (3, 10))]


_MP = {sp.exp: mpmath.exp, sp.log: mpmath.log, sp.sin: mpmath.sin, sp.cos: mpmath.cos,
       sp.tan: mpmath.tan, sp.sinh: mpmath.sinh, sp.cosh: mpmath.cosh, sp.tanh: mpmath.tanh,
       sp.atan: mpmath.atan, sp.erf: mpmath.erf, sp.gamma: mpmath.gamma, sp.Abs: abs,
       sp.sign: mpmath.sign, sp.re: mpmath.re, sp.im: mpmath.im, sp.conjugate: mpmath.conj,
       sp.sech: mpmath.sech, sp.cot: mpmath.cot, sp.atan2: lambda y, x: mpmath.atan2(y, x),
       sp.floor: mpmath.floor, sp.Heaviside: lambda v, h=0.5: mpmath.mpf(1) if v > 0 else
       (mpmath.mpf(0) if v < 0 else mpmath.mpf(h))}


class _Walker:
    """Evaluates expressions at a point by walking them (no code generation): mpmath for the
    algebra, the compiler's bounded quadrature for integrals and sums, central differences
    (with one Richardson step) for a derivative left under an integral."""

    def __init__(self, compiler: _Compiler, args: tuple[sp.Symbol, ...]) -> None:
        self.compiler, self.args = compiler, args
        self.nodes: dict[Any, Any] = {}

    def values(self, exprs: list[sp.Expr], values: list[Any]) -> list[Any]:
        env = dict(zip(self.args, values, strict=True))
        memo: dict[Any, Any] = {}
        return [self.walk(e, env, memo) for e in exprs]

    def walk(self, node: Any, env: dict[Any, Any], memo: dict[Any, Any]) -> Any:
        hit = memo.get(node)
        if hit is not None:
            return hit
        out = self._walk(node, env, memo)
        memo[node] = out
        return out

    def _walk(self, node: Any, env: dict[Any, Any], memo: dict[Any, Any]) -> Any:
        if node.is_Symbol:
            if node not in env:
                raise _GiveUp(f"no value for {node}")
            return env[node]
        if node.is_Integer:
            return mpmath.mpf(int(node))
        if node.is_Rational:
            return mpmath.mpf(node.p) / node.q
        if node is sp.I:
            return mpmath.mpc(0, 1)
        if node is sp.pi:
            return +mpmath.pi
        if node is sp.E:
            return mpmath.e
        if node.is_Number or node.is_NumberSymbol:
            return mpmath.mpmathify(complex(node))
        if isinstance(node, sp.Add):
            return mpmath.fsum(self.walk(a, env, memo) for a in node.args)
        if isinstance(node, sp.Mul):
            out = mpmath.mpf(1)
            for a in node.args:
                out *= self.walk(a, env, memo)
            return out
        if isinstance(node, sp.Pow):
            base = self.walk(node.base, env, memo)
            if node.exp.is_Integer:
                return base ** int(node.exp)
            return mpmath.power(base, self.walk(node.exp, env, memo))
        if isinstance(node, (sp.Integral, sp.Sum)):
            used = tuple(a for a in self.args if a in node.free_symbols)
            if node not in self.nodes:
                self.nodes[node] = self.compiler._limit_node(node, used)
            return mpmath.mpmathify(self.nodes[node](*[complex(env[a]) for a in used]))
        if isinstance(node, sp.Subs):
            inner = dict(env)
            for var, point in zip(node.variables, node.point, strict=True):
                inner[var] = self.walk(point, env, memo)
            return self.walk(node.expr, inner, {})
        if isinstance(node, sp.Derivative) and len(node.variable_count) == 1 \
                and node.variable_count[0][1] == 1:
            var = node.variable_count[0][0]
            at = env[var]
            h = mpmath.mpf("1e-3") * (1 + abs(at))

            def f(v: Any) -> Any:
                return self.walk(node.expr, {**env, var: v}, {})

            def central(step: Any) -> Any:
                return (f(at + step) - f(at - step)) / (2 * step)
            return (4 * central(h / 2) - central(h)) / 3
        fn = _MP.get(type(node))
        if fn is None:
            raise _GiveUp(f"cannot evaluate {type(node).__name__}")
        return fn(*[self.walk(a, env, memo) for a in node.args])


def _stand_ins(functions: set[AppliedUndef],
               normalised: bool) -> list[dict[AppliedUndef, sp.Expr]]:
    """Concrete stand-ins: a positive tilted bump (times a complex constant for a function not
    declared real, so that complex values show), and a normalised Gaussian density when the
    step states a normalisation."""
    families = []
    for kind in ("bump", "normal") if normalised else ("bump",):
        family = {}
        for f in functions:
            args = f.args
            if kind == "normal":
                value = sp.exp(-sum((a - sp.Rational(1, 5)) ** 2 for a in args) / 2) / (
                    2 * sp.pi) ** sp.Rational(len(args), 2)
            else:
                value = sp.exp(-sum(a**2 for a in args) / 2 + sp.Rational(3, 10) * sum(args)) * (
                    1 + sp.Rational(1, 4) * sum(args) ** 2)
            if not f.is_extended_real:
                value *= 1 + sp.I * sp.Rational(2, 3)
            family[f] = value
        families.append(family)
    return families


def _sample(symbols: list[sp.Symbol], rng: random.Random) -> dict[sp.Symbol, sp.Expr]:
    point: dict[sp.Symbol, sp.Expr] = {}
    for s in symbols:
        if s.is_integer:
            lo = 1 if s.is_positive else 0 if s.is_nonnegative else -3
            hi = -1 if s.is_negative else 0 if s.is_nonpositive else 4
            point[s] = sp.Integer(rng.randint(lo, hi))
            continue
        value = rng.choice(_REALS)
        if s.is_nonpositive or (not s.is_nonnegative and rng.random() < 0.5):
            value = -value
        if s.is_extended_real is None and not s.is_nonnegative and not s.is_nonpositive:
            value = value + sp.I * rng.choice(_REALS) * rng.choice((-1, 1))
        point[s] = value
    return point


def _number(fn: Any, values: list[Any]) -> Any:
    return _scalar(fn(*values))


def _scalar(out: Any) -> Any:
    out = mpmath.mpc(out) if isinstance(out, (complex, mpmath.mpc)) else mpmath.mpf(out)
    if not mpmath.isfinite(out):
        raise _GiveUp("not finite")
    return out


def gate(step: Step, equalities: dict[sp.Symbol, sp.Expr],
         renames: dict[sp.Symbol, sp.Symbol] | None = None) -> str | None:
    """A counterexample to ``step`` as written (text), or None when none was found.

    ``step`` is the step as written, symbols renamed apart, with derivatives evaluated by the
    rules of :mod:`._calculus` (exact differentiation, Leibniz's rule only where stated)."""
    deadline = _clock() + _GATE_SECONDS
    if renames:   # symbols carry the facts the assumptions state (Q.positive(u), u > 0)
        step = replace(step, lhs=step.lhs.xreplace(renames), rhs=step.rhs.xreplace(renames),
                       assumptions=tuple(a.xreplace(renames) if isinstance(a, sp.Basic) else a
                                         for a in step.assumptions))
        equalities = {renames.get(k, k): v.xreplace(renames) for k, v in equalities.items()}
    try:
        sides = _sides(step)
    except Refused:
        return None
    if sides is None:
        return None
    conditions = [c for c in step.assumptions if isinstance(c, sp.Basic)
                  and not isinstance(c, (sp.logic.boolalg.BooleanAtom,))]
    exprs = [e for pair in sides for e in pair]
    everything = exprs + [c.lhs - c.rhs for c in conditions if hasattr(c, "lhs")]
    functions = set().union(*(e.atoms(AppliedUndef) for e in everything))
    bound = sorted(equalities, key=sp.default_sort_key)
    free = sorted(set().union(*(e.free_symbols for e in everything),
                              *(v.free_symbols for v in equalities.values())) - set(bound),
                  key=sp.default_sort_key)
    rng = random.Random(_SEED)
    with mpmath.workdps(30):
        normalised = any(isinstance(c, sp.Eq) and c.has(sp.Integral, sp.Sum)
                         for c in conditions)
        for family in _stand_ins(functions, normalised):
            try:
                compiler = _Compiler(deadline, complex, _QUAD_NODES)
                concrete = [evaluate(e.xreplace(family), step.hypotheses, set(), refuse=False)
                            for e in everything]
                walker = _Walker(compiler, (*free, *bound))
                eq_walker = _Walker(compiler, tuple(free))
                eq_values = [equalities[s].xreplace(family) for s in bound]
            except Exception:  # a node the gate cannot evaluate: it blocks nothing
                continue
            found = 0
            for _ in range(_POINTS * 5):
                if found >= _POINTS or _clock() > deadline:
                    break
                point = _sample(free, rng)
                values = [_mp(point[s]) for s in free]
                try:
                    values += [_scalar(v) for v in eq_walker.values(eq_values, values)]
                    numbers = [_scalar(v) for v in walker.values(concrete, values)]
                except (_GiveUp, ArithmeticError, TypeError, ValueError, OverflowError,
                        ZeroDivisionError):
                    continue
                if not _holds(conditions, numbers[len(exprs):]):
                    continue
                found += 1
                rough = any(e.has(sp.Integral, sp.Sum) for e in exprs)
                problem = _mismatch(step.relation, sides, numbers[:len(exprs)],
                                    bool(family), rough,
                                    rough and any(e.has(sp.Derivative) for e in concrete))
                if problem:
                    return f"at {_point_text(point)}: {problem}"
    return None


def _mp(value: sp.Expr) -> Any:
    return mpmath.mpc(complex(value)) if value.has(sp.I) else mpmath.mpf(sp.Rational(value).p) \
        / sp.Rational(value).q


def _sides(step: Step) -> list[tuple[sp.Expr, sp.Expr]] | None:
    lhs, rhs = step.lhs, step.rhs
    if isinstance(lhs, sp.MatrixBase):
        return list(zip(list(lhs), list(rhs), strict=True))
    if not isinstance(lhs, sp.Expr) or not isinstance(rhs, sp.Expr):
        return None
    return [(lhs, rhs)]


def _holds(conditions: list[Any], differences: list[Any]) -> bool:
    """Whether the point satisfies every condition (``lhs - rhs`` values in order)."""
    relational = [c for c in conditions if hasattr(c, "lhs")]
    for condition, value in zip(relational, differences, strict=True):
        if isinstance(value, mpmath.mpc):
            if abs(value.imag) > 1e-12 * max(1, abs(value)):
                return False
            value = value.real
        tol = mpmath.mpf(10) ** -9 * max(1, abs(value))
        if isinstance(condition, sp.Eq) and abs(value) > tol:
            return False
        if isinstance(condition, sp.Ne) and abs(value) <= tol:
            return False
        if isinstance(condition, (sp.StrictGreaterThan, sp.GreaterThan)) and value < -tol:
            return False
        if isinstance(condition, (sp.StrictLessThan, sp.LessThan)) and value > tol:
            return False
    return True


def _mismatch(relation: str, sides: list[tuple[sp.Expr, sp.Expr]], numbers: list[Any],
              standin: bool, quadrature: bool, differences: bool = False) -> str | None:
    # quadrature is float64 (1e-10 of the integrand's scale); a central difference of it is
    # good to about 1e-6
    tol = mpmath.mpf(10) ** (-4 if differences else -7 if quadrature else -12)
    for index, _ in enumerate(sides):
        left, right = numbers[2 * index], numbers[2 * index + 1]
        scale = max(abs(left), abs(right), 1)
        if relation == "==":
            if abs(left - right) > tol * scale:
                return (f"lhs = {mpmath.nstr(left, 8)} but rhs = {mpmath.nstr(right, 8)}"
                        + (" (undefined functions replaced by stand-ins)" if standin else ""))
            continue
        small, big = (left, right) if relation == "<=" else (right, left)
        for value in (small, big):
            if isinstance(value, mpmath.mpc) and abs(value.imag) > tol * scale:
                return f"a side takes the complex value {mpmath.nstr(value, 8)}"
        if (mpmath.re(small) - mpmath.re(big)) > tol * scale:
            return (f"the smaller side is {mpmath.nstr(mpmath.re(small), 8)} and the larger "
                    f"{mpmath.nstr(mpmath.re(big), 8)}")
    return None
