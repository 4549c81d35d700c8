"""smeq.proofs: an exact, SymPy-checked certificate that SM = DSM + a θ-free constant.

A derivation is data: an ordered tuple of :class:`Step` objects, each decided by the one generic
checker :func:`check` (Vincent 2011; docs/design.md §2). :func:`certify` checks every registered
derivation and returns a :class:`Certificate`. Closed forms are declared once in
:data:`CLOSED_FORMS` and evaluated numerically through ``lambdify``.
"""

from ._certificate import Certificate as Certificate
from ._certificate import StepResult as StepResult
from ._certificate import certify as certify
from ._check import check as check
from ._errors import InvalidArgument as InvalidArgument
from ._errors import InvalidStep as InvalidStep
from ._errors import SmeqError as SmeqError
from ._registry import CLOSED_FORMS as CLOSED_FORMS
from ._registry import DERIVATIONS as DERIVATIONS
from ._registry import ClosedForm as ClosedForm
from ._registry import closed_form as closed_form
from ._registry import derivation as derivation
from ._registry import register_closed_form as register_closed_form
from ._step import HYPOTHESES as HYPOTHESES
from ._step import Derivation as Derivation
from ._step import Step as Step
from ._step import Verdict as Verdict
from .catalogue.mixture_constant import mixture_constant as mixture_constant

# The catalogue: importing each module registers its derivations and closed forms.
from . import catalogue  # noqa: F401  isort: skip

__all__ = [
    "CLOSED_FORMS",
    "DERIVATIONS",
    "HYPOTHESES",
    "Certificate",
    "ClosedForm",
    "Derivation",
    "InvalidArgument",
    "InvalidStep",
    "SmeqError",
    "Step",
    "StepResult",
    "Verdict",
    "certify",
    "check",
    "closed_form",
    "derivation",
    "mixture_constant",
    "register_closed_form",
]
