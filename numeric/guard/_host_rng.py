"""Draws the torch draw mode cannot see: Python's ``random`` and NumPy, named, never guessed.

:class:`HostRngWatch` wraps the recording run of a training step. A ``sys.setprofile`` hook
(this thread only; any previous hook is chained and restored) names calls into Python's
``random``; NumPy's generators, whose Cython methods fire no profile event, are found among the
objects the step can reach (its globals, closure, defaults, bound ``self`` and their attributes)
and compared by state before and after the run. Every generator seen drawing is put back to its
earlier state (docs/design.md §3b).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["HostRngWatch"]

Tensor = torch.Tensor


class HostRngWatch:
    """Notices draws from Python's ``random`` and from NumPy, which no torch mode sees, and names
    them (module doc).

    * A ``sys.setprofile`` hook (this thread only; the previous hook is restored on exit) sees
      every call into a ``random.Random`` instance, the ``random`` module's own functions
      included (they are methods of a hidden instance): ``random.gauss``,
      ``random.Random.normalvariate``, ... It also names C-level calls whose ``__self__`` is a
      NumPy ``Generator``, ``RandomState`` or ``BitGenerator``; NumPy's methods are Cython
      functions, for which CPython 3.11 emits no profile event, so NumPy is also watched by
      state:
    * the NumPy generators the step can reach (``roots``: the names its code uses from its
      globals, its closure, defaults and bound ``self``, and their attributes, a few levels deep)
      have their states compared before and after the block; a changed one is named with the
      methods the step's code calls on it (``numpy.random.Generator.normal``), and restored;
    * the global ``random`` and ``numpy.random`` states are compared and restored, and the
      ``numpy.random``/``random`` module functions are wrapped to name the ones called.

    Every generator seen drawing is restored on exit. The hook costs about 0.3-0.5 ms on a
    recording pass of a small step (bench: 0.5 → 0.8 ms), once per check.
    """

    _RANDOM = ("random", "uniform", "randint", "randrange", "gauss", "normalvariate", "choice",
               "choices", "shuffle", "sample", "betavariate", "getrandbits", "triangular")
    _NUMPY = ("rand", "randn", "random", "random_sample", "uniform", "normal", "randint",
              "choice", "permutation", "shuffle", "standard_normal", "beta", "lognormal",
              "exponential", "integers", "default_rng")
    #: objects visited when looking for the step's NumPy generators, and how deep
    _REACH, _DEPTH = 2000, 3

    def __init__(self, roots: Sequence[Any] = ()) -> None:
        self.calls: list[str] = []
        self.changed: list[str] = []
        self.drawn: list[str] = []
        self.roots = tuple(roots)

    def __enter__(self) -> HostRngWatch:
        self._saved: list[tuple[Any, str, Any]] = []
        self._py = random.getstate()
        self._patch(random, "random", self._RANDOM)
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - numpy ships with torch
            self._np: Any = None
            self._np_types: tuple[type, ...] = ()
        else:
            self._np = np.random.get_state()
            self._patch(np.random, "numpy.random", self._NUMPY)
            self._np_types = (np.random.Generator, np.random.RandomState,
                              np.random.BitGenerator)
        self._gens, self._codes = _reachable_generators(self.roots, self._np_types,
                                                        self._REACH, self._DEPTH)
        self._gen_states = [_bit_generator(g).state for _, g in self._gens]
        self._random_file = random.__file__
        self._restore: dict[int, tuple[Any, Any]] = {}
        self._prev_profile = sys.getprofile()
        if self._prev_profile is None or callable(self._prev_profile):
            self._hooked = True
            sys.setprofile(self._profile)
        else:  # pragma: no cover - a C profiler we cannot chain: states only
            self._hooked = False
        return self

    def _profile(self, frame: Any, event: str, arg: Any) -> Any:
        prev = self._prev_profile
        if event == "c_call":
            owner = getattr(arg, "__self__", None)
            if owner is not None and not isinstance(owner, type) and (
                    isinstance(owner, random.Random) or isinstance(owner, self._np_types)) and \
                    frame.f_code.co_filename != self._random_file:
                self._seen(_rng_name(owner, getattr(arg, "__name__", "?")), owner)
        elif event == "call" and frame.f_code.co_filename == self._random_file:
            owner = frame.f_locals.get("self")
            back = frame.f_back
            if isinstance(owner, random.Random) and (
                    back is None or back.f_code.co_filename != self._random_file):
                self._seen(_rng_name(owner, frame.f_code.co_name), owner)
        if prev is not None:
            prev(frame, event, arg)  # type: ignore[arg-type]

    def _seen(self, name: str, owner: Any) -> None:
        if name.rsplit(".", 1)[-1] in _NOT_DRAWS:
            return
        self.calls.append(name)
        self.drawn.append(name)
        if id(owner) not in self._restore and owner is not getattr(random, "_inst", None):
            # seen before its first draw: restored on exit, as the global states are
            if isinstance(owner, random.Random):
                self._restore[id(owner)] = (owner, owner.getstate())
            else:
                bg = _bit_generator(owner)
                self._restore[id(owner)] = (bg, getattr(bg, "state", None))

    def _patch(self, module: Any, label: str, names: Sequence[str]) -> None:
        for name in names:
            fn = getattr(module, name, None)
            if fn is None:
                continue

            def recorder(*a: Any, _fn: Any = fn, _name: str = f"{label}.{name}",
                         **k: Any) -> Any:
                self.calls.append(_name)
                if _name == "numpy.random.default_rng":
                    self.drawn.append(_name)
                return _fn(*a, **k)

            self._saved.append((module, name, fn))
            setattr(module, name, recorder)

    def __exit__(self, *exc: Any) -> None:
        if self._hooked:
            sys.setprofile(self._prev_profile)
        for obj, state in self._restore.values():
            if isinstance(obj, random.Random):
                obj.setstate(state)
            elif state is not None:
                obj.state = state
        for module, name, fn in reversed(self._saved):
            setattr(module, name, fn)
        if random.getstate() != self._py:
            self.changed.append("random")
            random.setstate(self._py)
        if self._np is not None:
            import numpy as np

            now: Any = np.random.get_state()
            was: Any = self._np
            if now[0] != was[0] or not (now[1] == was[1]).all() or now[2:] != was[2:]:
                self.changed.append("numpy.random")
                np.random.set_state(self._np)
        for (path, gen), before in zip(self._gens, self._gen_states, strict=True):
            bg = _bit_generator(gen)
            if not _same_state(bg.state, before):
                for name in _methods_called(self._codes, path, gen):
                    self.calls.append(name)
                    self.drawn.append(name)
                bg.state = before

    def description(self) -> str:
        """The draws seen, for an error message ('' if none)."""
        if not self.changed and not self.drawn:
            return ""
        named = [c for c in dict.fromkeys(self.calls)]
        if named:
            return ", ".join(f"{c}()" if "(" not in c else c for c in named)
        return " and ".join(f"{m} (its global state changed)" for m in self.changed)


#: Calls on a generator that draw nothing.
_NOT_DRAWS = frozenset({"seed", "getstate", "setstate", "get_state", "set_state", "__init__",
                        "__reduce__", "__getstate__", "__setstate__", "__new__",
                        "__init_subclass__", "spawn", "jumped", "__eq__", "__hash__", "__repr__",
                        "__str__"})


def _rng_name(owner: Any, method: str) -> str:
    """``random.gauss`` for the module's hidden instance, ``random.Random.gauss`` for another,
    ``numpy.random.Generator.normal``, ``numpy.random.normal`` for NumPy's global RandomState."""
    if owner is getattr(random, "_inst", None):
        return f"random.{method}"
    cls = type(owner)
    mod = cls.__module__
    if mod.startswith("numpy.random"):
        try:
            import numpy as np

            if owner is np.random.mtrand._rand:
                return f"numpy.random.{method}"
        except (ImportError, AttributeError):  # pragma: no cover
            pass
        mod = "numpy.random"
    return f"{mod}.{cls.__qualname__}.{method}"


