"""Numeric evidence, never a proof: bounded probes that make a verdict refuted or undecided."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from .._step import Verdict
from ._assumptions import _Context
from ._common import _DIGITS, _MAX_DETAIL, _PROBES, _clock
from ._forms import _canonical_limits, _prepare, _rational_normal

# Evidence only: never turns a step green. Every probe is bounded: integrals are evaluated by
# vectorised Gauss-Legendre quadrature in float64 (accepted only when n and 2n nodes agree), and
# every integrand evaluation checks a deadline, so a probe over nested integrals of a stand-in
# density gives up ("undecided") instead of hanging.
_PROBE_VALUES = [sp.Rational(n, d) for n, d in ((1, 2), (3, 2), (2, 3), (5, 4), (7, 3), (2, 5),
                                                 (9, 7), (4, 1), (3, 10), (11, 6))]
_PROBE_SECONDS = 1.0   # budget for all numeric probes of one check
_QUAD_NODES = 96       # Gauss-Legendre nodes (checked against twice as many)
_MAX_SUM_TERMS = 2000
_SEED = 20110701       # fixed: verdicts are deterministic


class _GiveUp(Exception):
    """A probe could not be evaluated (unknown node, out of time, not a real number)."""


def _concrete_density(args: tuple[sp.Expr, ...]) -> sp.Expr:
    """A positive stand-in for an undefined density: a tilted Gaussian bump."""
    return sp.exp(-sum(a**2 for a in args) / 2 + sp.Rational(3, 10) * sum(args)) * (
        1 + sp.Rational(1, 4) * sum(args) ** 2)


def _sample_point(symbols: list[sp.Symbol], rng: random.Random) -> dict[sp.Symbol, sp.Expr]:
    point = {}
    for symbol in symbols:
        value = rng.choice(_PROBE_VALUES)
        if symbol.is_integer:
            value = sp.Integer(rng.randint(1, 4))
        elif symbol.is_nonpositive:
            value = -value
        elif not symbol.is_nonnegative and rng.random() < 0.5:
            value = -value
        point[symbol] = value
    return point


class _Compiler:
    """Turns an expression into a function of ``args``: mpmath for the outer expression, NumPy
    for integrands (vectorised Gauss-Legendre quadrature, checked for convergence). Raises
    :class:`_GiveUp` past ``deadline`` or when a node cannot be evaluated."""

    def __init__(self, deadline: float, dtype: type = float, nodes: int = _QUAD_NODES) -> None:
        self.deadline = deadline
        self.count = 0
        self.dtype = dtype   # complex for the refutation gate
        self.nodes = nodes   # Gauss-Legendre nodes (checked against twice as many)
        self.lifted: dict[tuple[Any, ...], tuple[str, Callable[..., Any]]] = {}
        self.extra: dict[str, Callable[..., Any]] = {}   # inner limits of multiple integrals

    def compile(self, expr: sp.Expr, args: tuple[sp.Symbol, ...],
                backend: str = "mpmath") -> Callable[..., Any]:
        table: dict[str, Callable[..., Any]] = {}
        seen: dict[Any, Any] = {}

        def lift(node: Any) -> Any:
            if node in seen:
                return seen[node]
            if isinstance(node, (sp.Integral, sp.Sum)):
                used = tuple(a for a in args if a in node.free_symbols)
                key = (node, used)
                if key not in self.lifted:   # each integral compiled once, however often used
                    self.count += 1
                    self.lifted[key] = (f"_smeq_node{self.count}", _elementwise(
                        _memo(self._limit_node(node, used)), self.dtype))
                name, fn = self.lifted[key]
                table[name] = fn
                out = sp.Function(name)(*used)
            elif not node.args or isinstance(node, sp.Symbol):
                out = node
            else:
                new = [lift(a) for a in node.args]
                out = node.func(*new) if any(n is not o for n, o in zip(new, node.args,
                                                                        strict=True)) else node
            seen[node] = out
            return out

        lifted = lift(expr)
        known = {**self.extra, **table}
        stray = {f for f in lifted.atoms(AppliedUndef) if f.func.__name__ not in known}
        if stray or lifted.has(sp.Derivative) or lifted.free_symbols - set(args):
            raise _GiveUp(f"cannot evaluate {_short(lifted)}")
        return sp.lambdify(args, lifted, modules=[known, backend], docstring_limit=0)

    def _limit_node(self, node: Any, args: tuple[sp.Symbol, ...]) -> Callable[..., Any]:
        if len(node.limits) > 1:   # innermost limit first, as a function of the outer ones
            inner = node.func(node.function, node.limits[0])
            outer_vars = [limit[0] for limit in node.limits[1:]]
            used = tuple(a for a in (*args, *outer_vars) if a in inner.free_symbols)
            self.count += 1
            name = f"_smeq_node{self.count}"
            self.extra[name] = _elementwise(_memo(self._limit_node(inner, used)), self.dtype)
            # a placeholder, not an Integral: SymPy would flatten Integral(Integral(...)) back
            return self._limit_node(node.func(sp.Function(name)(*used), *node.limits[1:]), args)
        if len(node.limits[0]) != 3:
            raise _GiveUp("an integral or sum without limits")
        var, low, high = node.limits[0]
        keep = [i for i, a in enumerate(args) if a != var]
        body = self.compile(node.function, (*(args[i] for i in keep), var), "numpy")
        low_f, high_f = self.compile(low, args), self.compile(high, args)
        deadline, dtype, nodes = self.deadline, self.dtype, self.nodes

        def evaluate(vals: tuple[Any, ...], u: Any) -> Any:
            if _clock() > deadline:
                raise _GiveUp("out of time")
            out = body(*[dtype(vals[i]) for i in keep], np.asarray(u, dtype=dtype))
            return np.broadcast_to(np.asarray(out, dtype=dtype), np.shape(u))

        if isinstance(node, sp.Integral):
            def integral(*vals: Any) -> Any:
                return _quadrature(lambda u: evaluate(vals, u), _real_limit(low_f(*vals)),
                                   _real_limit(high_f(*vals)), nodes)
            return integral

        def total(*vals: Any) -> Any:
            lo, hi = low_f(*vals), high_f(*vals)
            if not (mpmath.isint(lo) and mpmath.isint(hi)) or hi - lo > _MAX_SUM_TERMS:
                raise _GiveUp("a sum with non-integer or too many terms")
            terms = evaluate(vals, np.arange(int(lo), int(hi) + 1, dtype=float))
            return dtype(np.sum(terms))
        return total


def _real_limit(value: Any) -> float:
    """An integration limit as a float; a complex one cannot be integrated over."""
    if isinstance(value, (complex, mpmath.mpc)) and value.imag != 0:
        raise _GiveUp("a complex integration limit")
    return float(value.real if isinstance(value, (complex, mpmath.mpc)) else value)


_NODES = {n: np.polynomial.legendre.leggauss(n) for n in (_QUAD_NODES, 2 * _QUAD_NODES)}


def _quadrature(f: Callable[[Any], Any], low: float, high: float,
                nodes: int = _QUAD_NODES) -> float:
    """Gauss-Legendre on [low, high] (infinite ends mapped by u/(1-u²)), at n and 2n nodes;
    gives up unless the two agree."""
    results = []
    for n in (nodes, 2 * nodes):
        u, w = _NODES[n]
        if np.isfinite(low) and np.isfinite(high):
            x, jac = low + (high - low) * (u + 1) / 2, (high - low) / 2 * np.ones_like(u)
        elif not np.isfinite(low) and not np.isfinite(high):
            x, jac = u / (1 - u**2), (1 + u**2) / (1 - u**2) ** 2
        else:
            v = (u + 1) / 2                       # [0, 1)
            step, jac = v / (1 - v), 0.5 / (1 - v) ** 2
            x = low + step if np.isfinite(low) else high - step
        with np.errstate(all="ignore"):
            values = f(x) * jac * w
        if not np.all(np.isfinite(values)):
            raise _GiveUp("integrand not finite at a quadrature node")
        total = np.sum(values)
        results.append((total if np.iscomplexobj(total) else float(total),
                        float(np.sum(np.abs(values)))))
    (coarse, _), (fine, scale) = results
    if abs(coarse - fine) > 1e-10 * scale + 1e-300:
        raise _GiveUp("quadrature did not converge")
    return fine


def _elementwise(fn: Callable[..., Any], dtype: type = float) -> Callable[..., Any]:
    """Let a scalar node function take NumPy arrays (one call per element)."""

    def call(*vals: Any) -> Any:
        if not any(isinstance(v, np.ndarray) for v in vals):
            return fn(*vals)
        arrays = np.broadcast_arrays(*[np.asarray(v, dtype=dtype) for v in vals])
        flat = [fn(*row) for row in zip(*(a.ravel() for a in arrays), strict=True)]
        return np.asarray(flat, dtype=dtype).reshape(arrays[0].shape)
    return call


def _memo(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Cache a node's value by its arguments: an inner integral free of the outer variable is
    computed once, not once per quadrature node."""
    cache: dict[tuple[Any, ...], Any] = {}

    def cached(*vals: Any) -> Any:
        if vals not in cache:
            cache[vals] = fn(*vals)
        return cache[vals]
    return cached


