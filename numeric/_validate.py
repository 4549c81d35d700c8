"""Private argument checks shared by numeric's public entry points.

Each helper either returns a checked value or raises a :class:`SmeqError` subclass built with
:func:`invalid`, so every message names the argument, the problem and the fix.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ._errors import DtypeError, ShapeError, SmeqError, invalid

__all__ = [
    "MAX_SEED",
    "as_float_tensor",
    "as_generator",
    "call_user",
    "check_callable",
    "check_dtype",
    "check_finite",
    "check_fits",
    "check_points",
    "check_positive",
    "check_real_output",
    "check_rtol",
    "check_seed",
    "check_shape",
    "check_unit_interval",
    "check_weights",
    "finite_result",
    "kernel_scalars",
    "positive_int",
    "resolve_device",
    "resolve_dtype",
    "sample_count",
]

Tensor = torch.Tensor

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

#: Seeds are non-negative and below 2**63: ``torch.Generator.manual_seed`` takes up to 2**64 − 1,
#: and the half below leaves room for the derived seeds ``seed + j`` (one per model, probe).
MAX_SEED = 2**63 - 1


def resolve_dtype(dtype: Any, name: str = "dtype") -> torch.dtype:
    """Check that ``dtype`` is a floating torch dtype."""
    if not isinstance(dtype, torch.dtype) or dtype not in _FLOAT_DTYPES:
        raise invalid(name, f"got {dtype!r}, not a floating torch dtype",
                      "pass torch.float64 (default) or torch.float32", DtypeError)
    return dtype


def resolve_device(device: Any, name: str = "device", *,
                   available: bool = True) -> torch.device:
    """Parse ``device`` and (with ``available``) refuse an accelerator that torch reports absent
    (asking torch whether CUDA is available does not initialise it; importing numeric never
    asks)."""
    if isinstance(device, bool) or not isinstance(device, str | torch.device | int):
        raise invalid(name, f"got {type(device).__name__} {device!r}, not a torch device",
                      "pass 'cpu', 'cuda' or a torch.device", DtypeError)
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise invalid(name, f"got {device!r}, not a torch device ({exc})",
                      "pass 'cpu', 'cuda' or a torch.device", DtypeError) from None
    if available and parsed.type not in ("cpu", "meta"):
        backend = getattr(torch, parsed.type, None)
        present = getattr(backend, "is_available", None)
        if not callable(present) or not present():
            raise invalid(name, f"got {device!r}, but torch reports no {parsed.type} device "
                          "here", "pass device='cpu', or run where that device exists",
                          DtypeError)
    return parsed


def check_seed(name: str, value: Any) -> int:
    """An integer seed in [0, 2**63) (bools, floats and out-of-range ints refused)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point() \
            and value.dtype != torch.bool:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid(name, f"got {type(value).__name__} {value!r}, not an integer seed",
                      f"pass an int in [0, {MAX_SEED}]")
    if not 0 <= int(value) <= MAX_SEED:
        raise invalid(name, f"got {int(value)}, outside [0, 2**63 - 1]",
                      "pass a non-negative int below 2**63 (e.g. seed % 2**63)")
    return int(value)