def _bit_generator(gen: Any) -> Any:
    return getattr(gen, "bit_generator", None) or getattr(gen, "_bit_generator", None) or gen


def _same_state(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if hasattr(a, "shape") and hasattr(b, "shape"):
        return a.shape == b.shape and bool((a == b).all())
    return bool(a == b)


def _children(obj: Any, path: str) -> list[tuple[str, Any]]:
    """What a step can reach from ``obj``: a function's globals named in its code, closure and
    defaults; a bound method's ``self``; an instance's attributes; a container's items."""
    import types

    out: list[tuple[str, Any]] = []
    if isinstance(obj, types.MethodType):
        out += [(f"{path}.__self__", obj.__self__), (path, obj.__func__)]
    elif isinstance(obj, types.FunctionType):
        code, g = obj.__code__, obj.__globals__
        out += [(n, g[n]) for n in _code_names(code) if n in g]
        for name, cell in zip(code.co_freevars, obj.__closure__ or (), strict=False):
            try:
                out.append((name, cell.cell_contents))
            except ValueError:  # an empty cell
                continue
        defaults = obj.__defaults__ or ()
        params = code.co_varnames[code.co_argcount - len(defaults):code.co_argcount]
        out += list(zip(params, defaults, strict=False))
        out += list((obj.__kwdefaults__ or {}).items())
    elif isinstance(obj, dict):
        out += [(f"{path}[{k!r}]", v) for k, v in list(obj.items())[:200]]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        out += [(f"{path}[{i}]", v) for i, v in enumerate(list(obj)[:200])]
    elif not isinstance(obj, (type, types.ModuleType, Tensor, str, bytes, int, float)):
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict):
            out += [(f"{path}.{k}", v) for k, v in list(d.items())[:200]]
        for k, v in list(vars(type(obj)).items())[:100]:   # its methods: the code it runs
            if isinstance(v, types.FunctionType) and (k == "__call__" or k == "forward"
                                                      or not k.startswith("_")):
                out.append((f"{path}.{k}", v))
    return out


