"""numeric's errors: the shared :class:`SmeqError` hierarchy plus shape and dtype errors."""

from __future__ import annotations

from proofs._errors import InvalidArgument, SmeqError, invalid

__all__ = ["DtypeError", "InvalidArgument", "ShapeError", "SmeqError", "invalid"]


class ShapeError(InvalidArgument):
    """A tensor had the wrong shape (a network's output, a batch, a covariance)."""


class DtypeError(InvalidArgument):
    """Tensors that must share a dtype or device did not."""
