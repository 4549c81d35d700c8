"""Validation of a step's form: sides, relation, shapes, assumptions."""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.logic.boolalg import Boolean, BooleanAtom

from .._errors import InvalidStep, invalid
from .._step import RELATIONS, Step


def _is_symbolic(value: Any) -> bool:
    # Expressions and matrices only: relations, And, True, Lambda and other non-expressions are
    # out (a Symbol is also a Boolean in SymPy, but it is an Expr).
    return isinstance(value, (sp.Expr, sp.MatrixBase)) and not isinstance(value, sp.Lambda)


def _validate(step: Step) -> None:
    if not isinstance(step, Step):
        raise invalid("step", f"got {type(step).__name__}, not a proofs.Step",
                      "build it as proofs.Step(name, lhs, rhs, relation, justification, "
                      "assumptions)",
                      InvalidStep)
    if not isinstance(step.name, str) or not step.name:
        raise invalid("name", f"got {step.name!r}", "give the step a non-empty string name",
                      InvalidStep)
    for side in ("lhs", "rhs"):
        value = getattr(step, side)
        if not _is_symbolic(value):
            raise invalid(side, f"step {step.name!r} has a {type(value).__name__} "
                          f"({value!r:.60}), not a SymPy expression",
                          "pass SymPy objects, e.g. sympy.Integer(1) or sympy.Rational(1, 3); "
                          "floats are inexact and strings are not parsed", InvalidStep)
    for side in ("lhs", "rhs", "witness"):
        value = getattr(step, side)
        if isinstance(value, (sp.Basic, sp.MatrixBase)) and value.has(sp.nan, sp.zoo):
            raise invalid(side, f"step {step.name!r} contains nan or zoo (an undefined value)",
                          "state the step where both sides are defined", InvalidStep)
        if isinstance(value, (sp.Basic, sp.MatrixBase)) and value.atoms(sp.Float):
            raise invalid(side, f"step {step.name!r} contains the float "
                          f"{sorted(value.atoms(sp.Float), key=str)[0]}, which no exact route "
                          "can use", "write numbers as sympy.Rational(p, q) or sympy.Integer(n)",
                          InvalidStep)
    if step.relation not in RELATIONS:
        raise invalid("relation", f"step {step.name!r} has relation {step.relation!r}",
                      f"use one of {', '.join(RELATIONS)}", InvalidStep)
    lhs_matrix = isinstance(step.lhs, sp.MatrixBase)
    if lhs_matrix != isinstance(step.rhs, sp.MatrixBase) or (
            lhs_matrix and step.lhs.shape != step.rhs.shape):
        raise invalid("rhs", f"step {step.name!r} compares shapes "
                      f"{getattr(step.lhs, 'shape', ())} and {getattr(step.rhs, 'shape', ())}",
                      "make both sides scalars or matrices of one shape", InvalidStep)
    if lhs_matrix and step.relation != "==":
        raise invalid("relation", f"step {step.name!r} orders matrices with {step.relation}",
                      "state the inequality on a scalar, e.g. a trace or a quadratic form",
                      InvalidStep)
    if step.witness is not None and (step.relation == "==" or not _is_symbolic(step.witness)):
        raise invalid("witness", f"step {step.name!r} has witness {step.witness!r:.60}",
                      "give a witness only for an inequality, as a SymPy expression equal to the "
                      "larger side minus the smaller", InvalidStep)
    if not isinstance(step.assumptions, tuple):
        raise invalid("assumptions", f"got {type(step.assumptions).__name__}",
                      "pass a tuple of SymPy relations such as (sigma > 0,)", InvalidStep)
    for assumption in step.assumptions:
        if assumption is sp.false:
            raise invalid("assumptions", f"step {step.name!r} assumes something SymPy already "
                          "evaluates to False (e.g. sigma < 0 for a positive sigma), which "
                          "contradicts the symbols' own assumptions", "drop or fix the "
                          "condition", InvalidStep)
        if assumption is sp.true:   # already implied by the symbols' assumptions
            continue
        if isinstance(assumption, sp.Basic) and assumption.atoms(sp.Float):
            raise invalid("assumptions", f"step {step.name!r} assumes {assumption}, with a "
                          "float", "write numbers as sympy.Rational(p, q)", InvalidStep)
        if not isinstance(assumption, Boolean) or isinstance(assumption, BooleanAtom):
            raise invalid("assumptions", f"step {step.name!r} has {assumption!r:.60}, which is "
                          "not a SymPy relation", "write assumptions like sympy.Symbol('s') > 0, "
                          "not strings or Python booleans", InvalidStep)


