"""Losses of energy models differentiate inside (score = −∇_x E via autograd): the guard evaluates
them with grad enabled where no_grad cannot work, in the value, batch and gradient checks alike."""

from __future__ import annotations

from typing import Any

import torch

import numeric

Tensor = torch.Tensor
SCHEDULE = numeric.Schedule.vp_linear()


class _Energy(torch.nn.Module):
    """E(x, t) = ½‖x‖²·a(t) + MLP(x, t): its score −∇_x E is not linear in the parameters."""

    def __init__(self, seed: int, dim: int = 3) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = torch.nn.Parameter(torch.randn(dim + 1, 16, generator=g, dtype=torch.float64))
        self.w2 = torch.nn.Parameter(torch.randn(16, 1, generator=g, dtype=torch.float64) / 4)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        h = torch.tanh(torch.cat([x, t.reshape(-1, 1).to(x)], dim=1) @ self.w1)
        return 0.5 * (x * x).sum(1) + (h @ self.w2).reshape(-1)


def _score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
    # As toy-gradlogp writes it: no enable_grad, so under no_grad autograd.grad raises.
    x = xt.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x, t).sum(), x, create_graph=True)
    return -grad


def _dsm(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    a = SCHEDULE.alpha(t).reshape(-1, 1).to(x0)
    s = SCHEDULE.sigma(t).reshape(-1, 1).to(x0)
    return ((_score(model, a * x0 + s * noise, t) + noise / s) ** 2).sum(1)


def test_per_sample_energy_loss_passes_every_check() -> None:
    models = [_Energy(seed) for seed in range(4)]
    report = numeric.check_loss(_dsm, _score, SCHEDULE, models=models)
    assert report.ok, report.summary()
    assert report.residual <= 1e-12


def test_scalar_energy_loss_passes_the_batch_check() -> None:
    models = [_Energy(seed) for seed in range(4)]
    report = numeric.check_loss(lambda *a: _dsm(*a).mean(), _score, SCHEDULE, models=models)
    assert report.ok, report.summary()
