"""The checks that ``smeq verify`` runs, as small named objects in one list (:data:`CHECKS`).

Each :class:`Check` has a name, a one-line claim with its citation and a function
``Context -> CheckResult``. The verdict table, the report and the tests all iterate over the same
list, so a test can inject a failing check. A check that needs a piece of ``numeric`` which is not
there FAILS and names the missing piece; nothing passes by default."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ['CHECKS', 'Z_FALSE_ALARM', 'Check', 'CheckResult', 'Context', 'Figure', 'register']


#: One-sided z threshold for every statistical assertion here: P(false alarm) ≈ 1e-7 each.
Z_FALSE_ALARM = 5.3


@dataclass(frozen=True)
class Context:
    """What every check receives: the seed, the device, and whether to run the quick sizes."""

    seed: int = 0
    device: str = "cpu"
    quick: bool = False
    dtype: torch.dtype = torch.float64

    def generator(self, stream: int) -> torch.Generator:
        """A fresh generator for ``stream``; one (seed, stream) always replays the same draws."""
        g = torch.Generator(device=self.device)
        g.manual_seed(self.seed * 1_000_003 + stream)
        return g

    def size(self, full: int, quick: int) -> int:
        """``full`` normally, ``quick`` under ``--quick``."""
        return quick if self.quick else full


@dataclass(frozen=True)
class Figure:
    """Data for one report figure; :mod:`numeric.verify._figures` draws ``kind`` from ``data``."""

    name: str
    title: str
    caption: str
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: a verdict, its headline figure and the data behind it."""

    ok: bool
    value: str
    detail: str = ""
    figure: Figure | None = None
    attachment: Any = None  # e.g. the proofs.Certificate, rendered in full by the report
    seconds: float = 0.0


@dataclass(frozen=True)
class Check:
    """A named check: ``function(context)`` returns its :class:`CheckResult`."""

    name: str
    claim: str
    function: Callable[[Context], CheckResult]
    tags: tuple[str, ...] = field(default=())

    def run(self, context: Context) -> CheckResult:
        """Run the check and time it; an exception is a failure whose detail says why."""
        start = time.perf_counter()
        try:
            result = self.function(context)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or str(exc)
            result = CheckResult(False, "missing piece",
                                 f"cannot run: {missing} is missing ({exc})")
        except Exception as exc:  # a crash is a failure, reported with where it happened
            where = traceback.extract_tb(exc.__traceback__)[-1]
            result = CheckResult(False, "error", f"{type(exc).__name__}: {exc} "
                                 f"(at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})")
        return CheckResult(result.ok, result.value, result.detail, result.figure,
                           result.attachment, time.perf_counter() - start)


#: The registry, in run order. Tests may pass their own list (``run(args, checks=[...])``).
CHECKS: list[Check] = []


def register(name: str, claim: str, *, tags: tuple[str, ...] = ()
             ) -> Callable[[Callable[[Context], CheckResult]], Callable[[Context], CheckResult]]:
    """Append ``function`` to :data:`CHECKS` under ``name``."""

    def decorate(function: Callable[[Context], CheckResult]) -> Callable[[Context], CheckResult]:
        CHECKS.append(Check(name, claim, function, tags))
        return function

    return decorate


# Run (and figure) order: the proof, then the figures in the order the report numbers them.
_ORDER = ("certificate", "sm_le_dsm", "constant_gap_training", "constant_gap_theta",
          "ratio_form_bias", "constant_closed_form", "gradient_equality", "implicit_sliced_sm",
          "guard_reference_losses")


# Importing a check module registers its checks; then they are put in run order.
from . import (  # noqa: E402, F401
    _check_constant,
    _check_estimators,
    _check_guard,
    _check_proofs,
)

CHECKS.sort(key=lambda check: _ORDER.index(check.name) if check.name in _ORDER else len(_ORDER))
