"""Route ``exact:cases``: Min, Max and Abs decided by splitting on the sign of their argument.

``Max(a, b)`` is ``a`` where ``a - b >= 0`` and ``b`` elsewhere, ``Min`` the other way round, and
``Abs(a)`` of a provably real ``a`` is ``a`` or ``-a``; the cases cover every point, so a
difference that is 0 in every case (by the cheap routes) is 0 everywhere. At most four splits
(16 cases); Max/Min of more than two arguments, or Abs of a possibly complex argument, are left
alone (definitions: Abramowitz & Stegun 3.1).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import sympy as sp

_MAX_SPLITS = 4


def _route_cases(diff: sp.Expr, is_zero: Callable[[sp.Expr], bool]) -> bool:
    nodes = sorted(diff.atoms(sp.Max, sp.Min, sp.Abs), key=sp.default_sort_key)
    if not nodes or len(nodes) > _MAX_SPLITS:
        return False
    if diff.has(sp.Integral, sp.Sum):
        return False
    # each node is (d, value where d >= 0, value where d < 0); nodes comparing the same two
    # things share one split (Max(x, 0) and Min(x, 0) both split on x >= 0)
    conditions: list[sp.Expr] = []
    splits: list[tuple[sp.Basic, int, sp.Expr, sp.Expr]] = []
    for node in nodes:
        if isinstance(node, sp.Abs):
            (arg,) = node.args
            if not arg.is_extended_real:
                return False
            d, pos, neg = arg, arg, -arg
        else:
            if len(node.args) != 2 or not all(a.is_extended_real for a in node.args):
                return False
            a, b = node.args
            d, pos, neg = (a - b, a, b) if isinstance(node, sp.Max) else (a - b, b, a)
        d = sp.expand(d)
        if d in conditions:
            splits.append((node, conditions.index(d), pos, neg))
        elif -d in conditions:   # the other case; at the tie d = 0 both values agree
            splits.append((node, conditions.index(-d), neg, pos))
        else:
            conditions.append(d)
            splits.append((node, len(conditions) - 1, pos, neg))
    if len(conditions) > _MAX_SPLITS:
        return False
    for choice in itertools.product((0, 1), repeat=len(conditions)):
        case = {node: (pos if choice[index] == 0 else neg)
                for node, index, pos, neg in splits}
        if not is_zero(diff.xreplace(case)):
            return False
    return True
