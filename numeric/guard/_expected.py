"""The weighting the user expects (``expected_weighting``), compared with the fitted λ(t)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._problem import Tensor
from ._weightings import LIKELIHOOD, WEIGHTINGS, Match, describe_power_law


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
                    rtol: float, params: dict[str, float] | None, dim: int) -> list[str]:
    from ._weightings import _constant_ratio, _try

    if fn is not None:
        ref = torch.as_tensor(fn(t)).detach().double().cpu().reshape(-1).expand(t.numel())
        ok = _constant_ratio(lam, ref, rtol) is not None
    else:
        if name == LIKELIHOOD and g2 is None:
            return ["expected the likelihood weighting g², but the schedule has no g2(t)"]
        ok = _try(name, lam, alpha, sigma, g2, rtol, params or {}) is not None
    if ok:
        return []
    measured = (matched.text(dim) if matched is not None else
                describe_power_law(lam, alpha, sigma, rtol=rtol) or
                "{" + ", ".join(f"{_ft(a)}: {b:.4g}" for a, b in
                                zip(t.tolist(), lam.tolist(), strict=True)) + "}")
    return [f"the weighting is not {_expected_text(name, fn)}: measured {measured}"]