def _compile_sides(exprs: list[sp.Expr], symbols: tuple[sp.Symbol, ...],
                   deadline: float) -> list[Callable[..., Any]] | None:
    compiler = _Compiler(deadline)
    out = []
    for expr in exprs:
        undefined = {f: _concrete_density(f.args) for f in expr.atoms(AppliedUndef)}
        concrete = _prepare(expr.xreplace(undefined)) if undefined else _prepare(expr)
        try:
            out.append(compiler.compile(concrete, symbols))
        except Exception:
            return None
    return out


def _value(fn: Callable[..., Any], point: dict[sp.Symbol, sp.Expr]) -> Any:
    vals = [mpmath.mpf(v.p) / v.q if v.is_Rational else mpmath.mpf(sp.N(v, _DIGITS))
            for v in point.values()]
    value = fn(*vals)
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > 1e-12 * max(1, abs(value.real)):
            raise _GiveUp("complex value")
        value = value.real
    value = mpmath.mpf(value)
    if not mpmath.isfinite(value):
        raise _GiveUp("not finite")
    return value


def _probes(exprs: list[sp.Expr], context: _Context) -> tuple[list[tuple[dict, list[Any]]], bool]:
    """Up to ``_PROBES`` sample points with every expression's value, and whether the probes
    ran out of time."""
    deadline = _clock() + _PROBE_SECONDS
    symbols = tuple(sorted(set().union(*(e.free_symbols for e in exprs)),
                           key=sp.default_sort_key))
    rng = random.Random(_SEED)
    out: list[tuple[dict, list[Any]]] = []
    with mpmath.workdps(_DIGITS):
        functions = _compile_sides(exprs, symbols, deadline)
        if functions is None:
            return out, False
        for _ in range(_PROBES * 6):
            if len(out) >= _PROBES:
                break
            if _clock() > deadline:
                return out, True
            point = _sample_point(list(symbols), rng)
            if any(c.xreplace(point) is sp.false for c in context.conditions):
                continue
            if any(lhs.has(sp.Integral, sp.Sum) or (lhs - rhs).xreplace(point) != 0
                   for lhs, rhs in context.rewrites):
                continue   # off the assumed equalities (or unknown there): not a sample
            try:
                values = [_value(fn, point) for fn in functions]
            except _GiveUp as exc:
                if str(exc) == "out of time":
                    return out, True
                continue
            except (ArithmeticError, TypeError, ValueError):
                continue
            out.append((point, values))
    return out, False


