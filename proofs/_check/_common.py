"""Constants and the clock shared by every route of the checker."""

from __future__ import annotations

import time
from collections.abc import Callable

import sympy as sp

#: Budgets are CPU seconds of this process, so that a verdict does not depend on how busy the
#: machine is (two xdist workers, other jobs): the same step gets the same verdict everywhere.
_clock = time.process_time

_Route = Callable[[sp.Expr], bool]
_MAX_DETAIL = 240
_PROBES = 6
_DIGITS = 20

