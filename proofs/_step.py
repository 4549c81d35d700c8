"""The objects a derivation is made of: :class:`Step`, :class:`Verdict` and :class:`Derivation`.

A step is an immutable claim ``lhs <relation> rhs`` with its justification (a rule and a citation)
and the assumptions under which it holds; one generic checker (:func:`proofs.check`) decides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

__all__ = ["HYPOTHESES", "RELATIONS", "Derivation", "Status", "Step", "Verdict"]

#: The relations a step may state, read as ``lhs <relation> rhs``.
RELATIONS = ("==", "<=", ">=")

Status = Literal["proved", "refuted", "undecided"]

#: The named regularity hypotheses a step may state. The checker uses a rewrite that needs one of
#: them only when the step states it, and lists in ``Verdict.hypotheses`` every one it used, so
#: "proved" always reads "proved from these stated hypotheses". (The order of integration is
#: exchanged only where the checker itself shows the integrand nonnegative: Tonelli.)
HYPOTHESES = {
    "leibniz": "differentiation under the integral sign: the integrand's derivative in the "
               "parameter is dominated by an integrable function (dominated convergence; "
               "Leibniz's rule)",
}


@dataclass(frozen=True)
class Step:
    """One step of a derivation: ``lhs <relation> rhs`` under ``assumptions``.

    ``lhs``/``rhs`` are SymPy expressions or matrices. ``assumptions`` is a tuple of SymPy
    relations such as ``sigma > 0`` or ``p0(x0) >= 0``. For an inequality, ``witness`` may give
    the nonnegative form that ``rhs - lhs`` equals (a sum-of-squares style certificate); the
    checker proves the equality exactly and the nonnegativity structurally. ``hypotheses`` names
    regularity conditions the step relies on (keys of :data:`HYPOTHESES`, e.g. ``"leibniz"`` for
    differentiation under the integral sign); the checker uses such a rewrite only when it is
    stated here.
    """

    name: str
    lhs: Any
    rhs: Any
    relation: str = "=="
    justification: str = ""
    assumptions: tuple[Any, ...] = ()
    witness: Any = None
    hypotheses: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}: {sp.sstr(self.lhs)} {self.relation} {sp.sstr(self.rhs)}"


@dataclass(frozen=True)
class Verdict:
    """What :func:`proofs.check` decided about one step.

    ``ok`` is true only for a step proved by an exact route (``method`` starts with ``exact:``).
    A refuted step and an undecided one are both not ``ok``; ``detail`` says which side is off and
    why, with numeric evidence where it could be computed. ``hypotheses`` lists every stated
    hypothesis of the step that the proof used.
    """

    ok: bool
    method: str
    detail: str
    status: Status = "undecided"
    seconds: float = 0.0
    hypotheses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Derivation:
    """An ordered tuple of steps that together prove one claim for one data distribution."""

    name: str
    steps: tuple[Step, ...]
    claim: str = ""
    citation: str = ""
    data: str = ""
    tags: tuple[str, ...] = field(default=())
