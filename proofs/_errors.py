"""The error hierarchy shared by ``proofs`` and ``numeric``.

Every library error is a :class:`SmeqError`. Messages name the argument, say what was wrong,
and propose the fix (the style of Hypothesis's ``InvalidArgument``).
"""

from __future__ import annotations

__all__ = ["InvalidArgument", "InvalidStep", "SmeqError", "invalid"]


class SmeqError(Exception):
    """Base class of every error smeq raises on purpose."""


class InvalidArgument(SmeqError, ValueError):
    """An argument to a public function was wrong; the message says which and how to fix it."""


class InvalidStep(InvalidArgument):
    """A :class:`proofs.Step` is malformed: non-SymPy sides, an unknown relation, or
    contradictory assumptions."""


def invalid(argument: str, problem: str, fix: str,
            cls: type[SmeqError] = InvalidArgument) -> SmeqError:
    """Build the one message format: ``argument `x`: <problem>. Fix: <fix>``."""
    return cls(f"argument `{argument}`: {problem}. Fix: {fix}")
