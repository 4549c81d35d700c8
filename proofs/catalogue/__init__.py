"""The catalogue: one module per data family or topic; importing it registers every derivation.

Each module declares its derivations with :func:`proofs.derivation` and its closed forms with
:func:`proofs.register_closed_form`; the machinery (step, checker, registry, certificate) lives one
level up and never imports from here.
"""

from . import (  # noqa: F401  importing a module registers its derivations and closed forms
    any_prior,
    finite_data,
    gaussian,
    implicit_sliced,
    mixture,
    schedules,
    tweedie,
    weightings,
)

__all__: list[str] = []