def _close(a: Any, b: Any, loose: bool) -> bool:
    tol = mpmath.mpf(10) ** (-8 if loose else -(_DIGITS - 5))
    return bool(abs(a - b) <= tol * max(abs(a), abs(b), 1))


def _short(expr: Any) -> str:
    text = sp.sstr(expr, order="none")
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."


def _residual_expr(diff: sp.Expr) -> sp.Expr:
    try:
        return _rational_normal(_canonical_limits(_prepare(diff)))
    except Exception:  # no normal form within the size guard: the difference as it is
        return diff


def _residual(diff: sp.Expr) -> str:
    return _short(_residual_expr(diff))


def _num(value: Any) -> str:
    return mpmath.nstr(value, 6)


def _pattern(pairs: list[tuple[Any, Any]], loose: bool,
             names: tuple[str, str] = ("lhs", "rhs")) -> str:
    """Name the shape of a disagreement seen at every probe: a factor, a sign, an offset."""
    if len(pairs) < 2:
        return ""
    if all(r != 0 for _, r in pairs):
        ratios = [lv / r for lv, r in pairs]
        if all(_close(q, ratios[0], loose) for q in ratios):
            if _close(ratios[0], -1, loose):
                return f"; {names[0]} = -{names[1]} at every probe: a sign flip"
            return (f"; {names[0]}/{names[1]} = {_num(ratios[0])} at every probe: off by a "
                    "constant factor")
    offsets = [lv - r for lv, r in pairs]
    if all(_close(o, offsets[0], loose) for o in offsets):
        return (f"; {names[0]} - {names[1]} = {_num(offsets[0])} at every probe: off by a "
                "constant term")
    return ""


