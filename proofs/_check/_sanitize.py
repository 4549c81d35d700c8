"""The pre-pass: constructs no route may touch, and symbols kept apart before anything else.

Runs before assumptions and routes, on the step as written:

* a non-commutative symbol or function, a ``Product`` or ``Order``, or a derivative of a
  function outside an allowlist of smooth ones (so Abs, Max, Min, Piecewise, sign, atan2, ...)
  in its variable makes the step *undecided*, naming the construct: the routes assume
  commutative smooth algebra;
* distinct symbols that share a name (``Symbol('x', positive=True)`` and ``Symbol('x',
  negative=True)``, a ``Dummy('x')`` and a ``Symbol('x')``) are renamed apart to fresh unique
  names with the same assumptions, so that no later conversion (symengine, ``lambdify``, the
  fresh generators of :func:`._forms._opaque`) can merge them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import sympy as sp

from .._step import Step

#: Functions that are smooth wherever they are defined: the only ones a derivative may meet.
#: Everything else (Abs, Max, Min, Piecewise, sign, floor, atan2, SingularityFunction, re,
#: conjugate, ...) has kinks, jumps or is not complex-differentiable, and is refused.
_SMOOTH = (sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.cot, sp.sinh, sp.cosh, sp.tanh, sp.coth,
           sp.sech, sp.csch, sp.sec, sp.csc, sp.atan, sp.erf, sp.erfc, sp.gamma, sp.loggamma,
           sp.polygamma, sp.core.function.AppliedUndef)
_UNSUPPORTED = (sp.Order, sp.Product)


def _parts(step: Step) -> list[Any]:
    out = [step.lhs, step.rhs, *step.assumptions]
    if step.witness is not None:
        out.append(step.witness)
    return [p for p in out if isinstance(p, (sp.Basic, sp.MatrixBase))]


def _nodes(value: Any) -> list[sp.Basic]:
    if isinstance(value, sp.MatrixBase):
        return [n for entry in value for n in sp.preorder_traversal(entry)]
    return list(sp.preorder_traversal(value))


def refusal(step: Step) -> str | None:
    """Why no route may decide ``step`` (a construct it does not support), or None."""
    for part in _parts(step):
        for node in _nodes(part):
            if isinstance(node, (sp.Symbol, sp.core.function.AppliedUndef)) \
                    and node.is_commutative is False:
                return (f"the non-commutative {node} is not supported (the exact routes assume "
                        "commutative algebra)")
            if isinstance(node, _UNSUPPORTED):
                return f"the construct {type(node).__name__} ({_brief(node)}) is not supported"
            if isinstance(node, sp.Derivative):
                variables = {v for v, _ in node.variable_count}
                kinks = [f for f in node.expr.atoms(sp.Function, sp.Max, sp.Min)
                         if not isinstance(f, _SMOOTH) and f.free_symbols & variables]
                kinks += [p for p in node.expr.atoms(sp.Piecewise) if p.free_symbols & variables]
                if kinks:
                    return (f"the derivative {_brief(node)} is of the non-smooth "
                            f"{type(kinks[0]).__name__} ({_brief(kinks[0])}), which has no "
                            "derivative at its kink; not supported")
    return None


def _brief(node: Any) -> str:
    text = sp.sstr(node, order="none")
    return text if len(text) <= 80 else text[:80] + "..."


def rename_apart(step: Step) -> Step:
    """The step with distinct same-named symbols renamed to fresh unique names."""
    symbols: set[sp.Symbol] = set()
    for part in _parts(step):
        for node in _nodes(part):
            if isinstance(node, sp.Symbol):
                symbols.add(node)
    by_name: dict[str, list[sp.Symbol]] = {}
    for symbol in symbols:
        by_name.setdefault(symbol.name, []).append(symbol)
    clashes = {name: group for name, group in by_name.items() if len(group) > 1}
    if not clashes:
        return step
    taken = set(by_name)
    renames: dict[sp.Symbol, sp.Symbol] = {}
    for name, group in clashes.items():
        for index, symbol in enumerate(sorted(group, key=sp.default_sort_key)):
            new_name = f"{name}_{index}"
            while new_name in taken:
                new_name += "_"
            taken.add(new_name)
            renames[symbol] = sp.Symbol(new_name, **symbol.assumptions0)

    def apply(value: Any) -> Any:
        return value.xreplace(renames) if isinstance(value, (sp.Basic, sp.MatrixBase)) else value

    return replace(step, lhs=apply(step.lhs), rhs=apply(step.rhs), witness=apply(step.witness),
                   assumptions=tuple(apply(a) for a in step.assumptions))


_current = threading.local()


@contextmanager
def step_prefix(step: Step) -> Iterator[None]:
    """Within one check, :func:`fresh_prefix` is the prefix that no symbol of ``step`` has:
    computed once, not once per route (the checker's own names never collide with each other:
    generators, radicals and bound variables carry different tags after the prefix)."""
    previous = getattr(_current, "prefix", None)
    _current.prefix = fresh_prefix(*_parts(step))
    try:
        yield
    finally:
        _current.prefix = previous


def fresh_prefix(*exprs: Any) -> str:
    """A name prefix that no symbol of ``exprs`` starts with: fresh generators cannot collide."""
    known = getattr(_current, "prefix", None)
    if known is not None:
        return str(known)
    names = set()
    for expr in exprs:
        if isinstance(expr, (sp.Basic, sp.MatrixBase)):
            names |= {s.name for s in expr.atoms(sp.Symbol)}
    prefix = "_smeq_"
    while any(n.startswith(prefix) for n in names):
        prefix = "_" + prefix
    return prefix
