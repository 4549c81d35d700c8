"""What check_loss is given, resolved: data, models, times, the kernel, the weighting asked for.

Defaults are replayable from ``seed``: a three-component Gaussian mixture and random MLPs
(Vincent 2011 needs nothing more of p_0 than an exact posterior).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from .._errors import SmeqError, invalid
from .._mixture import GaussianMixture
from .._networks import random_score_network
from .._validate import positive_int
from ._probe import Kernel
from ._problem import Tensor
from ._weightings import LIKELIHOOD, WEIGHTINGS

ALIASES = {"ncsn": "eps", "epsilon": "eps", "sample": "x0", "x_0": "x0",
           "v_prediction": "v", "flow": "flow_matching", "rectified_flow": "flow_matching",
           "min_snr": "min_snr_eps", "elbo": LIKELIHOOD, "g2": LIKELIHOOD}


DEFAULT_MODELS = 4


DEFAULT_TIMES = 8


def _callable(name: str, value: Any, signature: str) -> None:
    if not callable(value):
        raise invalid(name, f"got {type(value).__name__}, which is not callable",
                      f"pass a function {signature}")


def default_mixture(dim: int, seed: int, dtype: torch.dtype, device: torch.device
                    ) -> GaussianMixture:
    """Three well-separated diagonal Gaussians in R^dim, replayable from ``seed``.

    Means N(0, 1.5²) and standard deviations in [0.3, 1]: the posterior is multi-modal at
    mid-range noise, so a bug that only a non-Gaussian p_0 reveals is not hidden.
    """
    g = torch.Generator().manual_seed(10_000 + seed)
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
        random_score_network(seed + j, dim, dtype=dtype, device=device) for j in range(n)]
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
        return getattr(expected, "__name__", "custom"), expected
    raise invalid("expected_weighting", f"got {type(expected).__name__}",
                  "pass a weighting name such as 'eps' or a callable t -> λ(t)")


def _times_tensor(kernel: Kernel, times: Any, n_times: int) -> Tensor:
    if times is None:
        t = kernel.grid(n_times)
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
    try:
        shape = tuple(int(s) for s in image_shape)
    except TypeError:
        raise invalid("image_shape", f"got {image_shape!r}",
                      "pass a tuple like (3, 8, 8)") from None
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
    if len(out) < 2:
        raise invalid("models", f"got {len(out)} model(s)", "pass at least 2 models (4 is "
                      "the default): the check compares models")
    return out
