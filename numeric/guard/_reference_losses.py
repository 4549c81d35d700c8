"""Built-in correct losses, one per parametrisation, with their model-to-score maps.

Each is ``loss(model, x0, t, noise) -> [B]`` with x_t = α x0 + σ ε (docs/design.md §1) and
``to_score(model, x_t, t)``; the weighting each implies in score space is the ``weighting_*`` closed
form of the same name (Kingma & Gao 2023, Table 1; Karras et al. 2022, Table 1). The guard's meta
tests and ``smeq verify`` use them as the known-good side; the sliced/implicit SM losses are the
known-good side of the statistical mode (Hyvärinen 2005, eq. 4; Song et al. 2019, eq. 7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .._errors import invalid
from .._schedules import Schedule

__all__ = ["REFERENCE_LOSSES", "ReferenceLoss", "implicit_sm_loss", "reference_loss",
           "sliced_sm_loss"]

Tensor = torch.Tensor
Loss = Callable[[Any, Tensor, Tensor, Tensor], Tensor]
ToScore = Callable[[Any, Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class ReferenceLoss:
    """A correct loss, its ``to_score`` and the name of the weighting it implies."""

    name: str
    weighting: str
    loss: Loss
    to_score: ToScore
    params: tuple[tuple[str, float], ...] = ()


def _col(v: Tensor, like: Tensor) -> Tensor:
    """A per-sample [B] schedule value shaped to broadcast over one sample's axes."""
    return v.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


def _reduce(sq: Tensor, reduction: str) -> Tensor:
    flat = sq.reshape(sq.shape[0], -1)
    return flat.sum(1) if reduction == "sum" else flat.mean(1)


