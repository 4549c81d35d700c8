"""score_models (A. Adam, PyPI ``score_models``): ``ScoreModel.loss_fn``, unmodified.

``loss_fn(x)`` is ``score_models.dsm.denoising_score_matching(self, x)``::

    z = torch.randn_like(samples)
    t = torch.rand(B).to(device) * (sde.T - sde.epsilon) + sde.epsilon
    mean, sigma = sde.marginal_prob(t, samples)
    return torch.sum((z + model(t, mean + sigma * z)) ** 2) / B

It draws the noise first, then t (in float32, the default dtype, whatever the data's dtype), so
α and σ are float32 values even in a float64 run. The network outputs σ·score
(``ScoreModel.score(t, x) = model(t, x)/sde.sigma(t)``, the library's own map, used as
``to_score``), so per sample ‖z + σŝ‖² = σ²‖ŝ − h‖² with h = −z/σ: λ = σ², summed over
coordinates (Song et al. 2021, the weighting λ ∝ 1/E‖∇log p(x_t|x0)‖² = σ²; "eps").

The guard intercepts both draws (``numeric.check_training_step``); the model reaches the library
through the step, which swaps it in (``score_model.model = model``). ``import score_models``
needs torch, numpy, scipy, tqdm and torch-ema; nothing needs a stand-in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Tensor = torch.Tensor

SDES: dict[str, dict[str, Any]] = {
    "vp": {"sde": "vp", "beta_min": 0.1, "beta_max": 20.0},
    "ve": {"sde": "ve", "sigma_min": 0.01, "sigma_max": 10.0},
}


def net(seed: int, dim: int, dtype: torch.dtype = torch.float64) -> Any:
    """score_models' ``MLP`` (small), weights replayable from ``seed`` (global RNG forked)."""
    from score_models import MLP

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MLP(dimensions=dim, units=16, layers=2, time_embedding_dimensions=8)
    return model.to(dtype)


def nets(n: int, dim: int, dtype: torch.dtype = torch.float64) -> list[Any]:
    """``n`` different MLPs: the models the guard compares."""
    return [net(300 + j, dim, dtype) for j in range(n)]


def score_model(sde: str, dim: int, dtype: torch.dtype = torch.float64) -> Any:
    """``ScoreModel(model=MLP, sde=...)`` on the CPU (the library defaults to cuda:0 if any)."""
    from score_models import ScoreModel

    return ScoreModel(model=net(0, dim, dtype), device=torch.device("cpu"), **SDES[sde])


def training_step(sm: Any) -> Callable[[Any, Tensor], Tensor]:
    """step(model, x): ``sm.loss_fn(x)`` with the model under test swapped in."""

    def step(model: Any, x: Tensor) -> Tensor:
        sm.model = model
        return sm.loss_fn(x)

    step.__name__ = f"ScoreModel[{type(sm.sde).__name__}].loss_fn"
    return step


def to_score(sm: Any) -> Callable[[Any, Tensor, Tensor], Tensor]:
    """to_score(model, x_t, t) = the library's ``ScoreModel.score(t, x_t)`` = model(t, x_t)/σ(t)."""

    def score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        sm.model = model
        return sm.score(t, xt)

    return score
