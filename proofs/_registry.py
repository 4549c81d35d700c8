"""The registries: :data:`DERIVATIONS` (name -> Derivation) and :data:`CLOSED_FORMS`.

Both are infrastructure only (sympy.stats keeps its machinery apart from its catalogue). Catalogue
modules register builders; a derivation's steps are built the first time it is looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from ._errors import invalid
from ._step import Derivation, Step

__all__ = ["CLOSED_FORMS", "DERIVATIONS", "ClosedForm", "closed_form", "derivation",
           "register_closed_form"]


class _LazyRegistry(Mapping[str, Derivation]):
    """A read-only mapping whose values are built on first access and then cached."""

    def __init__(self) -> None:
        self._builders: dict[str, Callable[[], Derivation]] = {}
        self._built: dict[str, Derivation] = {}

    def register(self, name: str, builder: Callable[[], Derivation]) -> None:
        if name in self._builders:
            raise invalid("name", f"derivation {name!r} is registered twice",
                          "give each derivation a unique name")
        self._builders[name] = builder

    def __getitem__(self, name: str) -> Derivation:
        if name not in self._builders:
            raise KeyError(f"no derivation named {name!r}; known: {sorted(self._builders)}")
        if name not in self._built:
            self._built[name] = self._builders[name]()
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)


DERIVATIONS: Mapping[str, Derivation] = _LazyRegistry()


def derivation(name: str, *, claim: str, citation: str, data: str = "",
               tags: tuple[str, ...] = ()) -> Callable[[Callable[[], tuple[Step, ...]]], Any]:
    """Register a function returning the ordered steps of derivation ``name``.

    ``name`` reads like the maths, e.g. ``score_identity[gaussian-prior]``; test ids are
    ``<name>::<step name>``.
    """

    def decorate(build: Callable[[], tuple[Step, ...]]) -> Callable[[], tuple[Step, ...]]:
        def builder() -> Derivation:
            return Derivation(name=name, steps=tuple(build()), claim=claim, citation=citation,
                              data=data, tags=tags)

        assert isinstance(DERIVATIONS, _LazyRegistry)
        DERIVATIONS.register(name, builder)
        return build

    return decorate


@dataclass(frozen=True)
class ClosedForm:
    """A closed form declared once: a SymPy expression in ``params``, with its citation.

    Call it with keyword arguments (``C(alpha=0.5, sigma=0.3, s=1.0, d=3)``) to evaluate it
    through ``lambdify``; ``backend`` chooses NumPy (vectorised, float64) or mpmath (high
    precision).
    """

    name: str
    expr: Any
    params: tuple[sp.Symbol, ...]
    citation: str = ""

    def lambdified(self, backend: str = "numpy") -> Callable[..., Any]:
        """The expression as a function of ``params`` in order (SymPy ``lambdify``)."""
        return _lambdify(self, backend)

    def __call__(self, backend: str = "numpy", **values: Any) -> Any:
        names = [p.name for p in self.params]
        missing = sorted(set(names) - set(values))
        extra = sorted(set(values) - set(names))
        if missing or extra:
            raise invalid("values", f"closed form {self.name!r} takes {names}; missing "
                          f"{missing}, unexpected {extra}", "pass exactly its parameters")
        fn = self.lambdified(backend)
        for symbol in self.params:
            _check_value(self.name, symbol, values[symbol.name])
        try:
            with np.errstate(all="ignore"):
                result = fn(*(values[n] for n in names))
        except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
            raise invalid("values", f"closed form {self.name!r} could not be evaluated at "
                          f"{values} ({type(exc).__name__}: {exc})",
                          "pass values inside its domain (every positive parameter > 0)") from exc
        if not _all_finite(result):
            raise invalid("values", f"closed form {self.name!r} is not finite at {values}",
                          "pass values inside its domain, or use backend='mpmath' where float64 "
                          "overflows")
        return result


def _check_value(form: str, symbol: sp.Symbol, value: Any) -> None:
    """A parameter value must be real, finite and meet its symbol's declared sign."""
    try:
        array = np.asarray(value, dtype=complex if np.iscomplexobj(value) else float)
    except (TypeError, ValueError):
        if isinstance(value, mpmath.mpf):
            array = np.asarray(float(value))
        else:
            raise invalid(symbol.name, f"got {value!r} for closed form {form!r}",
                          "pass a real number or an array of them") from None
    if np.iscomplexobj(array) or isinstance(value, mpmath.mpc):
        raise invalid(symbol.name, f"is complex for closed form {form!r}", "pass a real value")
    if not np.isfinite(array).all():
        raise invalid(symbol.name, f"is not finite ({value!r}) for closed form {form!r}",
                      "pass finite values")
    if symbol.is_positive and not (array > 0).all():
        raise invalid(symbol.name, f"must be > 0 for closed form {form!r}, got {value!r}",
                      f"pass {symbol.name} > 0")
    if symbol.is_nonnegative and not (array >= 0).all():
        raise invalid(symbol.name, f"must be >= 0 for closed form {form!r}, got {value!r}",
                      f"pass {symbol.name} >= 0")
    if symbol.is_integer and not (array == np.round(array)).all():
        raise invalid(symbol.name, f"must be an integer for closed form {form!r}, got {value!r}",
                      f"pass an integer {symbol.name}")


def _all_finite(result: Any) -> bool:
    if isinstance(result, (mpmath.mpf, mpmath.mpc)):
        return bool(mpmath.isfinite(result))
    try:
        return bool(np.isfinite(np.asarray(result, dtype=complex)).all())
    except (TypeError, ValueError):
        return True   # a value NumPy cannot read (a SymPy number): no claim either way


_LAMBDIFIED: dict[tuple[str, str], Callable[..., Any]] = {}


def _lambdify(form: ClosedForm, backend: str) -> Callable[..., Any]:
    if backend not in ("numpy", "mpmath"):
        raise invalid("backend", f"got {backend!r}", "use 'numpy' or 'mpmath'")
    key = (form.name, backend)
    if key not in _LAMBDIFIED:
        _LAMBDIFIED[key] = sp.lambdify(form.params, form.expr, modules=backend)
    return _LAMBDIFIED[key]


CLOSED_FORMS: dict[str, ClosedForm] = {}


def register_closed_form(name: str, expr: Any, params: tuple[sp.Symbol, ...], *,
                         citation: str = "") -> ClosedForm:
    """Declare a closed form once; derivations prove it, ``numeric`` evaluates it."""
    if name in CLOSED_FORMS:
        raise invalid("name", f"closed form {name!r} is declared twice",
                      "declare each closed form in exactly one module")
    missing = set(getattr(expr, "free_symbols", set())) - set(params)
    if missing:
        raise invalid("params", f"closed form {name!r} has free symbols {sorted(map(str, missing))}"
                      " not listed in params", "list every free symbol in params")
    form = ClosedForm(name, expr, tuple(params), citation)
    CLOSED_FORMS[name] = form
    return form


def closed_form(name: str) -> ClosedForm:
    """Look up a declared closed form by name."""
    try:
        return CLOSED_FORMS[name]
    except KeyError:
        raise invalid("name", f"no closed form named {name!r}",
                      f"use one of {sorted(CLOSED_FORMS)}") from None
