"""The public surface: one sorted ``__all__`` per package; nothing private leaks or is missing."""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = ["proofs", "numeric", "numeric.strategies"]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_unique_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    public = list(module.__all__)
    assert public == sorted(public, key=_isort_key), f"{name}.__all__ is not sorted"
    assert len(public) == len(set(public)), f"{name}.__all__ has duplicates"
    missing = [n for n in public if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"
    private = [n for n in public if n.startswith("_")]
    assert not private, f"{name}.__all__ exports private names: {private}"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_attribute_is_declared(name: str) -> None:
    module = importlib.import_module(name)
    undeclared = sorted(
        attr for attr, value in vars(module).items()
        if not attr.startswith("_") and attr not in module.__all__
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", name).split(".")[0] == name.split(".")[0]
    )
    assert not undeclared, f"{name} has public names missing from __all__: {undeclared}"


def test_public_objects_are_documented() -> None:
    for name in PACKAGES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            value = getattr(module, attr)
            if callable(value):
                assert (value.__doc__ or "").strip(), f"{name}.{attr} has no docstring"
