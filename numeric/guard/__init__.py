"""The regression guard: decide that someone else's loss is λ(t)·SM + c(t), exactly.

Pipeline (docs/design.md, "The guard"): problem → posterior coupling → loss evaluation → fit of
λ(t) → match against the known weightings → report. Everything here is private to the guard
except the names re-exported by :mod:`numeric`.
"""

from ._guard import assert_score_matching_loss as assert_score_matching_loss
from ._guard import check_loss as check_loss
from ._report import LossReport as LossReport
from ._step_check import check_training_step as check_training_step
from ._step_check import swap_attribute as swap_attribute

__all__ = ["LossReport", "assert_score_matching_loss", "check_loss", "check_training_step",
           "swap_attribute"]
