"""The guard's verdict on one loss: :class:`LossReport`."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LossReport"]


def _t(t: float) -> str:
    return str(int(t)) if float(t).is_integer() and abs(t) >= 1 else f"{t:.4g}"


@dataclass(frozen=True)
class LossReport:
    """Whether ``loss`` is score matching: loss(θ) = λ(t)·SM(θ) + a θ-free constant, per x_t.

    ``weighting`` maps each checked t to the fitted λ(t) (score space, docs/design.md §2);
    ``residual`` is the largest relative misfit over t (at ``worst_t``); ``matched`` names the
    known weighting λ(t) follows up to the constant ``scale`` (``matched_text`` spells it, e.g.
    ``eps: λ = σ²/D with D=3``); ``expected`` is the weighting asked for; ``findings`` are the
    problems that make ``ok`` false, ``warnings`` problems that do not (low-precision probes).
    ``draws`` (:func:`numeric.check_training_step` only) says which of the step's draws is t and
    which the noise, e.g. ``t ← torch.rand([B]) (draw 1)``.
    ``gradient_residual`` is the gradient check's relative ‖∇L̄ − λ∇S‖/‖λ∇S‖ (None when it did
    not run; ``notes`` then say why), ``batch`` what the batch checks found (e.g. "scalar loss =
    mean of its per-sample values"), ``metric`` the diagonal weighting Λ(t) (one entry per
    dimension or channel) when no scalar λ(t) fits but a metric one does.
    """

    ok: bool
    weighting: dict[float, float]
    residual: float
    worst_t: float | None
    matched: str | None
    scale: float | None = None
    matched_text: str | None = None
    expected: str | None = None
    findings: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    threshold: float = 0.0
    target: str = "loss"
    residuals: dict[float, float] = field(default_factory=dict)
    mode: str = "coupled"
    draws: tuple[str, ...] = ()
    gradient_residual: float | None = None
    batch: str | None = None
    notes: tuple[str, ...] = ()
    metric: dict[float, tuple[float, ...]] | None = None

    def summary(self) -> str:
        """Text a person can act on: the verdict, the measured weighting, every finding."""
        head = "PASS" if self.ok else "FAIL"
        lines = [f"{head}: {self.target} "
                 + ("is score matching" if self.ok else "is NOT a correct score-matching loss")
                 + f" ({self.mode} check, largest residual {self.residual:.2g}"
                 + (f" at t={_t(self.worst_t)}" if self.worst_t is not None else "")
                 + f", threshold {self.threshold:.0e})"]
        if self.matched_text:
            lines.append(f"  measured weighting: {self.matched_text}")
        elif self.weighting:
            pairs = ", ".join(f"{_t(t)}: {v:.4g}" for t, v in list(self.weighting.items())[:8])
            lines.append(f"  measured weighting λ(t) (no known form): {{{pairs}}}")
        if self.metric:
            rows = "; ".join(f"t={_t(t)}: (" + ", ".join(f"{v:.4g}" for v in diag[:8])
                             + (", …" if len(diag) > 8 else "") + ")"
                             for t, diag in list(self.metric.items())[:4])
            lines.append(f"  metric weighting diag Λ(t): {rows}")
        if self.gradient_residual is not None:
            lines.append(f"  gradient check: ∇loss = λ(t)·∇SM, relative residual "
                         f"{self.gradient_residual:.2g}")
        if self.batch:
            lines.append(f"  batch check: {self.batch}")
        if self.expected is not None:
            lines.append(f"  expected weighting: {self.expected}")
        lines += [f"  - {f}" for f in self.findings]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
