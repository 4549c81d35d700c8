"""The objects a derivation is made of: :class:`Step`, :class:`Verdict` and :class:`Derivation`.

A step is an immutable claim ``lhs <relation> rhs`` with its justification (a rule and a citation)
and the assumptions under which it holds; one generic checker (:func:`proofs.check`) decides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

__all__ = ["RELATIONS", "Derivation", "Status", "Step", "Verdict"]

#: The relations a step may state, read as ``lhs <relation> rhs``.
RELATIONS = ("==", "<=", ">=")

Status = Literal["proved", "refuted", "undecided"]


@dataclass(frozen=True)
class Step:
    """One step of a derivation: ``lhs <relation> rhs`` under ``assumptions``.

    ``lhs``/``rhs`` are SymPy expressions or matrices. ``assumptions`` is a tuple of SymPy
    relations such as ``sigma > 0`` or ``p0(x0) >= 0``. For an inequality, ``witness`` may give
    the nonnegative form that ``rhs - lhs`` equals (a sum-of-squares style certificate); the
    checker proves the equality exactly and the nonnegativity structurally.
    """

    name: str
    lhs: Any
    rhs: Any
    relation: str = "=="
    justification: str = ""
    assumptions: tuple[Any, ...] = ()
    witness: Any = None

    def __str__(self) -> str:
        return f"{self.name}: {sp.sstr(self.lhs)} {self.relation} {sp.sstr(self.rhs)}"


@dataclass(frozen=True)
class Verdict:
    """What :func:`proofs.check` decided about one step.

    ``ok`` is true only for a step proved by an exact route (``method`` starts with ``exact:``).
    A refuted step and an undecided one are both not ``ok``; ``detail`` says which side is off and
    why, with numeric evidence where it could be computed.
    """

    ok: bool
    method: str
    detail: str
    status: Status = "undecided"
    seconds: float = 0.0


@dataclass(frozen=True)
class Derivation:
    """An ordered tuple of steps that together prove one claim for one data distribution."""

    name: str
    steps: tuple[Step, ...]
    claim: str = ""
    citation: str = ""
    data: str = ""
    tags: tuple[str, ...] = field(default=())
