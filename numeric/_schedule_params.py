"""Checked parameters of the schedule constructors, and g² by autograd for user schedules.

Each helper names the argument it refuses (docs/design.md §4: errors name the argument and the
fix); g² = −σ² dλ/dt (Song et al. 2021, eq. 8 and Appendix).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ._errors import invalid

Tensor = torch.Tensor


def _key_of(value: Any) -> Any:
    """A hashable identity for a user callable (bound methods of one object compare equal)."""
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


def _slack(bound: float, dtype: torch.dtype) -> float:
    """Rounding slack so that a float32 copy of t_max still counts as inside."""
    eps = torch.finfo(dtype).eps if dtype.is_floating_point else 0.0
    return 4.0 * eps * max(1.0, abs(bound))


def _number(name: str, value: Any, *, minimum: float | None = None,
            strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, Tensor) and value.numel() == 1:
            value = float(value)
        else:
            raise invalid(name, f"got {type(value).__name__} {value!r}", "pass a float")
    value = float(value)
    if not math.isfinite(value):
        raise invalid(name, f"got {value!r}", "pass a finite float")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        rel = ">" if strict else ">="
        raise invalid(name, f"got {value!r}", f"pass a value {rel} {minimum}")
    return value


def _betas(beta_min: Any, beta_max: Any) -> tuple[float, float]:
    b0 = _number("beta_min", beta_min, minimum=0.0)
    b1 = _number("beta_max", beta_max, minimum=0.0, strict=True)
    if b1 < b0:
        raise invalid("beta_max", f"got beta_max={b1!r} < beta_min={b0!r}",
                      "pass 0 <= beta_min <= beta_max")
    return b0, b1


def _sigma_range(sigma_min: Any, sigma_max: Any) -> tuple[float, float]:
    lo = _number("sigma_min", sigma_min, minimum=0.0, strict=True)
    hi = _number("sigma_max", sigma_max, minimum=0.0, strict=True)
    if not hi > lo:
        raise invalid("sigma_max", f"got sigma_max={hi!r} <= sigma_min={lo!r}",
                      "pass 0 < sigma_min < sigma_max")
    return lo, hi


def _autograd_g2(alpha: Callable[[Tensor], Tensor],
                 sigma: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """g² = −σ² dλ/dt by autograd, for user schedules given without g²."""

    def g2(t: Tensor) -> Tensor:
        with torch.enable_grad():
            tt = t.detach().clone().requires_grad_(True)
            a, s = alpha(tt), sigma(tt)
            lam = 2.0 * (torch.log(a) - torch.log(s))
            if not lam.requires_grad:
                raise invalid("g2", "λ(t) = log(α²/σ²) of the user functions is not "
                              "differentiable by torch autograd",
                              "pass g2=<function t -> g²(t)> to Schedule.from_functions")
            (dlam,) = torch.autograd.grad(lam.sum(), tt)
        return (-(s.detach() ** 2) * dlam).detach()

    return g2
