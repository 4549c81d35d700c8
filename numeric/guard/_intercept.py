"""Record and replay the random draws of an unmodified training step (docs/design.md §3b).

A step ``step(model, x0)`` that draws t and the noise through torch's RNG is run under
:class:`DrawMode`, a :class:`torch.overrides.TorchFunctionMode`. Every draw through ``torch.rand``,
``rand_like``, ``randn``, ``randn_like``, ``randint``, ``randint_like``, ``normal``,
``Tensor.normal_`` or ``Tensor.uniform_`` (with or without ``generator=``) is recorded as a
:class:`Draw` (function, shape, dtype, device, generator, call order) and its value is *chosen*:
the mode asks a ``source`` for the draw's standard values (u ∈ [0, 1) for the uniform laws, z ~ N(0,
1) for the normal ones, integers for ``randint``), applies the call's own parameters (mean, std,
bounds), casts to the requested dtype and device, and fills in place for ``normal_``/``uniform_``.
The real RNG is never called, so neither torch's global generator nor the user's is advanced.

Other torch samplers (``bernoulli``, ``multinomial``, ``randperm``, ``dropout``, ...) pass
through and are listed in :attr:`DrawMode.foreign`; draws from Python's ``random`` or NumPy
cannot be seen by the mode at all: :class:`HostRngWatch` names them, by a ``sys.setprofile``
hook (``random``) and by the states of the NumPy generators the step can reach.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["Draw", "DrawMode", "HostRngWatch", "Stop", "fresh_values"]

Tensor = torch.Tensor


class Stop(BaseException):
    """Raised by the guard's model wrapper to end a probe replay at the first model call.

    A :class:`BaseException`, so a step's ``except Exception`` does not swallow it."""


@dataclass(frozen=True)
class Draw:
    """One random draw of a step: what was called and what it returned (not its values)."""

    index: int                 # 1-based call order within one run of the step
    name: str                  # e.g. "torch.rand", "torch.randn_like", "Tensor.normal_"
    law: str                   # "uniform", "normal" or "integer"
    shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    generator: bool            # drawn with an explicit generator=
    like: bool                 # the shape was taken from a tensor (*_like, in-place)
    bounds: tuple[int, int] | None = None  # randint's [low, high)

    def signature(self, batch: int) -> tuple[Any, ...]:
        """What a replay must reproduce: the call, with the batch size written as -1."""
        shape = tuple(-1 if i == 0 and s == batch else s for i, s in enumerate(self.shape))
        return (self.name, self.law, shape, self.dtype, self.bounds)

    def describe(self, batch: int | None = None, x0_shape: tuple[int, ...] | None = None) -> str:
        """Readable call, e.g. ``torch.rand([B])`` or ``torch.randn_like(x0)``."""
        if self.like and x0_shape is not None and self.shape == x0_shape:
            args = "x0"
        else:
            dims = ["B" if i == 0 and s == batch else str(s) for i, s in enumerate(self.shape)]
            args = f"[{', '.join(dims)}]"
        if self.bounds is not None:
            args = f"{self.bounds[0]}, {self.bounds[1]}, {args}"
        gen = ", generator=g" if self.generator else ""
        if self.name.startswith("Tensor."):
            return f"{args}.{self.name[7:]}({gen.lstrip(', ')})"
        return f"{self.name}({args}{gen})"


Source = Callable[[Draw], Tensor]

_UNIFORM, _NORMAL, _INTEGER = "uniform", "normal", "integer"

#: torch samplers the mode does not choose; seen only to name them in an error.
FOREIGN = frozenset({
    "bernoulli", "bernoulli_", "multinomial", "randperm", "poisson", "exponential_",
    "geometric_", "log_normal_", "cauchy_", "random_", "dropout", "dropout_", "alpha_dropout",
    "feature_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d",
    "rrelu", "gumbel_softmax", "_standard_gamma", "_sample_dirichlet", "binomial",
})


def _size(args: Sequence[Any]) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
        return tuple(int(s) for s in args[0])
    return tuple(int(s) for s in args)