def check_rtol(name: str, value: Any, *, allow_none: bool = True) -> float | None:
    """A relative tolerance: None (the default) or a finite float in (0, 1)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(name, f"got {type(value).__name__} {value!r}, not a number",
                      "pass a float in (0, 1), e.g. 1e-7, or None for the default")
    v = float(value)
    if not (math.isfinite(v) and 0.0 < v < 1.0):
        raise invalid(name, f"got {v!r}; a relative tolerance must lie in (0, 1) (NaN would "
                      "pass everything, <= 0 fail everything, >= 1 accept any residual)",
                      "pass a float in (0, 1), e.g. 1e-7, or None for the default")
    return v


def check_callable(name: str, value: Any, signature: str) -> Any:
    """Raise unless ``value`` is callable; ``signature`` says how it is called."""
    if not callable(value):
        raise invalid(name, f"got {type(value).__name__}, which is not callable",
                      f"pass a function {signature}")
    return value


def _callable_name(fn: Any) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
               or type(fn).__name__)


def call_user(name: str, fn: Callable[..., Any], *args: Any, fix: str) -> Any:
    """``fn(*args)``, with any exception of the user's code re-raised as a SmeqError that names
    the argument and the callable (the original stays attached as ``__cause__``)."""
    try:
        return fn(*args)
    except SmeqError:
        raise
    except Exception as exc:
        raise invalid(name, f"{_callable_name(fn)} raised {type(exc).__name__}: {exc}",
                      fix) from exc


def check_real_output(name: str, out: Any, fix: str) -> Any:
    """Refuse a complex tensor or array returned by user code (never cut to its real part)."""
    complex_out = (out.is_complex() if isinstance(out, torch.Tensor)
                   else isinstance(out, complex) or getattr(
                       getattr(out, "dtype", None), "kind", None) == "c")
    if complex_out:
        raise invalid(name, f"returned a complex value ({getattr(out, 'dtype', type(out))})",
                      fix, DtypeError)
    return out


def check_fits(name: str, value: torch.Tensor, dtype: torch.dtype,
               fix: str = "rescale the data, or build it with dtype=torch.float64"
               ) -> torch.Tensor:
    """``value`` (checked in float64) cast to ``dtype``, refusing values the dtype cannot hold:
    finite values that become ±inf, or non-zero values that flush to 0."""
    out = value.to(dtype)
    if dtype == value.dtype:
        return out
    over = torch.isfinite(value) & ~torch.isfinite(out)
    under = (value != 0) & (out == 0)
    if bool(over.any()) or bool(under.any()):
        bad = value[over | under]
        info = torch.finfo(dtype)
        what = "overflows to inf" if bool(over.any()) else "flushes to 0"
        raise invalid(name, f"holds {float(bad.reshape(-1)[0])!r}, which {what} in {dtype} "
                      f"(its range is about [{info.tiny:.3g}, {info.max:.3g}])",
                      fix, DtypeError)
    return out


def as_float_tensor(name: str, value: Any, *, dtype: torch.dtype = torch.float64,
                    device: str | torch.device = "cpu") -> torch.Tensor:
    """``value`` (number, sequence, NumPy array or Tensor) as a floating tensor.

    Tensors that are not floating (bool, int) are converted; complex values are refused.
    """
    dtype = resolve_dtype(dtype)
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise invalid(name, f"got a complex tensor ({value.dtype})",
                          "pass a real floating tensor", DtypeError)
        return value.to(device=device, dtype=dtype)
    if isinstance(value, bool | complex) or value is None or isinstance(value, str | bytes):
        raise invalid(name, f"got {type(value).__name__} {value!r}",
                      "pass a real number, a sequence of numbers or a Tensor", DtypeError)
    try:
        raw = torch.as_tensor(value)
        if raw.is_floating_point() and not hasattr(value, "dtype"):
            # Python numbers and lists: read them in float64, not torch's default float32.
            raw = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise invalid(name, f"could not be read as a real tensor ({exc})",
                      "pass a real number, a (nested) sequence of numbers or a Tensor",
                      DtypeError) from None
    if raw.is_complex():  # NumPy arrays and lists are refused exactly like complex tensors
        raise invalid(name, f"got complex values ({raw.dtype})", "pass real values",
                      DtypeError)
    if raw.dtype == torch.bool:
        raise invalid(name, "got booleans", "pass real numbers", DtypeError)
    return raw.to(device=device, dtype=dtype)


def check_finite(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Raise if ``tensor`` holds NaN or ±inf."""
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0]) if tensor.dim() else ()
        raise invalid(name, f"contains NaN or inf (first at index {where})",
                      "pass finite values only")
    return tensor


def finite_result(value: torch.Tensor, name: str, what: str) -> torch.Tensor:
    """Return ``value`` if finite; otherwise raise naming the input ``name`` that drove ``what``
    beyond the dtype's range (finite input never gives a silent NaN or inf)."""
    bad = ~torch.isfinite(value.detach())
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0]) if value.dim() else ()
        wider = "" if value.dtype == torch.float64 else ", or compute in float64"
        raise invalid(name, f"{what} is {float(value.detach()[where])!r} at index {where}: it is "
                      f"beyond the range of {value.dtype} for this input",
                      f"use a less extreme kernel or point (the true value does not fit "
                      f"{value.dtype}){wider}")
    return value


def check_positive(name: str, tensor: torch.Tensor, *, strict: bool = True) -> torch.Tensor:
    """Raise if ``tensor`` is not finite and > 0 (``>= 0`` with ``strict=False``)."""
    check_finite(name, tensor)
    bad = tensor <= 0 if strict else tensor < 0
    if bool(bad.any()):
        worst = float(tensor.min())
        rel = "> 0" if strict else ">= 0"
        raise invalid(name, f"must be {rel}, got a value {worst!r}", f"pass values {rel}")
    return tensor


def check_unit_interval(name: str, tensor: torch.Tensor, *, open_left: bool = True,
                        open_right: bool = False) -> torch.Tensor:
    """Raise unless every entry lies in (0, 1] (ends chosen by ``open_left``/``open_right``)."""
    check_finite(name, tensor)
    low_bad = tensor <= 0 if open_left else tensor < 0
    high_bad = tensor >= 1 if open_right else tensor > 1
    if bool((low_bad | high_bad).any()):
        lo = "(" if open_left else "["
        hi = ")" if open_right else "]"
        raise invalid(name, f"must lie in {lo}0, 1{hi}; got min {float(tensor.min())!r}, "
                      f"max {float(tensor.max())!r}", f"pass values in {lo}0, 1{hi}")
    return tensor


def check_shape(name: str, tensor: torch.Tensor, shape: Sequence[int | None]) -> torch.Tensor:
    """Raise :class:`ShapeError` unless ``tensor.shape`` matches ``shape`` (None = any size)."""
    ok = tensor.dim() == len(shape) and all(
        want is None or got == want for got, want in zip(tensor.shape, shape, strict=True))
    if not ok:
        spec = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise invalid(name, f"has shape {list(tensor.shape)}, expected {spec}",
                      f"pass a tensor of shape {spec}", ShapeError)
    return tensor


