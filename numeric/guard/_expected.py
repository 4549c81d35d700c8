"""The weighting the user expects (``expected_weighting``), compared with the fitted λ(t).

By default only the shape is compared (λ(t) = c·expected(t) for some c > 0: a mean over
dimensions or a ½ is not a bug). With ``expected_scale`` the constant is asserted too:
λ(t) = expected_scale·expected(t), so a loss 5× too large fails."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._problem import Tensor
from ._weightings import LIKELIHOOD, WEIGHTINGS, Match, describe_power_law

__all__ = ["expected_scale_value"]


def expected_scale_value(value: Any, expected: Any = "given") -> float | None:
    """``expected_scale`` checked: None (shapes only) or a finite number > 0, and only together
    with an ``expected`` weighting."""
    from .._errors import invalid

    if value is None:
        return None
    if expected is None:
        raise invalid("expected_scale", f"got {value!r} without expected_weighting",
                      "pass expected_weighting=<name or callable t -> λ(t)> as well (the scale "
                      "is a multiple of it), or drop expected_scale")
    if isinstance(value, bool):
        raise invalid("expected_scale", f"got {value!r}", "pass a number c > 0 (λ(t) must be "
                      "c·expected_weighting(t); 1.0 for the formula itself) or None")
    try:
        c = float(value)
    except (TypeError, ValueError):
        raise invalid("expected_scale", f"got {type(value).__name__}", "pass a number c > 0 or "
                      "None") from None
    if not (c > 0 and c < float("inf")):
        raise invalid("expected_scale", f"got {value!r}", "pass a finite number c > 0 or None")
    return c


def _ft(t: float) -> str:
    return str(int(t)) if float(t).is_integer() and abs(t) >= 1 else f"{t:.4g}"


def _expected_text(name: str, fn: Callable[..., Any] | None) -> str:
    if fn is not None:
        return f"{name} (a user function of t)"
    if name == LIKELIHOOD:
        return "likelihood (λ = g²)"
    return f"{name} (λ = {WEIGHTINGS[name].formula})"


def _check_expected(lam: Tensor, t: Tensor, alpha: Tensor, sigma: Tensor, g2: Tensor | None,
                    name: str, fn: Callable[..., Any] | None, matched: Match | None,
                    rtol: float, params: dict[str, float] | None, dim: int, *,
                    rates: tuple[Tensor, Tensor] | None = None,
                    scale: float | None = None) -> list[str]:
    from ._weightings import VELOCITY, _constant_ratio, _try

    found: float | None
    if fn is not None:
        ref = torch.as_tensor(fn(t)).detach().double().cpu().reshape(-1).expand(t.numel())
        found = _constant_ratio(lam, ref, rtol)
    else:
        if name == LIKELIHOOD and g2 is None:
            return ["expected the likelihood weighting g², but the schedule has no g2(t)"]
        if name == VELOCITY and rates is None:
            return ["expected the velocity weighting, but α̇(t), σ̇(t) could not be taken from "
                    "the schedule by autograd (a discrete table or a probed add_noise): pass a "
                    "numeric.Schedule or an object with differentiable alpha(t)/sigma(t)"]
        match = _try(name, lam, alpha, sigma, g2, rtol, params or {}, rates)
        found = None if match is None else match.scale
    if found is not None and scale is not None and abs(found / scale - 1) > rtol:
        return [f"the weighting has the shape of {_expected_text(name, fn)} but {found:.6g}× it, "
                f"where expected_scale={scale:g} asks for {scale:g}× (a mean in place of a sum "
                "over dimensions gives 1/D, a ½ gives 0.5; fix the loss, or pass the scale you "
                "intend as expected_scale, or expected_scale=None to compare shapes only)"]
    if found is not None:
        return []
    measured = (matched.text(dim) if matched is not None else
                describe_power_law(lam, alpha, sigma, rtol=rtol) or
                "{" + ", ".join(f"{_ft(a)}: {b:.4g}" for a, b in
                                zip(t.tolist(), lam.tolist(), strict=True)) + "}")
    return [f"the weighting is not {_expected_text(name, fn)}: measured {measured}"]