def _code_names(code: Any) -> list[str]:
    names = list(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            names += _code_names(c)
    return names


def _reachable_generators(roots: Sequence[Any], types_: tuple[type, ...], limit: int,
                          depth: int) -> tuple[list[tuple[str, Any]], list[Any]]:
    """NumPy generators reachable from ``roots`` (module doc of :class:`HostRngWatch`), with
    the name they are reached by, and the code objects of the functions on the way; NumPy's
    global RandomState is watched separately."""
    if not types_:
        return [], []
    import numpy as np

    found: list[tuple[str, Any]] = []
    codes: list[Any] = []
    seen = {id(np.random.mtrand._rand)}
    queue = [("step", r, 0) for r in roots]
    visited = 0
    while queue and visited < limit:
        path, obj, level = queue.pop(0)
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        visited += 1
        if isinstance(obj, types_):
            if not any(_bit_generator(g) is _bit_generator(obj) for _, g in found):
                found.append((path, obj))
            continue
        code = getattr(obj, "__code__", None)
        if code is not None and hasattr(code, "co_code"):
            codes.append(code)
        if level < depth:
            try:
                queue += [(p, c, level + 1) for p, c in _children(obj, path)]
            except Exception:  # an object that refuses introspection: not followed
                continue
    return found, codes


def _methods_called(codes: Sequence[Any], path: str, gen: Any) -> list[str]:
    """``numpy.random.Generator.normal`` for each method the ``codes`` call on ``gen``'s name
    (the last part of ``path``); the generator itself where the code does not show it."""
    import dis

    cls = type(gen)
    label = f"numpy.random.{cls.__qualname__}"
    public = {m for m in dir(cls) if not m.startswith("_")} - _NOT_DRAWS
    last = path.rsplit(".", 1)[-1]
    called: list[str] = []
    todo = list(codes)
    while todo:
        code = todo.pop(0)
        todo += [c for c in code.co_consts if hasattr(c, "co_code")]
        prev = None
        for ins in dis.get_instructions(code):
            if prev is not None and ins.opname in ("LOAD_METHOD", "LOAD_ATTR") and \
                    ins.argval in public and prev == last:
                called.append(f"{label}.{ins.argval}")
            prev = ins.argval if ins.opname.startswith("LOAD") else None
    where = f" (the step's `{path}`)" if path != "step" else ""
    if not called:
        return [f"{label} draws{where}"]
    return [f"{c}(){where}" for c in dict.fromkeys(called)]