def _undecided_equality(lhs: sp.Expr, rhs: sp.Expr, context: _Context, where: str,
                        names: tuple[str, str] = ("lhs", "rhs")) -> Verdict:
    """Refuted (with the side that is larger and the shape of the error) or undecided."""
    exact = _residual_expr(lhs - rhs)
    residual = _short(exact)
    if exact.is_number and exact.is_zero is False and not exact.has(sp.Integral, sp.Sum) \
            and not context.rewrites:
        # lhs - rhs is exactly a nonzero constant (rational normal form): refuted, not "close"
        return Verdict(ok=False, method="evidence:counterexample", status="refuted",
                       detail=f"refuted{where}: {names[0]} - {names[1]} reduces exactly to the "
                       f"nonzero constant {residual}, so {names[0]} != {names[1]} everywhere")
    loose = bool(lhs.has(sp.Integral, sp.Sum) or rhs.has(sp.Integral, sp.Sum))
    probes, timed_out = _probes([lhs, rhs], context)
    bad = [(point, left, right) for point, (left, right) in probes
           if not _close(left, right, loose)]
    if bad:
        point, left, right = bad[0]
        larger = names[0] if left > right else names[1]
        shape = _pattern([(lv, r) for _, lv, r in bad], loose, names) if len(bad) == len(probes) \
            else ""
        return Verdict(
            ok=False, method="evidence:counterexample", status="refuted",
            detail=f"refuted{where}: {names[0]} != {names[1]}: at {_point_text(point)}, "
            f"{names[0]} = {_num(left)} and {names[1]} = {_num(right)} ({larger} is larger)"
            f"{shape}; their difference reduces to {residual}, not 0")
    if probes:
        evidence = f"both sides agree numerically at {len(probes)} probe(s)"
    elif timed_out:
        evidence = f"numeric probes gave up after {_PROBE_SECONDS:g} s"
    else:
        evidence = "numeric probes could not be evaluated"
    return Verdict(ok=False, method="evidence:numeric", status="undecided",
                   detail=f"undecided{where}: no exact route reduced {names[0]} - ({names[1]}) = "
                   f"{residual} to 0; {evidence} (evidence, not proof)")


def _undecided_inequality(small: sp.Expr, big: sp.Expr, context: _Context, reason: str,
                          names: tuple[str, str] = ("lhs", "rhs")) -> Verdict:
    loose = bool(small.has(sp.Integral, sp.Sum) or big.has(sp.Integral, sp.Sum))
    probes, timed_out = _probes([small, big], context)
    for point, (low, high) in probes:
        if low > high and not _close(low, high, loose):
            return Verdict(
                ok=False, method="evidence:counterexample", status="refuted",
                detail=f"refuted: {names[0]} (claimed the smaller side) is larger: at "
                f"{_point_text(point)}: {names[0]} = {_num(low)} > {names[1]} = {_num(high)}; "
                f"{reason}")
    evidence = (f"numeric probes gave up after {_PROBE_SECONDS:g} s" if timed_out and not probes
                else f"{len(probes)} numeric probe(s) do not contradict it")
    return Verdict(ok=False, method="evidence:numeric", status="undecided",
                   detail=f"undecided: {reason}; {names[1]} - {names[0]} = "
                   f"{_residual(big - small)}; {evidence} (evidence, not proof)")


def _point_text(point: dict[sp.Symbol, sp.Expr]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "(no free symbols)"