def _kernel(schedule: Schedule, t: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
    return _col(schedule.alpha(t), like), _col(schedule.sigma(t), like)


def reference_loss(name: str, schedule: Any, *, reduction: str = "sum", sigma_data: float = 0.5,
                   gamma: float = 5.0) -> ReferenceLoss:
    """The correct ``name`` loss on ``schedule``: score, ncsn, eps, x0, v, edm, flow_matching,
    min_snr_eps or likelihood. ``reduction`` is "sum" or "mean" over the sample's axes (mean
    scales λ by 1/D). EDM assumes α = 1; flow matching assumes α = 1 − t, σ = t."""
    if name not in REFERENCE_LOSSES:
        raise invalid("name", f"got {name!r}", f"use one of {list(REFERENCE_LOSSES)}")
    if reduction not in ("sum", "mean"):
        raise invalid("reduction", f"got {reduction!r}", "use 'sum' or 'mean'")
    sched = Schedule.from_object(schedule)
    return REFERENCE_LOSSES[name](sched, reduction, sigma_data, gamma)


def _score(s: Schedule, red: str, sd: float, gm: float) -> ReferenceLoss:
    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = _kernel(s, t, x0)
        return _reduce((model(a * x0 + sg * noise, t) + noise / sg) ** 2, red)

    return ReferenceLoss("score", "score", loss, lambda m, x, t: m(x, t))


def _ncsn(s: Schedule, red: str, sd: float, gm: float) -> ReferenceLoss:
    """Song & Ermon (2019), eq. 6: σ²‖s + ε/σ‖², i.e. λ = σ² (the eps shape)."""
    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = _kernel(s, t, x0)
        return _reduce((sg * model(a * x0 + sg * noise, t) + noise) ** 2, red)

    return ReferenceLoss("ncsn", "eps", loss, lambda m, x, t: m(x, t))


def _eps(s: Schedule, red: str, sd: float, gm: float) -> ReferenceLoss:
    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = _kernel(s, t, x0)
        return _reduce((model(a * x0 + sg * noise, t) - noise) ** 2, red)

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        return -model(xt, t) / _col(s.sigma(t), xt)

    return ReferenceLoss("eps", "eps", loss, to_score)


def _x0(s: Schedule, red: str, sd: float, gm: float) -> ReferenceLoss:
    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = _kernel(s, t, x0)
        return _reduce((model(a * x0 + sg * noise, t) - x0) ** 2, red)

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        a, sg = _kernel(s, t, xt)
        return (a * model(xt, t) - xt) / sg**2

    return ReferenceLoss("x0", "x0", loss, to_score)


def _v(s: Schedule, red: str, sd: float, gm: float) -> ReferenceLoss:
    """Salimans & Ho (2022): v = α ε − σ x0; score = −(σ x_t + α v)/(σ(α² + σ²))."""
    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = _kernel(s, t, x0)
        return _reduce((model(a * x0 + sg * noise, t) - (a * noise - sg * x0)) ** 2, red)

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        a, sg = _kernel(s, t, xt)
        return -(sg * xt + a * model(xt, t)) / (sg * (a**2 + sg**2))

    return ReferenceLoss("v", "v", loss, to_score)


def _edm(s: Schedule, red: str, sd: float, gm: float) -> ReferenceLoss:
    """Karras et al. (2022), Table 1: D = c_skip x + c_out F(c_in x), λ = (σ² + σ_d²)/(σ σ_d)²."""
    def denoise(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        sg = _col(s.sigma(t), xt)
        c_skip = sd**2 / (sg**2 + sd**2)
        c_out = sg * sd / torch.sqrt(sg**2 + sd**2)
        c_in = 1 / torch.sqrt(sg**2 + sd**2)
        return c_skip * xt + c_out * model(c_in * xt, t)

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = _kernel(s, t, x0)
        weight = (sg**2 + sd**2) / (sg * sd) ** 2
        return _reduce(weight * (denoise(model, a * x0 + sg * noise, t) - x0) ** 2, red)

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        return (denoise(model, xt, t) - xt) / _col(s.sigma(t), xt) ** 2

    return ReferenceLoss("edm", "edm", loss, to_score, (("sigma_data", sd),))


def _flow(s: Schedule, red: str, sd: float, gm: float) -> ReferenceLoss:
    """Lipman et al. (2023), Liu et al. (2023): velocity target ε − x0 for α = 1 − t, σ = t."""
    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = _kernel(s, t, x0)
        return _reduce((model(a * x0 + sg * noise, t) - (noise - x0)) ** 2, red)

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        a, sg = _kernel(s, t, xt)
        return -(xt + a * model(xt, t)) / sg

    return ReferenceLoss("flow_matching", "flow_matching", loss, to_score)


def _min_snr(s: Schedule, red: str, sd: float, gm: float) -> ReferenceLoss:
    """Hang et al. (2023): ε loss weighted by min(SNR, γ)/SNR."""
    base = _eps(s, red, sd, gm)

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        snr = (s.alpha(t) / s.sigma(t)) ** 2
        return torch.clamp(snr, max=gm).to(x0.dtype) / snr.to(x0.dtype) * base.loss(
            model, x0, t, noise)

    return ReferenceLoss("min_snr_eps", "min_snr_eps", loss, base.to_score, (("gamma", gm),))


def _likelihood(s: Schedule, red: str, sd: float, gm: float) -> ReferenceLoss:
    """Song et al. (2021a), likelihood weighting: g²(t)‖s + ε/σ‖²."""
    base = _score(s, red, sd, gm)

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        return s.g2(t).to(x0.dtype) * base.loss(model, x0, t, noise)

    return ReferenceLoss("likelihood", "likelihood", loss, base.to_score)


REFERENCE_LOSSES: dict[str, Callable[[Schedule, str, float, float], ReferenceLoss]] = {
    "score": _score, "ncsn": _ncsn, "eps": _eps, "x0": _x0, "v": _v, "edm": _edm,
    "flow_matching": _flow, "min_snr_eps": _min_snr, "likelihood": _likelihood}


def _zeros_t(x: Tensor) -> Tensor:
    return torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)


def implicit_sm_loss(model: Any, x: Tensor) -> Tensor:
    """Hyvärinen (2005), eq. 4, per sample: ½‖s‖² + tr ∇_x s (exact trace; E = ½ SM + const)."""
    with torch.enable_grad():
        xx = x.detach().clone().requires_grad_(True)
        s = model(xx, _zeros_t(xx))
        trace = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i in range(x.shape[1]):
            (g,) = torch.autograd.grad(s[:, i].sum(), xx, create_graph=True)
            trace = trace + g[:, i]
    return 0.5 * (s**2).sum(1) + trace


def sliced_sm_loss(model: Any, x: Tensor) -> Tensor:
    """Song et al. (2019), eq. 7, per sample: ½(vᵀs)² + vᵀ∇_x(vᵀs), v ~ N(0, I) drawn from the
    torch RNG (the guard seeds it). E_v = ½‖s‖² + tr ∇s, i.e. ½ SM + const."""
    with torch.enable_grad():
        xx = x.detach().clone().requires_grad_(True)
        v = torch.randn(x.shape, dtype=x.dtype, device=x.device)
        s = model(xx, _zeros_t(xx))
        proj = (v * s).sum(1)
        (g,) = torch.autograd.grad(proj.sum(), xx, create_graph=True)
    return 0.5 * proj**2 + (v * g).sum(1)

