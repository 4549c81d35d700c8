"""smeq.numeric: exact oracles, estimators and property tests for SM = DSM + C(t).

Gaussian-mixture data with closed-form score and posterior, noise schedules, replayable score
networks, Monte Carlo and posterior-coupled estimators (shared/DESIGN.md §3), Hypothesis strategies
(:mod:`numeric.strategies`) and the regression guard for other projects' losses.
"""

from ._errors import DtypeError as DtypeError
from ._errors import InvalidArgument as InvalidArgument
from ._errors import ShapeError as ShapeError
from ._errors import SmeqError as SmeqError
from ._tolerances import TOLERANCES as TOLERANCES
from ._tolerances import Tolerance as Tolerance
from ._tolerances import tolerance as tolerance

__all__ = [
    "TOLERANCES",
    "DtypeError",
    "InvalidArgument",
    "ShapeError",
    "SmeqError",
    "Tolerance",
    "tolerance",
]
