"""The one tolerance table, keyed by (dtype, device type), used by every numeric check; and the
guard's pass threshold, which follows the conditioning of each time point."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._errors import invalid

__all__ = [
    "CONDITIONING_MARGIN",
    "RESIDUAL_RTOL",
    "ROUNDING_MARGIN",
    "TOLERANCES",
    "UNRESOLVED_FLOOR",
    "Tolerance",
    "conditioning",
    "data_scale",
    "residual_thresholds",
    "rounding_floors",
    "tolerance",
]


@dataclass(frozen=True)
class Tolerance:
    """Relative and absolute tolerance for one (dtype, device) pair."""

    rtol: float
    atol: float


# float64 rounding is ~1e-16; sums over a few thousand terms and log-sum-exp lose ~2 digits.
# float32 (~6e-8) on GPU reorders reductions (TF32 is off in our code paths), hence the margin.
TOLERANCES: dict[tuple[torch.dtype, str], Tolerance] = {
    (torch.float64, "cpu"): Tolerance(rtol=1e-10, atol=1e-12),
    (torch.float64, "cuda"): Tolerance(rtol=1e-10, atol=1e-12),
    (torch.float32, "cpu"): Tolerance(rtol=2e-4, atol=1e-5),
    (torch.float32, "cuda"): Tolerance(rtol=5e-4, atol=1e-5),
}


def tolerance(dtype: torch.dtype, device: str | torch.device = "cpu") -> Tolerance:
    """The tolerance for comparing results computed in ``dtype`` on ``device``."""
    from ._validate import resolve_device, resolve_dtype

    dtype = resolve_dtype(dtype)
    kind = resolve_device(device, available=False).type
    try:
        return TOLERANCES[(dtype, kind)]
    except KeyError:
        raise invalid("dtype", f"no tolerance for {dtype} on {kind}",
                      f"use one of {sorted({str(k[0]) for k in TOLERANCES})}") from None


#: The guard's pass threshold on the relative residual at a well-conditioned time: a correct loss
#: measures ≤ 1e-12 in float64 (bench/guard.py) and planted bugs ≥ 1e-3 (tests/quality).
RESIDUAL_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-7, torch.float32: 1e-3}

#: Headroom of the rounding floor over what correct losses measure: over ε, x0, v, EDM and
#: flow-matching losses on EDM (σ = 1e-12..1e6), VE, VP and rectified-flow schedules the residual
#: stays below 3·eps·κ(t) (bench/guard_conditioning.py); 100 leaves a factor 30 on top.
CONDITIONING_MARGIN = 100.0


def conditioning(alpha: torch.Tensor, sigma: torch.Tensor, scale: float) -> torch.Tensor:
    """κ(t) = αR/σ + σ/(αR): how many digits forming x_t = αx0 + σε (and taking the noise or
    the signal back out of it) costs at each time, for data of scale R. κ = 2 when signal and
    noise are equal; σ = 1e-10 with R ≈ 2 gives κ ≈ 2e10."""
    ratio = alpha.to(torch.float64) * scale / sigma.to(torch.float64)
    return ratio + 1.0 / ratio


def residual_thresholds(dtype: torch.dtype, alpha: torch.Tensor, sigma: torch.Tensor, *,
                        scale: float, rtol: float | None = None) -> torch.Tensor:
    """The guard's pass threshold per time: ``rtol`` (default :data:`RESIDUAL_RTOL` of
    ``dtype``), raised where the time point is ill-conditioned to the rounding floor
    CONDITIONING_MARGIN · eps(dtype) · κ(t). A correct loss then passes over the whole schedule
    (down to σ = 1e-10 in float64) instead of being blamed for float64's own rounding."""
    base = rtol if rtol is not None else RESIDUAL_RTOL.get(dtype, 0.05)
    floor = CONDITIONING_MARGIN * torch.finfo(dtype).eps * conditioning(alpha, sigma, scale)
    return torch.clamp(floor, min=base)


def data_scale(weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> float:
    """R = √(E‖x0‖²/d) of a Gaussian mixture (the scale that enters :func:`conditioning`)."""
    w, mu, c = (v.detach().to(torch.float64).cpu() for v in (weights, means, covs))
    d = mu.shape[-1]
    trace = c * d if c.dim() == 1 else (c.sum(-1) if c.dim() == 2 else
                                         c.diagonal(dim1=-2, dim2=-1).sum(-1))
    return float(((w * ((mu * mu).sum(-1) + trace)).sum() / d).sqrt())


#: Headroom of the measured rounding floor: a correct score-parametrised loss at σ = 1e-6 (its
#: value 3e11 times its model-dependent part) measured 1.6·eps·ratio; 16 leaves a factor 10.
ROUNDING_MARGIN = 16.0
#: A time whose rounding floor reaches this cannot separate the smallest planted bug (≥ 6e-3,
#: tests/quality) from rounding: it is left out of the verdict, and the report says so.
UNRESOLVED_FLOOR = 1e-3


def rounding_floors(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Per time, the relative residual that rounding alone leaves when the model-dependent part
    of a loss is a difference of much larger values: ROUNDING_MARGIN · eps(dtype) · rms(L̄) /
    rms(L̄_j − L̄_0), from the coupled averages ``values`` [J, T, n] of J models. It is measured
    from the loss itself, so it covers any parametrisation (a score target ε/σ at σ = 1e-8 makes
    the loss 1e16 times its model-dependent part, which no float64 check can resolve)."""
    v = values.to(torch.float64)
    magnitude = v.pow(2).mean((0, 2)).sqrt()
    delta = (v[1:] - v[:1]).pow(2).mean((0, 2)).sqrt()
    ratio = magnitude / delta.clamp_min(torch.finfo(torch.float64).tiny)
    return ROUNDING_MARGIN * torch.finfo(dtype).eps * ratio