def _gen(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("generator") is not None


class DrawMode(TorchFunctionMode):
    """Chooses the value of every supported draw (module doc) and records the draws in order.

    ``source(draw)`` returns the standard values of ``draw`` with ``draw.shape``: float u in [0, 1)
    for uniform laws, float z for normal laws, int64 for integer laws. It may raise to stop a
    replay that does not match the recorded draws.
    """

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.draws: list[Draw] = []
        self.foreign: list[str] = []

    def _draw(self, name: str, law: str, shape: tuple[int, ...], dtype: torch.dtype | None,
              device: Any, generator: bool, like: bool,
              bounds: tuple[int, int] | None = None) -> tuple[Draw, Tensor]:
        if dtype is None:
            dtype = torch.int64 if law == _INTEGER else torch.get_default_dtype()
        dev = torch.device(device) if device is not None else torch.device("cpu")
        draw = Draw(len(self.draws) + 1, name, law, tuple(shape), dtype, dev, generator, like,
                    bounds)
        self.draws.append(draw)
        value = self.source(draw)
        return draw, value

    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = dict(kwargs or {})
        handler = _HANDLERS.get(func)
        if handler is not None:
            return handler(self, tuple(args), kwargs)
        name = getattr(func, "__name__", "")
        if name in FOREIGN and not (name.startswith(("dropout", "feature", "alpha"))
                                    and _inert_dropout(name, args, kwargs)):
            self.foreign.append(f"{getattr(func, '__module__', None) or 'torch'}.{name}"
                                .replace("torch._C._nn", "torch.nn.functional")
                                .replace("torch._C._VariableFunctions", "torch"))
        return func(*args, **kwargs)


def _inert_dropout(name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> bool:
    """A dropout call that draws nothing: p = 0 or training=False."""
    p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
    training = kwargs.get("training", kwargs.get("train", args[2] if len(args) > 2 else True))
    return not training or float(p) == 0.0


def _cast(value: Tensor, dtype: torch.dtype, device: torch.device) -> Tensor:
    return value.to(device=device, dtype=dtype)


def _rand(mode: DrawMode, args: tuple[Any, ...], kw: dict[str, Any], law: str,
          name: str) -> Tensor:
    shape = _size(args) if args else _size(kw.get("size", ()))
    draw, v = mode._draw(name, law, shape, kw.get("dtype"), kw.get("device"), _gen(kw), False)
    out = _cast(v, draw.dtype, draw.device)
    return out.requires_grad_() if kw.get("requires_grad") else out


def _like(mode: DrawMode, args: tuple[Any, ...], kw: dict[str, Any], law: str,
          name: str) -> Tensor:
    ref = args[0] if args else kw["input"]
    dtype = kw.get("dtype") or ref.dtype
    device = kw.get("device") or ref.device
    draw, v = mode._draw(name, law, tuple(ref.shape), dtype, device, _gen(kw), True)
    return _cast(v, draw.dtype, draw.device)


def _randint(mode: DrawMode, args: tuple[Any, ...], kw: dict[str, Any]) -> Tensor:
    rest = list(args)
    size = kw.get("size")
    if size is None and rest and isinstance(rest[-1], (tuple, list, torch.Size)):
        size = rest.pop()
    if "high" in kw:
        low, high = int(kw.get("low", rest[0] if rest else 0)), int(kw["high"])
    elif len(rest) >= 2:
        low, high = int(rest[0]), int(rest[1])
    else:
        low, high = int(kw.get("low", 0)), int(rest[0])
    draw, v = mode._draw("torch.randint", _INTEGER, _size(size or ()), kw.get("dtype"),
                         kw.get("device"), _gen(kw), False, (low, high))
    return _cast(v, draw.dtype, draw.device)


def _randint_like(mode: DrawMode, args: tuple[Any, ...], kw: dict[str, Any]) -> Tensor:
    ref, rest = args[0], list(args[1:])
    if "high" in kw:
        low, high = int(kw.get("low", rest[0] if rest else 0)), int(kw["high"])
    elif len(rest) >= 2:
        low, high = int(rest[0]), int(rest[1])
    else:
        low, high = int(kw.get("low", 0)), int(rest[0])
    draw, v = mode._draw("torch.randint_like", _INTEGER, tuple(ref.shape),
                         kw.get("dtype") or ref.dtype, kw.get("device") or ref.device,
                         _gen(kw), True, (low, high))
    return _cast(v, draw.dtype, draw.device)


def _normal(mode: DrawMode, args: tuple[Any, ...], kw: dict[str, Any]) -> Tensor:
    mean = kw.get("mean", args[0] if args else 0.0)
    std = kw.get("std", args[1] if len(args) > 1 else 1.0)
    size = kw.get("size", args[2] if len(args) > 2 else None)
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if size is not None:
        shape, dtype, device = _size(size), kw.get("dtype"), kw.get("device")
    elif tensors:
        shape = tuple(torch.broadcast_shapes(*(v.shape for v in tensors)))
        dtype = kw.get("dtype") or torch.result_type(*tensors) if len(tensors) == 2 \
            else kw.get("dtype") or tensors[0].dtype
        device = tensors[0].device
    else:
        shape, dtype, device = (), kw.get("dtype"), kw.get("device")
    draw, z = mode._draw("torch.normal", _NORMAL, shape, dtype, device, _gen(kw),
                         bool(tensors) and size is None)
    out = mean + std * _cast(z, draw.dtype, draw.device)
    return _cast(out.expand(draw.shape) if out.shape != draw.shape else out, draw.dtype,
                 draw.device)


def _normal_(mode: DrawMode, args: tuple[Any, ...], kw: dict[str, Any]) -> Tensor:
    self = args[0]
    mean = kw.get("mean", args[1] if len(args) > 1 else 0.0)
    std = kw.get("std", args[2] if len(args) > 2 else 1.0)
    draw, z = mode._draw("Tensor.normal_", _NORMAL, tuple(self.shape), self.dtype, self.device,
                         _gen(kw), True)
    with torch.no_grad():
        self.copy_(mean + std * _cast(z, draw.dtype, draw.device))
    return self


def _uniform_(mode: DrawMode, args: tuple[Any, ...], kw: dict[str, Any]) -> Tensor:
    self = args[0]
    low = kw.get("from", kw.get("a", args[1] if len(args) > 1 else 0.0))
    high = kw.get("to", kw.get("b", args[2] if len(args) > 2 else 1.0))
    draw, u = mode._draw("Tensor.uniform_", _UNIFORM, tuple(self.shape), self.dtype,
                         self.device, _gen(kw), True)
    with torch.no_grad():
        self.copy_(low + (high - low) * _cast(u, draw.dtype, draw.device))
    return self


_HANDLERS: dict[Any, Callable[[DrawMode, tuple[Any, ...], dict[str, Any]], Tensor]] = {
    torch.rand: lambda m, a, k: _rand(m, a, k, _UNIFORM, "torch.rand"),
    torch.randn: lambda m, a, k: _rand(m, a, k, _NORMAL, "torch.randn"),
    torch.rand_like: lambda m, a, k: _like(m, a, k, _UNIFORM, "torch.rand_like"),
    torch.randn_like: lambda m, a, k: _like(m, a, k, _NORMAL, "torch.randn_like"),
    torch.randint: _randint,
    torch.randint_like: _randint_like,
    torch.normal: _normal,
    Tensor.normal_: _normal_,
    Tensor.uniform_: _uniform_,
}


def fresh_values(draw: Draw, generator: torch.Generator) -> Tensor:
    """Standard values of ``draw``'s law from the guard's own generator (for a first run)."""
    if draw.law == _INTEGER:
        assert draw.bounds is not None
        return torch.randint(draw.bounds[0], draw.bounds[1], draw.shape, generator=generator)
    if draw.law == _UNIFORM:
        return torch.rand(draw.shape, generator=generator, dtype=torch.float64)
    return torch.randn(draw.shape, generator=generator, dtype=torch.float64)


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
