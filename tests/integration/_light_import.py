"""Import a library's submodules without its package ``__init__``, with stand-ins for modules
that are imported at module level but never called by the code under test.

Some libraries' ``__init__`` imports everything they ship (training loops, plotting, evaluation),
and with it dependencies that cannot or need not be installed beside the CPU torch. We register a
bare package object carrying the installed package's ``__path__``, so that ``package.sub`` imports
resolve normally but ``__init__`` never runs. Stand-ins exist only during that import (so nothing
else in the process mistakes them for the real module) and raise if anything calls into them.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any


def _unused(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{name} is a stand-in: its module is not installed for the "
                           "integration tests, and the losses under test never call it")
    return call


def _stand_in(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    def getattr_(attr: str) -> Callable[..., Any]:  # module-level __getattr__ (PEP 562)
        return _unused(f"{name}.{attr}")

    module.__getattr__ = getattr_  # type: ignore[method-assign]
    return module


@contextlib.contextmanager
def stand_ins(names: Sequence[str]) -> Iterator[None]:
    """Put stand-in modules for ``names`` (parents first) into ``sys.modules`` for the block."""
    made = [name for name in names if name not in sys.modules]
    for name in made:
        sys.modules[name] = _stand_in(name)
        parent, _, child = name.rpartition(".")
        if parent in made:
            setattr(sys.modules[parent], child, sys.modules[name])
    try:
        yield
    finally:
        for name in made:
            sys.modules.pop(name, None)


def submodules(package: str, names: Sequence[str], *,
               unused: Sequence[str] = ()) -> list[types.ModuleType]:
    """Import ``package.<name>`` for each name without running ``package/__init__.py``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{package} is not installed (run tests/integration/install.sh)")
    if package not in sys.modules:
        bare = types.ModuleType(package)
        bare.__path__ = list(spec.submodule_search_locations)
        bare.__spec__ = spec
        sys.modules[package] = bare
    with stand_ins(unused):
        return [importlib.import_module(f"{package}.{name}") for name in names]
