"""The one generic checker: :func:`check` decides any :class:`~proofs.Step`.

An equality is *proved* only by an exact route (no ``simplify``, no floats), cheapest first:

1. ``exact:polynomial``: polynomial identity with denominators cleared, in symengine: every
   integral, sum and non-exponential function is an opaque generator, each sum in a denominator
   one opaque base; multiply by all denominators and expand; also, for square roots, the
   numerator with each radical eliminated by its defining polynomial;
2. ``exact:linearity``: integrals and sums are canonicalised by linearity (split over the terms
   of the expanded integrand, factors free of the bound variables pulled out, iterated integrals
   joined in their stated order, the order exchanged only for a manifestly nonnegative integrand
   (Tonelli), bound variables renamed canonically, Gaussian integrals and polynomial sums by
   rule) and the rest is 0 by route 1; or integrals over one domain are merged and their merged
   integrand is 0;
3. ``exact:log``: both sides are products of positive factors and their logarithms agree;
4. ``exact:rational``: ``lhs - rhs`` has rational normal form 0 (SymPy ``cancel``);
5. ``exact:trig``: trigonometric and hyperbolic functions are rewritten as exponentials;
6. ``exact:rewrite``: an equality assumption on a non-symbol (a normalisation ``∫q = 1``) applied
   after canonicalisation, bound variables compared up to renaming;
7. ``exact:cases``: Min, Max and Abs split on the sign of their argument.

The slower SymPy routes (3-7) start only within a CPU budget per check (``_ROUTE_SECONDS``).

Soundness, before and after the routes:

* a pre-pass (:mod:`._sanitize`) returns *undecided* for what no route may touch (non-commutative
  symbols, ``Limit`` other than "exponential beats power", derivatives of Abs/Max/Piecewise/...)
  and renames apart distinct symbols that share a name;
* every rewrite checks its condition (:mod:`._forms`, :mod:`._calculus`): integer powers only
  when splitting exponentials, the order of integration exchanged only under Tonelli,
  derivatives under an integral only with the stated hypothesis ``"leibniz"``;
  ``Verdict.hypotheses`` lists those used;
* the refutation gate (:mod:`._gate`) evaluates the step as written at random points of the
  assumption region, in complex arithmetic, before any ``ok = True``; a mismatch makes the
  verdict refuted. It can only block.

**Budget.** No call runs more than ``budget_seconds`` CPU seconds (default
:data:`BUDGET_SECONDS`): on the main thread a ``SIGPROF`` timer (``setitimer(ITIMER_PROF)``)
interrupts whatever runs, and an expansion whose multinomial term count is too large is refused
before it starts; elsewhere the budget is checked between routes and probes (see
:mod:`._budget`). A step cut off is undecided, and the verdict says so.

An inequality ``lhs <= rhs`` is proved (``exact:nonnegative``) only when ``rhs - lhs``, or the
``witness`` it is proved equal to, is manifestly real and nonnegative under the assumptions: sums,
products and integrals of nonnegative factors (over real ordered ranges whose bound variable's
declared sign agrees with the range), even powers of provably real expressions, positive bases to
real powers, exponentials of real arguments.

Everything else is *undecided* and never ``ok``: the verdict carries numeric evidence (the sides
evaluated at sample points, with any undefined function replaced by a concrete positive one, and
integrals by bounded float64 quadrature within ``_PROBE_SECONDS`` of CPU), and a sample where the
claim fails makes the verdict *refuted*, naming the side that is larger and, where every probe
shows it, the shape of the error (a constant factor, a sign flip, a constant term).
"""


from __future__ import annotations

import time
from dataclasses import replace

import sympy as sp

from .._errors import InvalidStep, SmeqError, invalid
from .._step import HYPOTHESES, Step, Verdict
from ._assumptions import _apply_assumptions
from ._budget import BUDGET_SECONDS, MAX_TERMS, OutOfBudget, budget, refused_sizes
from ._calculus import Refused, evaluate
from ._equality import _check_equality
from ._evidence import _short
from ._gate import gate
from ._inequality import _check_inequality
from ._sanitize import refusal, rename_apart, step_prefix
from ._validate import _validate

__all__ = ["BUDGET_SECONDS", "check"]


