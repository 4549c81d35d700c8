"""What check_loss is given, resolved: data, models, times, the kernel, the weighting asked for.

Defaults are replayable from ``seed``: a three-component Gaussian mixture and random MLPs
(Vincent 2011 needs nothing more of p_0 than an exact posterior).
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from .._errors import DtypeError, ShapeError, SmeqError, invalid
from .._mixture import GaussianMixture
from .._networks import random_score_network
from .._validate import (
    MAX_SEED,
    call_user,
    check_callable,
    check_real_output,
    check_rtol,
    positive_int,
)
from ._probe import Kernel
from ._problem import Tensor
from ._weightings import LIKELIHOOD, WEIGHTINGS

ALIASES = {"ncsn": "eps", "epsilon": "eps", "sample": "x0", "x_0": "x0",
           "v_prediction": "v", "flow": "flow_matching", "rectified_flow": "flow_matching",
           "min_snr": "min_snr_eps", "elbo": LIKELIHOOD, "g2": LIKELIHOOD}


DEFAULT_MODELS = 4


DEFAULT_TIMES = 8


def _callable(name: str, value: Any, signature: str) -> None:
    check_callable(name, value, signature)


def default_mixture(dim: int, seed: int, dtype: torch.dtype, device: torch.device
                    ) -> GaussianMixture:
    """Three well-separated diagonal Gaussians in R^dim, replayable from ``seed``.

    Means N(0, 1.5²) and standard deviations in [0.3, 1]: the posterior is multi-modal at
    mid-range noise, so a bug that only a non-Gaussian p_0 reveals is not hidden.
    """
    g = torch.Generator().manual_seed((10_000 + seed) % (MAX_SEED + 1))
    k = 3
    weights = 0.2 + torch.rand(k, generator=g, dtype=torch.float64)
    means = 1.5 * torch.randn(k, dim, generator=g, dtype=torch.float64)
    std = 0.3 + 0.7 * torch.rand(k, dim, generator=g, dtype=torch.float64)
    return GaussianMixture(weights / weights.sum(), means, std**2, dtype=torch.float64,
                           device="cpu")


class _ShapedModel(torch.nn.Module):
    """A flat random MLP seen as a model on image-shaped x_t (flatten in, reshape out)."""

    def __init__(self, net: torch.nn.Module, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.net, self.shape = net, shape

    def forward(self, xt: Tensor, t: Any) -> Tensor:
        out = self.net(xt.reshape(xt.shape[0], -1), torch.as_tensor(t).to(xt.dtype))
        return out.reshape(xt.shape)


class _Contracting(torch.nn.Module):
    """net(x, t) − c·x: the −c·x term correlates with the true score (E[x·∇log p] = −d), so
    models with different c differ where a statistical test has power (Hyvärinen 2005, §2)."""

    def __init__(self, net: torch.nn.Module, c: float) -> None:
        super().__init__()
        self.net, self.c = net, c

    def forward(self, xt: Tensor, t: Any) -> Tensor:
        return self.net(xt, t) - self.c * xt


def default_models(n: int, dim: int, seed: int, dtype: torch.dtype, device: torch.device,
                   shape: tuple[int, ...] | None, *,
                   contracting: bool = False) -> list[torch.nn.Module]:
    """``n`` replayable random MLPs (seeds ``seed``..``seed+n−1``), image-shaped if asked;
    with ``contracting`` model j gets a −j·x term (for the statistical mode)."""
    nets: list[torch.nn.Module] = [
        random_score_network((seed + j) % (MAX_SEED + 1), dim, dtype=dtype, device=device)
        for j in range(n)]
    if contracting:
        nets = [_Contracting(net, float(j)) for j, net in enumerate(nets)]
    if shape is not None:
        nets = [_ShapedModel(net, shape) for net in nets]
    return nets


def _weighting_request(expected: Any) -> tuple[str | None, Callable[..., Any] | None]:
    if expected is None:
        return None, None
    if isinstance(expected, str):
        name = ALIASES.get(expected, expected)
        if name not in WEIGHTINGS and name != LIKELIHOOD:
            raise invalid("expected_weighting", f"got {expected!r}",
                          f"use one of {sorted([*WEIGHTINGS, LIKELIHOOD, *ALIASES])} or a "
                          "callable t -> λ(t)")
        return name, None
    if callable(expected):
        return getattr(expected, "__name__", "custom"), _checked_weighting(expected)
    raise invalid("expected_weighting", f"got {type(expected).__name__}",
                  "pass a weighting name such as 'eps' or a callable t -> λ(t)")


def _times_tensor(kernel: Kernel, times: Any, n_times: int) -> Tensor:
    if times is None:
        try:
            t = kernel.grid(n_times)
        except SmeqError as exc:
            problem = str(exc).split(": ", 1)[-1].split(". Fix:", 1)[0]
            raise invalid("n_times", f"the schedule cannot give {n_times} default times "
                          f"({problem})", "pass times= explicitly, a smaller n_times, or a "
                          "schedule with more steps") from None
    else:
        t = _as_times(times)
        if t.numel() < 1 or t.dtype == torch.bool or t.is_complex():
            raise invalid("times", f"got {times!r}", "pass a non-empty sequence of times in the "
                          "schedule's units")
    if kernel.discrete:
        if t.is_floating_point() and bool((t != torch.round(t)).any()):
            raise invalid("times", "has non-integer values for a discrete schedule",
                          "pass integer timesteps")
        return t.to(torch.int64)
    return t.to(torch.float64)


def _as_times(times: Any) -> Tensor:
    """User times as a flat CPU tensor: integers stay int64, anything else becomes float64."""
    if isinstance(times, Tensor):
        return times.detach().cpu().flatten()
    try:
        t = torch.as_tensor(times)
        if t.is_floating_point():
            t = torch.as_tensor(times, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise invalid("times", f"got {times!r}", "pass a sequence of times in the schedule's "
                      "units") from None
    return t.flatten()


def _kernel_on(kernel: Kernel, t: Tensor) -> tuple[Tensor, Tensor]:
    try:
        alpha = kernel.alpha(t).detach().to(torch.float64).cpu().reshape(-1)
        sigma = kernel.sigma(t).detach().to(torch.float64).cpu().reshape(-1)
    except SmeqError as exc:
        raise invalid("times", f"the schedule refused them: {exc}",
                      "pass times inside the schedule's domain (or leave times=None)") from exc
    except (RuntimeError, TypeError, IndexError) as exc:
        raise invalid("schedule", f"could not be evaluated at times {t.tolist()} ({exc})",
                      "pass times inside the schedule's domain") from exc
    if alpha.numel() == 1 and t.numel() > 1:
        alpha = alpha.expand(t.numel())
    if sigma.numel() == 1 and t.numel() > 1:
        sigma = sigma.expand(t.numel())
    for name, v in (("α", alpha), ("σ", sigma)):
        bad = ~torch.isfinite(v) | (v <= 0)
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise invalid("schedule", f"has {name}(t) = {float(v[i])!r} at t={t[i].item()}; the "
                          "guard needs α > 0 and σ > 0 on every checked time",
                          "pass `times` strictly inside the schedule's domain")
    return alpha, sigma


def _image_shape(image_shape: Any, dim: int) -> tuple[int, ...]:
    if image_shape is None:
        return (positive_int("dim", dim),)
    if isinstance(image_shape, str | bytes):
        raise invalid("image_shape", f"got the string {image_shape!r}",
                      "pass a tuple of ints like (3, 8, 8)")
    try:
        sizes = tuple(image_shape)
    except TypeError:
        raise invalid("image_shape", f"got {image_shape!r}",
                      "pass a tuple like (3, 8, 8)") from None
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sizes):
        raise invalid("image_shape", f"got {image_shape!r}: sizes must be integers",
                      "pass a tuple of ints like (3, 8, 8)")
    shape = tuple(int(s) for s in sizes)
    if not shape or any(s < 1 for s in shape):
        raise invalid("image_shape", f"got {image_shape!r}", "pass positive sizes like (3, 8, 8)")
    return shape


def _data(data: Any, dim: int, seed: int, device: torch.device) -> GaussianMixture:
    if data is None:
        return default_mixture(dim, seed, torch.float64, device)
    if not isinstance(data, GaussianMixture):
        raise invalid("data", f"got {type(data).__name__}", "pass a numeric.GaussianMixture "
                      "(its exact posterior makes the check exact) or None")
    if data.dim != dim:
        raise invalid("data", f"has dim {data.dim}, the check uses {dim}",
                      "pass dim= (or image_shape=) matching the mixture")
    return data.to(dtype=torch.float64, device="cpu")


def _models(models: Iterable[Any] | None, n: int, dim: int, seed: int, dtype: torch.dtype,
            device: torch.device, shape: Any, *, contracting: bool = False) -> list[Any]:
    if models is None:
        n = positive_int("n_models", n, minimum=2)
        return default_models(n, dim, seed, dtype, device,
                              None if shape is None else tuple(int(s) for s in shape),
                              contracting=contracting)
    try:
        out = list(models)
    except TypeError:
        raise invalid("models", f"got {type(models).__name__}, not iterable",
                      "pass a list of models (at least 2, better 4)") from None
    if isinstance(models, str | bytes):
        raise invalid("models", f"got the string {models!r}", "pass a list of models")
    if len(out) < 2:
        raise invalid("models", f"got {len(out)} model(s)", "pass at least 2 models (4 is "
                      "the default): the check compares models")
    for j, model in enumerate(out):
        if not callable(model):
            raise invalid("models", f"models[{j}] is {type(model).__name__} {model!r:.40}, not "
                          "callable", "pass models that your to_score and loss can call")
        if isinstance(model, torch.nn.Module):
            for p in list(model.parameters()) + list(model.buffers()):
                if p.is_floating_point() and p.dtype != dtype:
                    raise invalid("models", f"models[{j}] has {p.dtype} parameters, the check "
                                  f"runs in {dtype}", f"convert them with model.to({dtype}) "
                                  f"or pass dtype={p.dtype}", DtypeError)
    return out


def check_models_run(to_score: Callable[..., Any], models: list[Any], xt: Tensor, t: Tensor,
                     user_models: bool) -> None:
    """Call ``to_score`` on each model with two samples before any loss is evaluated, so that a
    model that cannot take this data (wrong dimension, say) is named as such, not as the loss."""
    if not user_models:
        return
    for j, model in enumerate(models):
        try:
            out = to_score(model, xt[:2].clone(), t[:2].clone())
        except Exception as exc:
            raise invalid("models", f"to_score(models[{j}], x_t, t) raised "
                          f"{type(exc).__name__}: {exc} (x_t {list(xt[:2].shape)} "
                          f"{xt.dtype}, t {list(t[:2].shape)})", "pass models that take x_t "
                          f"of shape [n, {', '.join(map(str, xt.shape[1:]))}] (or fix "
                          "to_score)") from exc
        if isinstance(out, Tensor) and out.shape != xt[:2].shape:
            raise invalid("models", f"to_score(models[{j}], x_t, t) returned shape "
                          f"{list(out.shape)} for x_t of shape {list(xt[:2].shape)}",
                          "pass models whose output matches the data dimension", ShapeError)


def check_arguments(*, rtol: Any, weighting_params: Any, low_precision: Any,
                    statistical: Any) -> tuple[float | None, dict[str, float] | None,
                                               tuple[torch.dtype, ...]]:
    """The check's knobs, each refused with its name and fix (never a silent NaN threshold)."""
    from ._weightings import WEIGHTINGS

    if statistical not in (False, True, "data", "time") or (isinstance(statistical, int) and \
            not isinstance(statistical, bool)):
        raise invalid("statistical", f"got {statistical!r}", "pass False (exact coupled check), "
                      "True or 'data' (loss(model, x0) on the data, e.g. implicit or sliced SM), "
                      "or 'time' (loss(model, x0) that draws t and the noise itself)")
    known = sorted({p for w in WEIGHTINGS.values() for p in w.params})
    params: dict[str, float] | None = None
    if weighting_params is not None:
        if not isinstance(weighting_params, Mapping):
            raise invalid("weighting_params", f"got {type(weighting_params).__name__}",
                          f"pass a dict with keys from {known}, e.g. {{'sigma_data': 0.5}}")
        params = {}
        for key, value in weighting_params.items():
            if key not in known:
                raise invalid("weighting_params", f"has the unknown key {key!r}",
                              f"use keys from {known}")
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not ok or not (float(value) > 0 and float(value) < float("inf")):
                raise invalid("weighting_params", f"{key}={value!r}",
                              f"pass a finite positive number for {key}")
            params[str(key)] = float(value)
    try:
        lows = tuple(low_precision)
    except TypeError:
        raise invalid("low_precision", f"got {low_precision!r}", "pass a tuple of torch "
                      "dtypes, e.g. (torch.bfloat16, torch.float16), or ()") from None
    bad = [d for d in lows if not (isinstance(d, torch.dtype) and d.is_floating_point)]
    if bad:
        raise invalid("low_precision", f"has {bad[0]!r}, not a floating torch dtype",
                      "pass floating torch dtypes, e.g. (torch.bfloat16, torch.float16)",
                      DtypeError)
    return check_rtol("rtol", rtol), params, lows


