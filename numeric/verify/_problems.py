"""The default problems of ``smeq verify``: a 3-D mixture, the cosine VP schedule, networks.

A 3-D, 3-component mixture with unequal diagonal covariances: posterior weights change with
x_t, so the between-component part of C(t) is not trivial; t = 0.5 on the cosine VP schedule
puts α ≈ σ ≈ 0.7, where neither the data nor the noise dominates.
"""

from __future__ import annotations

from typing import Any

import torch

from ._checks import Context

# ---- the default problems -------------------------------------------------------------------
# A 3-D, 3-component mixture with unequal diagonal covariances: posterior weights change with
# x_t, so the between-component part of C(t) is not trivial; t = 0.5 on the cosine VP schedule
# puts α ≈ σ ≈ 0.7, where neither the data nor the noise dominates.
_WEIGHTS = [0.5, 0.3, 0.2]


_MEANS = [[-1.5, 0.5, 1.0], [1.5, 1.0, -1.0], [0.0, -1.5, 0.5]]


_COVS = [[0.3, 0.5, 0.2], [0.4, 0.2, 0.6], [0.5, 0.5, 0.5]]


_T = 0.5


# A single isotropic Gaussian N(μ, s²I) for the closed form C = d/σ² − d/(α²s² + σ²).
_GAUSS_MEAN = [0.5, -0.3, 1.0]


_GAUSS_STD = 0.8


def _mixture(context: Context) -> Any:
    from .._mixture import GaussianMixture

    return GaussianMixture(_WEIGHTS, _MEANS, _COVS, dtype=context.dtype, device=context.device)


def _schedule() -> Any:
    from .._schedules import Schedule

    return Schedule.vp_cosine()


def _networks(context: Context, count: int, dim: int = 3, offset: int = 0) -> list[Any]:
    from .._networks import random_score_network

    return [random_score_network(10_000 * context.seed + offset + i, dim, dtype=context.dtype,
                                 device=context.device) for i in range(count)]


def _rtol(context: Context) -> float:
    from .._tolerances import tolerance

    return tolerance(context.dtype, context.device).rtol


def _mean_se(values: torch.Tensor) -> tuple[float, float]:
    v = values.detach().double()
    return float(v.mean()), float(v.std() / v.numel() ** 0.5)


def _spread(values: list[float]) -> float:
    """(max − min)/|mean|: the relative spread of an estimate over θ."""
    mean = sum(values) / len(values)
    return (max(values) - min(values)) / abs(mean)


def _relative(left: tuple[torch.Tensor, ...], right: tuple[torch.Tensor, ...]) -> float:
    num = sum(float(((x - y) ** 2).sum()) for x, y in zip(left, right, strict=True))
    den = sum(float((y**2).sum()) for y in right)
    return (num / den) ** 0.5