def check(step: Step, *, budget_seconds: float = BUDGET_SECONDS) -> Verdict:
    """Decide ``step`` by an exact route, or report it refuted or undecided with numeric evidence.

    ``budget_seconds`` caps the CPU time of the call whatever the input (default
    :data:`BUDGET_SECONDS`; see the module docstring for the mechanism); a step cut off is
    undecided. Raises :class:`~proofs.InvalidStep` for a malformed step: sides that are not
    SymPy objects, a relation other than ``==``, ``<=``, ``>=``, an unknown hypothesis, or
    assumptions that contradict each other.
    """
    start = time.perf_counter()
    try:
        with budget(budget_seconds):
            _validate(step)
            _validate_hypotheses(step)
            verdict = _decide(step)
    except OutOfBudget as exc:
        verdict = Verdict(ok=False, method="evidence:budget", status="undecided",
                          detail=f"undecided: cut off after the CPU budget of {budget_seconds:g} s "
                          f"({exc}); nothing was proved")
    return replace(verdict, seconds=time.perf_counter() - start)


def _validate_hypotheses(step: Step) -> None:
    if not isinstance(step.hypotheses, tuple) or any(h not in HYPOTHESES
                                                     for h in step.hypotheses):
        raise invalid("hypotheses", f"step {step.name!r} states {step.hypotheses!r}",
                      f"pass a tuple of names from proofs.HYPOTHESES: {sorted(HYPOTHESES)}",
                      InvalidStep)


def _undecided(why: str) -> Verdict:
    return Verdict(ok=False, method="evidence:unsupported", status="undecided",
                   detail=f"undecided: {why}; nothing was proved")


def _decide(step: Step) -> Verdict:
    why = refusal(step)
    if why is not None:
        return _undecided(why)
    step = rename_apart(step)
    with step_prefix(step):
        return _decide_renamed(step)


def _decide_renamed(step: Step) -> Verdict:
    used: set[str] = set()
    try:
        evaluated = replace(step, lhs=evaluate(step.lhs, step.hypotheses, used),
                            rhs=evaluate(step.rhs, step.hypotheses, used),
                            witness=evaluate(step.witness, step.hypotheses, used))
    except Refused as exc:
        _apply_assumptions(step)   # contradictory assumptions are still an error
        return _undecided(str(exc))
    except Exception as exc:  # a SymPy failure while differentiating: nothing is proved
        _apply_assumptions(step)
        return _undecided(f"differentiating failed ({type(exc).__name__}: {_short(exc)})")
    lhs, rhs, witness, context = _apply_assumptions(evaluated)
    for side in (lhs, rhs, witness):
        if isinstance(side, (sp.Basic, sp.MatrixBase)) and side.has(sp.nan, sp.zoo):
            return _undecided("a side is undefined (nan or zoo) once its derivatives are "
                              "evaluated, e.g. a derivative at a singular point")
    try:
        if step.relation == "==":
            verdict = _check_equality(lhs, rhs, context)
        elif step.relation == "<=":
            verdict = _check_inequality(lhs, rhs, witness, context, ("lhs", "rhs"))
        else:
            verdict = _check_inequality(rhs, lhs, witness, context, ("rhs", "lhs"))
    except (SmeqError, OutOfBudget):
        raise
    except Exception as exc:  # a SymPy failure on a well-formed step: not proved, and said so
        verdict = Verdict(ok=False, method="evidence:error", status="undecided",
                          detail=f"undecided: the checker failed on this step "
                          f"({type(exc).__name__}: {_short(exc)}); nothing was proved")
    if not verdict.ok:
        sizes = refused_sizes()
        if sizes and verdict.status == "undecided":
            verdict = replace(verdict, detail=verdict.detail + f"; an expansion of about "
                              f"{max(sizes):.3g} terms was cut off before it started (more "
                              f"than {MAX_TERMS})")
        return verdict
    # the gate sees the step as written: a derivative under an integral is differentiated
    # numerically there, not by the Leibniz rule the route was allowed to use
    problem = gate(step if used else evaluated, context.equalities, context.renames)
    if problem is not None:
        return Verdict(ok=False, method="evidence:gate", status="refuted",
                       detail=f"refuted by the refutation gate (the step as written, evaluated "
                       f"numerically): {problem}; the exact route's rewriting was not valid here")
    return replace(verdict, hypotheses=tuple(sorted(used | context.used)))
