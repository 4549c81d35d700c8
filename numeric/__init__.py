"""smeq.numeric: exact oracles, estimators and property tests for SM = DSM + C(t).

Gaussian-mixture data with closed-form score and posterior, noise schedules, replayable score
networks, Monte Carlo and posterior-coupled estimators (docs/design.md §3), Hypothesis strategies
(:mod:`numeric.strategies`) and the regression guard for other projects' losses.
"""

from ._coupling import CoupledBatch as CoupledBatch
from ._coupling import coupled_batch as coupled_batch
from ._empirical import EmpiricalDistribution as EmpiricalDistribution
from ._errors import DtypeError as DtypeError
from ._errors import InvalidArgument as InvalidArgument
from ._errors import ShapeError as ShapeError
from ._errors import SmeqError as SmeqError
from ._estimators import Estimate as Estimate
from ._estimators import dsm_coupled as dsm_coupled
from ._estimators import dsm_mc as dsm_mc
from ._estimators import implicit_sm as implicit_sm
from ._estimators import ratio_score as ratio_score
from ._estimators import ratio_sm as ratio_sm
from ._estimators import sliced_sm as sliced_sm
from ._estimators import sm_coupled as sm_coupled
from ._estimators import sm_exact as sm_exact
from ._mixture import GaussianMixture as GaussianMixture
from ._mixture import Posterior as Posterior
from ._networks import LinearScore as LinearScore
from ._networks import PolynomialScore as PolynomialScore
from ._networks import ScoreMLP as ScoreMLP
from ._networks import random_score_network as random_score_network
from ._schedules import Schedule as Schedule
from ._tolerances import TOLERANCES as TOLERANCES
from ._tolerances import Tolerance as Tolerance
from ._tolerances import tolerance as tolerance
from .guard import LossReport as LossReport
from .guard import assert_score_matching_loss as assert_score_matching_loss
from .guard import check_loss as check_loss
from .guard import check_training_step as check_training_step
from .guard import swap_attribute as swap_attribute

__all__ = [
    "TOLERANCES",
    "CoupledBatch",
    "DtypeError",
    "EmpiricalDistribution",
    "Estimate",
    "GaussianMixture",
    "InvalidArgument",
    "LinearScore",
    "LossReport",
    "PolynomialScore",
    "Posterior",
    "Schedule",
    "ScoreMLP",
    "ShapeError",
    "SmeqError",
    "Tolerance",
    "assert_score_matching_loss",
    "check_loss",
    "check_training_step",
    "coupled_batch",
    "dsm_coupled",
    "dsm_mc",
    "implicit_sm",
    "random_score_network",
    "ratio_score",
    "ratio_sm",
    "sliced_sm",
    "sm_coupled",
    "sm_exact",
    "swap_attribute",
    "tolerance",
]
