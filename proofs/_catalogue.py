"""Imports every catalogue module so that its derivations and closed forms register."""

import importlib

_MODULES = (
    "_any_prior",
    "_gaussian",
    "_mixture",
    "_finite_data",
    "_implicit_sliced",
    "_tweedie",
    "_weightings",
    "_schedules",
)

for _name in _MODULES:
    try:
        importlib.import_module(f"proofs.{_name}")
    except ModuleNotFoundError as _exc:  # pragma: no cover - only while the catalogue is built
        if _exc.name != f"proofs.{_name}":
            raise