def _checked_weighting(fn: Callable[..., Any]) -> Callable[[Tensor], Tensor]:
    """``expected_weighting`` as a callable t -> λ(t) whose errors and outputs are checked."""
    fix = "make expected_weighting(t) return λ(t), a real tensor with one value per t (or one)"

    def weighting(t: Tensor) -> Tensor:
        out = check_real_output("expected_weighting",
                                call_user("expected_weighting", fn, t, fix=fix), fix)
        try:
            lam = torch.as_tensor(out).detach().to(torch.float64).cpu().reshape(-1)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise invalid("expected_weighting", f"returned {type(out).__name__} ({exc})",
                          fix) from None
        if lam.numel() not in (1, t.numel()):
            raise invalid("expected_weighting", f"returned {lam.numel()} values for "
                          f"{t.numel()} times", fix, ShapeError)
        if not bool(torch.isfinite(lam).all()):
            raise invalid("expected_weighting", "returned NaN or inf", fix)
        return lam

    weighting.__name__ = getattr(fn, "__name__", "custom")
    return weighting


#: How the guard calls the user's functions (the labels of in-place findings).
LOSS_ARGS = ("model", "x0", "t", "noise")
SCORE_ARGS = ("model", "x_t", "t")


def with_findings(report: Any, *watches: InPlaceWatch) -> Any:
    """``report`` with the in-place findings of ``watches`` added (then not ok)."""
    import dataclasses

    extra = [f for w in watches for f in w.findings()]
    if not extra:
        return report
    return dataclasses.replace(report, ok=False, findings=tuple(report.findings) + tuple(extra))


