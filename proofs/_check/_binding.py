"""Bound variables: substitution that respects them, and alpha-renaming to a canonical form.

An integral or sum binds its variables; a derivative binds the variables it differentiates in
(``Derivative(x*y, x)`` is a function of the point ``x``, not of the symbol inside). Substituting
an assumption ``Eq(x, y)`` must therefore leave bound occurrences alone and must not let a free
``y`` be captured by a binder of ``y``. Two integrals that differ only in the name of their
variable are the same number (alpha-equivalence); :func:`canonical_bound` renames every bound
variable to a canonical name so that such integrals compare equal.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

_BINDERS = (sp.Integral, sp.Sum, sp.Derivative, sp.Subs, sp.Lambda)


def bound_of(node: sp.Basic) -> set[sp.Symbol]:
    if isinstance(node, (sp.Integral, sp.Sum)):
        return {limit[0] for limit in node.limits}
    if isinstance(node, sp.Derivative):
        return {v for v, _ in node.variable_count}
    if isinstance(node, sp.Subs):
        return set(node.variables)
    if isinstance(node, sp.Lambda):
        return set(node.variables)
    return set()


def subs_free(expr: Any, mapping: dict[sp.Basic, sp.Basic]) -> Any:
    """Replace free occurrences of ``mapping``'s keys, never a bound one, never capturing."""
    if not mapping:
        return expr
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: subs_free(e, mapping))
    if not isinstance(expr, sp.Basic):
        return expr
    return _subs(expr, mapping)


def _subs(node: sp.Basic, mapping: dict[sp.Basic, sp.Basic]) -> sp.Basic:
    if node in mapping:
        return mapping[node]
    if not node.args:
        return node
    if isinstance(node, _BINDERS):
        bound = bound_of(node)
        inner = {k: v for k, v in mapping.items()
                 if not (k.free_symbols & bound) and not (v.free_symbols & bound)}
        if isinstance(node, (sp.Integral, sp.Sum)):
            body = _subs(node.function, inner)
            limits = []
            for position, limit in enumerate(node.limits):
                # a limit is read outside its variable and the inner ones, inside the outer ones
                outer = {lim[0] for lim in node.limits[position + 1:]}
                here = {k: v for k, v in mapping.items()
                        if not (k.free_symbols & outer) and not (v.free_symbols & outer)}
                limits.append((limit[0], *(_subs(e, here) for e in limit[1:])))
            return node.func(body, *limits)
        if isinstance(node, sp.Subs):
            points = tuple(_subs(p, mapping) for p in node.point)
            return sp.Subs(_subs(node.expr, inner), node.variables, points)
        if isinstance(node, sp.Derivative):
            if inner != mapping:   # a bound variable is involved: leave the node as it is
                return node
            return node.func(_subs(node.expr, inner), *node.variable_count)
        return node
    args = [_subs(a, mapping) for a in node.args]
    if all(a is b for a, b in zip(args, node.args, strict=True)):
        return node
    return node.func(*args)


def _height(node: sp.Basic) -> int:
    below = [n for n in node.atoms(sp.Integral, sp.Sum) if n is not node]
    inner = node.function.atoms(sp.Integral, sp.Sum) if hasattr(node, "function") else below
    return 1 + max((_height(n) for n in inner), default=0)


def canonical_bound(expr: Any, prefix: str, keep_names: bool = False) -> Any:
    """Rename each integral's/sum's variables to ``<prefix>b<height>_<position>`` with the
    assumptions its range gives it (real; nonnegative or nonpositive from the limits; integer for
    a sum), so that alpha-equivalent nodes compare equal. With ``keep_names``, only the
    assumptions change (the name stays, so that a later sort by name still sees it)."""
    if not isinstance(expr, sp.Basic) or not expr.has(sp.Integral, sp.Sum):
        return expr

    def canon(node: Any) -> Any:
        height = _height(node)
        renames: dict[sp.Symbol, sp.Symbol] = {}
        for position, limit in enumerate(node.limits):
            name = limit[0].name if keep_names else f"{prefix}b{height}_{position}"
            renames[limit[0]] = sp.Symbol(name, **_range_facts(node, limit))
        # a limit is read outside its own variable and the inner ones: only the variables of
        # the limits after it (the outer ones) are bound there
        new_limits = []
        for position, limit in enumerate(node.limits):
            outer = {v: renames[v] for v in (lim[0] for lim in node.limits[position + 1:])}
            new_limits.append((renames[limit[0]], *(e.xreplace(outer) for e in limit[1:])))
        body = node.function.xreplace(renames)
        return node.func(body, *new_limits)

    return expr.replace(lambda e: isinstance(e, (sp.Integral, sp.Sum)), canon)


def _range_facts(node: Any, limit: tuple[Any, ...]) -> dict[str, bool]:
    """What the range of a bound variable tells about it: real when both limits are real,
    nonnegative (nonpositive) when both are, integer for a sum from an integer; nothing
    otherwise (a reversed or complex range says nothing more)."""
    if len(limit) != 3:
        return {}
    low, high = limit[1], limit[2]
    if isinstance(node, sp.Sum):
        facts: dict[str, bool] = {"integer": True} if low.is_integer and (
            high.is_integer or high in (sp.oo, -sp.oo)) else {}
    elif low.is_extended_real and high.is_extended_real:
        facts = {"real": True}
    else:
        return {}
    if low.is_extended_nonnegative and high.is_extended_nonnegative:
        facts["nonnegative"] = True
    elif low.is_extended_nonpositive and high.is_extended_nonpositive:
        facts["nonpositive"] = True
    return facts