def check_dtype(name: str, tensor: torch.Tensor, dtype: torch.dtype,
                device: torch.device) -> torch.Tensor:
    """Raise :class:`DtypeError` unless ``tensor`` has ``dtype`` and lives on ``device``'s type."""
    if tensor.dtype != dtype or tensor.device.type != device.type:
        raise invalid(name, f"is {tensor.dtype} on {tensor.device}, expected {dtype} on "
                      f"{device}", f"convert it with .to(dtype={dtype}, device='{device}')",
                      DtypeError)
    return tensor


def positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (bools and non-integral floats refused)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        value = value.item()
    integral = isinstance(value, numbers.Integral) or (
        isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        raise invalid(name, f"got {value!r}, not an integer", f"pass an int >= {minimum}")
    as_int = int(value)
    if as_int < minimum:
        raise invalid(name, f"got {as_int}", f"pass an int >= {minimum}")
    return as_int


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):   # not POSIX: no bound known
        return 2**62


def sample_count(name: str, value: Any, *, row_bytes: int) -> int:
    """``value`` as a positive int whose ``value × row_bytes`` fits in this machine's memory.

    A draw that cannot be allocated is refused before torch tries (and raises its own
    allocation error deep inside a call)."""
    n = positive_int(name, value)
    need = n * max(int(row_bytes), 1)
    if need > _physical_memory():
        raise invalid(name, f"asks for {n} rows, {need / 2**30:.3g} GiB, more than this "
                      f"machine's {_physical_memory() / 2**30:.3g} GiB of memory",
                      "draw in batches of fewer rows")
    return n


def as_generator(generator: Any, device: torch.device, name: str = "generator") -> torch.Generator:
    """Check that ``generator`` is a torch.Generator on ``device`` (an int seed is accepted)."""
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        g = torch.Generator(device=device)
        g.manual_seed(check_seed(name, generator))
        return g
    if not isinstance(generator, torch.Generator):
        raise invalid(name, f"got {type(generator).__name__}, not a torch.Generator",
                      "pass torch.Generator(device).manual_seed(seed) or an int seed "
                      "(there is no global RNG)")
    if generator.device.type != device.type:
        raise invalid(name, f"lives on {generator.device}, the distribution on {device}",
                      f"build it with torch.Generator(device='{device}')", DtypeError)
    return generator


def kernel_scalars(alpha: Any, sigma: Any, *, dtype: torch.dtype,
                   device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the kernel (α, σ) of x_t = α x0 + σ ε: finite positive scalars (0-dim tensors)."""
    out = []
    for name, value in (("alpha", alpha), ("sigma", sigma)):
        t = as_float_tensor(name, value, dtype=dtype, device=device)
        if t.numel() != 1:
            raise invalid(name, f"has shape {list(t.shape)}, expected a scalar",
                          "pass a float or a 0-dim tensor (one kernel per call)", ShapeError)
        t = t.reshape(())
        check_positive(name, t)
        out.append(t)
    return out[0], out[1]


def is_integral(value: float) -> bool:
    """True when the float ``value`` is a whole number."""
    return math.isfinite(value) and float(value).is_integer()


def check_points(name: str, x: Any, dim: int, dtype: torch.dtype,
                 device: torch.device) -> tuple[Tensor, tuple[int, ...]]:
    """x of shape [..., dim] in ``dtype`` on ``device`` and finite, flattened to [n, dim];
    also returns the leading shape for :func:`_cat`."""
    if not isinstance(x, Tensor):
        x = as_float_tensor(name, x, dtype=dtype, device=device)
    if x.dtype != dtype or x.device.type != device.type:
        raise invalid(name, f"is {x.dtype} on {x.device}, the distribution is {dtype} on "
                      f"{device}", f"convert it with .to(dtype={dtype}, device='{device}') "
                      "or build the distribution with that dtype", DtypeError)
    if x.dim() < 1 or x.shape[-1] != dim:
        raise invalid(name, f"has shape {list(x.shape)}", f"pass shape [n, {dim}] "
                      f"(last dimension = the data dimension {dim})", ShapeError)
    check_finite(name, x.detach())
    return x.reshape(-1, dim), tuple(x.shape[:-1])


def check_weights(name: str, weights: Any, device: torch.device) -> Tensor:
    """Mixture weights: 1-D, finite, >= 0, summing to 1 (to 1e-6 + K·1e-8); returned
    renormalised."""
    w = as_float_tensor(name, weights, dtype=torch.float64, device=device).detach()
    if w.dim() != 1 or w.numel() < 1:
        raise invalid(name, f"has shape {list(w.shape)}", "pass a 1-D tensor [K] with K >= 1",
                      ShapeError)
    check_positive(name, w, strict=False)
    total = float(w.sum())
    # float32 weights of many components sum to 1 only up to ~K·6e-8 of rounding.
    if abs(total - 1.0) > 1e-6 + 1e-8 * w.numel():
        raise invalid(name, f"sum to {total!r}, not 1", "normalise them: weights / weights.sum()")
    return w / w.sum()
