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
cannot be seen by the mode at all: ``_host_rng.HostRngWatch`` names them, by a
``sys.setprofile`` hook (``random``) and by the states of the NumPy generators the step can
reach.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["Draw", "DrawMode", "Stop", "fresh_values"]


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


def _bounds(rest: list[Any], kw: dict[str, Any]) -> tuple[int, int]:
    """(low, high) of randint / randint_like from what follows size or the reference tensor:
    ``(high)``, ``(low, high)`` or keywords, as torch takes them."""
    if "high" in kw:
        return int(kw.get("low", rest[0] if rest else 0)), int(kw["high"])
    if len(rest) >= 2:
        return int(rest[0]), int(rest[1])
    return int(kw.get("low", 0)), int(rest[0])


def _randint(mode: DrawMode, args: tuple[Any, ...], kw: dict[str, Any]) -> Tensor:
    rest = list(args)
    size = kw.get("size")
    if size is None and rest and isinstance(rest[-1], (tuple, list, torch.Size)):
        size = rest.pop()
    low, high = _bounds(rest, kw)
    draw, v = mode._draw("torch.randint", _INTEGER, _size(size or ()), kw.get("dtype"),
                         kw.get("device"), _gen(kw), False, (low, high))
    return _cast(v, draw.dtype, draw.device)


def _randint_like(mode: DrawMode, args: tuple[Any, ...], kw: dict[str, Any]) -> Tensor:
    ref, rest = args[0], list(args[1:])
    low, high = _bounds(rest, kw)
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
