"""The certificate: every registered derivation checked step by step, printable as text or
Markdown with LaTeX."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ._check import check
from ._errors import invalid
from ._registry import DERIVATIONS
from ._step import HYPOTHESES, Derivation, Step, Verdict

__all__ = ["Certificate", "StepResult", "certify"]


@dataclass(frozen=True)
class StepResult:
    """One checked step: where it sits, the step itself and its verdict."""

    derivation: Derivation
    step: Step
    verdict: Verdict

    @property
    def id(self) -> str:
        """The id that reads like the maths: ``<derivation>::<step>``."""
        return f"{self.derivation.name}::{self.step.name}"


@dataclass(frozen=True)
class Certificate:
    """All verdicts of one run; ``ok`` only when every step is proved exactly."""

    results: tuple[StepResult, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.verdict.ok for r in self.results)

    @property
    def hypotheses(self) -> tuple[str, ...]:
        """Every named hypothesis some proved step used: "proved" means "proved from these"."""
        return tuple(sorted({h for r in self.results for h in r.verdict.hypotheses}))

    @property
    def failures(self) -> tuple[StepResult, ...]:
        return tuple(r for r in self.results if not r.verdict.ok)

    def _grouped(self) -> dict[str, list[StepResult]]:
        groups: dict[str, list[StepResult]] = {}
        for result in self.results:
            groups.setdefault(result.derivation.name, []).append(result)
        return groups

    def to_text(self) -> str:
        """The certificate as plain text: derivation, step, rule, verdict, method, time."""
        lines = ["smeq certificate: SM = DSM + a θ-free constant (Vincent 2011)", ""]
        for name, results in self._grouped().items():
            head = results[0].derivation
            lines.append(f"{name}  —  {head.claim}  [{head.citation}]")
            for r in results:
                mark = "PROVED " if r.verdict.ok else r.verdict.status.upper().ljust(7)
                lines.append(f"  {mark} {r.step.name:<34} {r.verdict.method:<20} "
                             f"{r.verdict.seconds:6.3f} s  {r.step.justification}")
                if r.verdict.hypotheses:
                    lines.append(f"          from the stated hypotheses: "
                                 f"{', '.join(r.verdict.hypotheses)}")
                if not r.verdict.ok:
                    lines.append(f"          {r.verdict.detail}")
            lines.append("")
        used = self.hypotheses
        if used:
            lines.append("Hypotheses used (each stated by the steps that use it): " + "; ".join(
                f"{name} ({sum(name in r.verdict.hypotheses for r in self.results)} steps): "
                f"{HYPOTHESES[name]}" for name in used))
            lines.append("")
        proved = sum(r.verdict.ok for r in self.results)
        lines.append(f"{proved}/{len(self.results)} steps proved in {len(self._grouped())} "
                     f"derivations, {self.seconds:.2f} s total: "
                     + ("CERTIFIED" if self.ok else "NOT CERTIFIED"))
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The certificate as Markdown, each step's claim typeset in LaTeX."""
        out = ["# smeq certificate", "",
               "Every step below is decided by `proofs.check`; only exact routes count as proved.",
               ""]
        for name, results in self._grouped().items():
            head = results[0].derivation
            out += [f"## `{name}`", "", f"{head.claim} ({head.citation})", "",
                    "| step | claim | rule | verdict | method | time |",
                    "|---|---|---|---|---|---|"]
            for r in results:
                claim = _latex_claim(r.step)
                verdict = "proved" if r.verdict.ok else f"**{r.verdict.status}**"
                if r.verdict.hypotheses:
                    verdict += f" (from {', '.join(r.verdict.hypotheses)})"
                out.append(f"| `{r.step.name}` | ${claim}$ | {r.step.justification} | {verdict} "
                           f"| `{r.verdict.method}` | {r.verdict.seconds:.3f} s |")
            out.append("")
        proved = sum(r.verdict.ok for r in self.results)
        out.append(f"**{proved}/{len(self.results)} steps proved, {self.seconds:.2f} s: "
                   + ("certified** " if self.ok else "not certified**"))
        return "\n".join(out) + "\n"


_RELATION_TEX = {"==": "=", "<=": r"\le", ">=": r"\ge"}


def _latex_claim(step: Step) -> str:
    text = f"{sp.latex(step.lhs)} {_RELATION_TEX[step.relation]} {sp.latex(step.rhs)}"
    text = text.replace("|", r"\vert ").replace("\n", " ")
    return text if len(text) < 600 else text[:600] + r"\ldots"


def _names(names: Any) -> list[str]:
    """``names`` as a non-empty list of strings (a bare string is refused, not split into
    characters; an empty list would certify nothing and so is refused too)."""
    fix = 'pass a list of names from proofs.DERIVATIONS, e.g. ["sm_dsm[any-p0-1d]"], or None'
    if isinstance(names, str | bytes):
        raise invalid("names", f"got the string {names!r}, not a list of names", fix)
    try:
        chosen = list(names)
    except TypeError:
        raise invalid("names", f"got {type(names).__name__} {names!r}, not a list of names",
                      fix) from None
    if not chosen:
        raise invalid("names", "is empty: a certificate of no derivation proves nothing", fix)
    bad = [n for n in chosen if not isinstance(n, str)]
    if bad:
        raise invalid("names", f"has non-string entries {bad[:3]}", fix)
    return chosen


def certify(names: Iterable[str] | None = None) -> Certificate:
    """Check every step of the named derivations (all registered ones by default)."""
    chosen = list(DERIVATIONS) if names is None else _names(names)
    unknown = [n for n in chosen if n not in DERIVATIONS]
    if unknown:
        raise invalid("names", f"unknown derivations {unknown}",
                      f"pick from proofs.DERIVATIONS: {sorted(DERIVATIONS)}")
    start = time.perf_counter()
    results = []
    for name in chosen:
        derivation = DERIVATIONS[name]
        results += [StepResult(derivation, step, check(step)) for step in derivation.steps]
    return Certificate(tuple(results), time.perf_counter() - start)