class InPlaceWatch:
    """A user callable (``loss`` or ``to_score``) called with fresh copies of its tensor
    arguments, so an in-place change (``xt.mul_(1.5)``) cannot corrupt the next model's
    evaluation; the change is recorded and reported as a finding. Complex outputs are refused.
    Attribute look-ups fall through to the wrapped callable (``__self__``, ``__qualname__``)."""

    def __init__(self, name: str, fn: Callable[..., Any], labels: tuple[str, ...]) -> None:
        self._name, self._fn, self._labels = name, fn, labels
        self._changed: dict[str, None] = {}
        self._lock = threading.Lock()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") and attr in {"_fn", "_name", "_labels", "_changed", "_lock"}:
            raise AttributeError(attr)
        return getattr(self._fn, attr)

    def __call__(self, *args: Any) -> Any:
        if any(_batched(a) for a in args):  # inside torch.func.vmap: no data-dependent checks
            return self._fn(*args)
        copies = [a.detach().clone() if isinstance(a, Tensor) else a for a in args]
        fresh = [a.clone() if isinstance(a, Tensor) else a for a in args]
        out = self._fn(*fresh)
        for i, (before, after) in enumerate(zip(copies, fresh, strict=True)):
            if isinstance(before, Tensor) and not _same(before, after):
                label = self._labels[i] if i < len(self._labels) else f"argument {i}"
                with self._lock:
                    self._changed[label] = None
        check_real_output(self._name, out, f"make {self._name} return a real tensor (e.g. "
                          "take .real or .abs() explicitly if that is what you mean)")
        return out

    def findings(self) -> list[str]:
        return [f"{self._name} changes its input `{label}` in place (the guard gave every call "
                "a fresh copy, so the check itself is unaffected, but a training loop reusing "
                "that tensor would be corrupted): use out-of-place operations"
                for label in self._changed]


def _batched(x: Any) -> bool:
    if not isinstance(x, Tensor):
        return False
    try:
        return bool(torch._C._functorch.is_batchedtensor(x))
    except (AttributeError, RuntimeError):
        return False


def _same(a: Tensor, b: Tensor) -> bool:
    b = b.detach()
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b) or (
        a.is_floating_point() and bool(((a == b) | (a.isnan() & b.isnan())).all())))


def watch_schedule(schedule: Any) -> Any:
    """A plain ``add_noise(x0, noise, t)`` callable wrapped so that complex outputs are refused
    (schedule objects and numeric.Schedule pass through unchanged)."""
    has_kernel = callable(getattr(schedule, "alpha", None)) and callable(
        getattr(schedule, "sigma", None))
    if has_kernel or not callable(schedule):
        return schedule
    return InPlaceWatch("schedule", schedule, ("x0", "noise", "t"))
