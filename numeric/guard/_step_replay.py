"""Running a user's training step under the draw mode (docs/design.md §3b).

:class:`_Tap` wraps a model to read what the step feeds it (and to stop the step there);
:class:`_Runner` replays the step with chosen draws (:class:`_Plan`), refusing a replay that draws
differently; :func:`_record` makes the first run and refuses what cannot be replayed (NumPy or
Python ``random`` draws, named by :class:`._intercept.HostRngWatch`; other torch samplers; no
draws); :func:`_classify` names the time and
noise draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .._errors import SmeqError, invalid
from ._host_rng import HostRngWatch
from ._intercept import Draw, DrawMode, Stop, fresh_values

Tensor = torch.Tensor

RECORD_BATCH = 5

_T_NAMES = ("t", "time", "times", "timestep", "timesteps", "sigma", "sigmas", "noise_level",
            "c_noise", "noise_labels")

_STEP_SIG = "step(model, x0) -> loss (a scalar or one value per sample)"

_TIME_MODE = ("pass the loss to check_loss(..., statistical='time'), which needs no control of "
              "the draws, or give t and the noise as arguments: check_loss(loss(model, x0, t, "
              "noise), ...)")


class _Tap(torch.nn.Module):
    """The model as the step sees it: records what it is called with, can stop the step at the
    call, and (for the guard's own models) accepts any argument order, e.g. ``model(t, x)``."""

    def __init__(self, inner: Any, adapt: bool, sample_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.inner = inner
        self.adapt, self.sample_shape = adapt, sample_shape
        self.d = math.prod(sample_shape)
        self.calls: list[tuple[Tensor, Any]] = []
        self.record = False
        self.stop = False

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = super().__getattr__("inner")
            return getattr(inner, name)

    def split(self, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[Tensor | None, Any]:
        """(x, t) among a model call's arguments: x is shaped like x0 per sample, t the other."""
        items = [*args, *kwargs.values()]
        tensors = [v for v in items if isinstance(v, Tensor)]
        x = next((v for v in tensors if v.dim() >= 2 and math.prod(v.shape[1:]) == self.d),
                 None)
        if x is None:
            x = next((v for v in tensors if v.dim() >= 1 and v.numel() == v.shape[0] * self.d),
                     None)
        rest = [v for v in args if v is not x and isinstance(v, (Tensor, int, float))]
        if rest:
            return x, rest[0]
        for key in _T_NAMES:
            if key in kwargs and kwargs[key] is not x:
                return x, kwargs[key]
        others = [v for v in kwargs.values() if isinstance(v, Tensor) and v is not x]
        return x, (others[0] if others else None)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        x, t = self.split(args, kwargs)
        if self.record:
            if x is None:
                raise invalid("step", "called the model without a tensor shaped like x0 "
                              f"(per sample {list(self.sample_shape)})", "pass x_t to the model "
                              "with the shape of x0 (the guard reads x_t there)")
            self.calls.append((x.detach().clone(),
                               t.detach().clone() if isinstance(t, Tensor) else t))
        if self.stop:
            raise Stop
        if not self.adapt:
            return self.inner(*args, **kwargs)
        if x is None:
            raise invalid("step", "called the model without a tensor shaped like x0",
                          "pass x_t to the model with the shape of x0")
        b = x.shape[0]
        dt = _model_dtype(self.inner, x.dtype)
        if t is None:
            tt = torch.zeros(b, dtype=dt, device=x.device)
        else:
            tt = torch.as_tensor(t, device=x.device)
            tt = tt.reshape(b) if tt.numel() == b else tt.reshape(()).expand(b)
            tt = tt.to(dt)
        return self.inner(x.to(dt), tt).to(x.dtype)


def _model_dtype(model: Any, default: torch.dtype) -> torch.dtype:
    for p in getattr(model, "parameters", lambda: iter(()))():
        return p.dtype
    return default


class _Plan:
    """The draw values of one replay: checks each draw against the recorded ones and returns the
    chosen standard values (``values[i]`` for draw i, first axis the batch)."""

    def __init__(self, expected: Sequence[Draw], batch: int, values: dict[int, Tensor],
                 record_batch: int) -> None:
        self.expected, self.batch, self.values = expected, batch, values
        self.record_batch = record_batch

    def __call__(self, draw: Draw) -> Tensor:
        i = draw.index
        if i > len(self.expected):
            raise _Mismatch(f"an extra draw {draw.describe(self.batch)} (draw {i}); the first "
                            f"run made {len(self.expected)}")
        want = self.expected[i - 1]
        if want.signature(self.record_batch) != draw.signature(self.batch):
            raise _Mismatch(f"{draw.describe(self.batch)} as draw {i}, where the first run drew "
                            f"{want.describe(self.record_batch)}")
        return self.values[i].reshape(draw.shape)


class _Mismatch(BaseException):
    pass


class _Runner:
    """Runs the step under the draw mode on chosen inputs (see module doc)."""

    def __init__(self, step: Callable[..., Any], shape: tuple[int, ...], dtype: torch.dtype,
                 device: torch.device) -> None:
        self.step, self.shape, self.dtype, self.device = step, shape, dtype, device
        self.expected: list[Draw] = []

    def x0(self, flat: Tensor) -> Tensor:
        return flat.reshape(flat.shape[0], *self.shape).to(dtype=self.dtype, device=self.device)

    def call(self, tap: _Tap, x0: Tensor, values: dict[int, Tensor], *,
             grad: bool = False) -> Any:
        """The step on ``x0`` with the draws ``values``; ``grad=True`` keeps the autograd graph
        (for the gradient check), else it runs under ``torch.no_grad()`` where it can."""
        plan = _Plan(self.expected, x0.shape[0], values, RECORD_BATCH)
        try:
            with DrawMode(plan):
                return _call_step(self.step, tap, x0, grad=grad)
        except _Mismatch as exc:
            raise invalid("step", f"drew differently on a replay: {exc}", "make the step draw "
                          "the same values in the same order on every call (no draws that depend "
                          f"on a counter or on earlier values), or {_TIME_MODE}") from None

    def probe(self, tap: _Tap, x0: Tensor, values: dict[int, Tensor]) -> tuple[Tensor, Any]:
        """What the step feeds the model on this replay (stopped at the model call)."""
        tap.calls, tap.record, tap.stop = [], True, True
        try:
            self.call(tap, x0, values)
        except Stop:
            pass
        finally:
            tap.record, tap.stop = False, False
        if not tap.calls:
            raise invalid("step", "did not call the model on a replay",
                          "call model(x_t, t) once in every step")
        return tap.calls[0]


def _call_step(step: Callable[..., Any], model: Any, x0: Tensor, *, grad: bool = False) -> Any:
    try:
        if grad:
            with torch.enable_grad():
                return step(model, x0)
        try:
            with torch.no_grad():
                return step(model, x0)
        except RuntimeError as exc:
            if "grad" not in str(exc):
                raise
            return step(model, x0)
    except (SmeqError, Stop, _Mismatch):
        raise
    except Exception as exc:
        raise invalid("step", f"raised {type(exc).__name__}: {exc} (called as step(model, x0) "
                      f"with x0 {list(x0.shape)} {x0.dtype})", f"make {_STEP_SIG} run on a batch "
                      "of the guard's data; a library object reaches the guard's models through "
                      "the model argument (set it inside the step)") from exc


def _record(runner: _Runner, tap: _Tap, x0: Tensor, seed: int) -> tuple[list[Draw], Any]:
    """The first run: our own values for every draw; refuse what cannot be replayed."""
    g = torch.Generator().manual_seed(seed + 7)
    mode = DrawMode(lambda d: fresh_values(d, g))
    torch_state = torch.random.get_rng_state()
    tap.calls, tap.record = [], True
    try:
        with HostRngWatch((runner.step,)) as host, mode:
            out = _call_step(runner.step, tap, x0)
    finally:
        tap.record = False
        changed = not torch.equal(torch_state, torch.random.get_rng_state())
        torch.random.set_rng_state(torch_state)
    if host.changed or host.drawn:
        raise invalid("step", f"draws from {host.description()}, which the guard cannot "
                      "intercept or choose (and if those draws pair samples across the batch, "
                      "as optimal-transport matchers do with numpy.random.choice, a sample's x_t "
                      "depends on other samples: no per-sample kernel)", "draw t and the noise "
                      f"with torch (torch.rand, torch.randn_like, ...), or {_TIME_MODE}")
    if mode.foreign or changed:
        what = ", ".join(dict.fromkeys(mode.foreign)) or "a torch sampler the guard does not " \
            "replay (torch's global generator advanced)"
        raise invalid("step", f"draws with {what}; the guard chooses only rand, rand_like, randn,"
                      " randn_like, randint, normal, normal_ and uniform_ draws", "draw t with "
                      "torch.rand/randint/randn and the noise with randn_like (put a model with "
                      f"dropout in eval mode), or {_TIME_MODE}")
    if not mode.draws:
        raise invalid("step", "drew no random numbers through torch, so there is nothing to "
                      "replay", "for a loss that takes t and the noise as arguments use "
                      "check_loss(loss(model, x0, t, noise), ...)")
    if not tap.calls:
        raise invalid("step", "never called the model", "call model(x_t, t) in the step (a "
                      "library object reaches the guard's model through the model argument)")
    return mode.draws, out


def _classify(draws: list[Draw], batch: int, shape: tuple[int, ...]
              ) -> tuple[list[Draw], list[Draw]]:
    """(time candidates, noise draws); anything else is refused."""
    times, noises = [], []
    d = math.prod(shape)
    for draw in draws:
        per_sample = len(draw.shape) >= 1 and draw.shape[0] == batch
        numel = math.prod(draw.shape)
        data_like = numel == batch * d and (d > 1 or (draw.shape == (batch, *shape)
                                                      and draw.law == "normal"))
        if per_sample and numel == batch and not data_like:
            times.append(draw)
        elif per_sample and data_like:
            if draw.law != "normal":
                raise invalid("step", f"draw {draw.index}, {draw.describe(batch, (batch, *shape))}"
                              f", is shaped like the data but {draw.law}, not Gaussian noise",
                              "the guard replays Gaussian noise (randn, randn_like, normal) and "
                              f"one per-sample time draw; otherwise {_TIME_MODE}")
            noises.append(draw)
        else:
            raise invalid("step", f"draw {draw.index}, {draw.describe(batch, (batch, *shape))}, "
                          f"is neither one value per sample ([B] with B={batch}) nor shaped like "
                          f"x0 ({[batch, *shape]})", f"the guard cannot choose its value; "
                          f"{_TIME_MODE}")
    return times, noises


def _output_kind(out: Any, batch: int) -> bool:
    if not isinstance(out, Tensor):
        raise invalid("step", f"returned {type(out).__name__}", "return the loss as a tensor")
    if out.dim() == 0:
        return True
    if out.shape == (batch,):
        return False
    raise invalid("step", f"returned shape {list(out.shape)} for a batch of {batch}",
                  "return the loss as a scalar or one value per sample [B]")
