"""Plain-torch kernels shared by the training-step tests (no input validation, so a step that
uses them can be vmapped)."""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def col(v: Tensor, like: Tensor) -> Tensor:
    """``v`` [B] as a column broadcasting against ``like`` [B, ...], in its dtype."""
    return v.reshape(-1, *[1] * (like.dim() - 1)).to(like.dtype)


def vp(t: Tensor) -> tuple[Tensor, Tensor]:
    """VP-linear α(t), σ(t); the same values as ``Schedule.vp_linear()`` (Song et al. 2021)."""
    log_alpha = -0.25 * t**2 * (20.0 - 0.1) - 0.5 * t * 0.1
    return log_alpha.exp(), (-torch.expm1(2 * log_alpha)).sqrt()
