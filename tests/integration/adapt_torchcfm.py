"""torchcfm (Tong et al. 2024): the flow matchers' ``sample_location_and_conditional_flow``.

torchcfm ships no loss: the training step is the user's, as in its README and
``examples/images/cifar10/train_cifar10.py``::

    x0 = torch.randn_like(x1)                              # the source noise, drawn by the user
    t, xt, ut = FM.sample_location_and_conditional_flow(x0, x1)
    loss = torch.mean((model(t, xt) - ut) ** 2)

x1 is the DATA (at t = 1) and x0 the source noise. The matcher draws t (``torch.rand``) and a
second noise ε (``torch.randn_like``, drawn even when σ = 0). The guard intercepts all three draws
(``numeric.check_training_step``). The kernel, with "α" on the data and the combined noise:

- ``ConditionalFlowMatcher(σ)``: x_t = t x1 + (1 − t) x0 + σ ε, u = x1 − x0. Given x_t the
  posterior mean of u is x_t/t + k(t)·∇log p_t with k = (1 − t + σ²)/t (Tweedie for the
  combined noise of variance (1 − t)² + σ²), so ŝ = (t v̂ − x_t)/(1 − t + σ²) and
  λ = k² per coordinate: (1 − t)²/t² = σ_t²/α_t² ("flow_matching") at σ = 0.
- ``VariancePreservingConditionalFlowMatcher`` (Albergo & Vanden-Eijnden 2023): α = sin(πt/2),
  σ = cos(πt/2), u = (π/2)(σ x1 − α x0), so v̂ = (π/2)(σ x_t + σ ŝ)/α and
  λ = (π/2)²·σ²/α² ("flow_matching" times π²/4).
- ``TargetConditionalFlowMatcher(σ_min)`` (Lipman et al. 2023): x_t = t x1 + σ_t ε with
  σ_t = 1 − (1 − σ_min) t (the user's x0 is unused), u = (x1 − (1 − σ_min) x_t)/σ_t, so
  v̂ = x_t/t + (σ_t/t) ŝ and λ = σ_t²/t² ("flow_matching").
- ``ExactOptimalTransportConditionalFlowMatcher``: re-pairs (x0, x1) across the batch by an exact
  OT plan, sampled with replacement by ``numpy.random.choice``. The pairs are no longer
  independent, so no per-sample Gaussian kernel exists: the guard must say so.

The model is ``model(t, x_t)``, the signature of torchcfm's ``UNetModelWrapper``; on vectors,
torchcfm's ``MLP`` sits in :class:`TimeMLP`, which does the README's ``cat([x_t, t[:, None]])``
inside the model, so that the guard sees x_t and t as the model's two arguments.

Import: ``import torchcfm`` loads only ``conditional_flow_matching`` and ``optimal_transport``
(torch, numpy, POT); nothing needs a stand-in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

Tensor = torch.Tensor
MATCHERS = ("icfm", "vp", "target", "exact_ot")


def matcher(kind: str, sigma: float = 0.0) -> Any:
    """A torchcfm matcher: ``"icfm"`` (ConditionalFlowMatcher), ``"vp"``, ``"target"`` or
    ``"exact_ot"``."""
    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
        TargetConditionalFlowMatcher,
        VariancePreservingConditionalFlowMatcher,
    )

    cls = {"icfm": ConditionalFlowMatcher, "vp": VariancePreservingConditionalFlowMatcher,
           "target": TargetConditionalFlowMatcher,
           "exact_ot": ExactOptimalTransportConditionalFlowMatcher}[kind]
    return cls(sigma=sigma)


class TimeMLP(torch.nn.Module):
    """torchcfm's ``MLP(dim, w, time_varying=True)`` called as ``model(t, x_t)``."""

    def __init__(self, dim: int, width: int = 32) -> None:
        super().__init__()
        from torchcfm.models import MLP

        self.mlp = MLP(dim=dim, w=width, time_varying=True)

    def forward(self, t: Tensor, xt: Tensor) -> Tensor:
        return self.mlp(torch.cat([xt, t[:, None].to(xt.dtype)], dim=-1))


def models(n: int, dim: int, dtype: torch.dtype = torch.float64) -> list[TimeMLP]:
    """``n`` TimeMLPs with weights replayable from their index (torch's global RNG is forked)."""
    out = []
    for j in range(n):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(200 + j)
            out.append(TimeMLP(dim).to(dtype))
    return out


#: The smallest ``UNetModelWrapper`` that runs (GroupNorm32 needs num_channels % 32 == 0; an
#: empty attention_resolutions crashes in int('')), on 1×4×4 images.
IMAGE_SHAPE = (1, 4, 4)
SMALLEST_UNET: dict[str, Any] = {"dim": IMAGE_SHAPE, "num_channels": 32, "num_res_blocks": 1,
                                 "channel_mult": [1], "attention_resolutions": "16",
                                 "num_heads": 1}


def unets(n: int) -> list[Any]:
    """``n`` of torchcfm's ``UNetModelWrapper`` (called ``model(t, x_t)``), float32 only: its
    timestep embedding is cast to float32 inside. Its output convolution is zero at
    initialisation (``zero_module``), so every fresh UNet predicts 0; as stand-ins for trained
    networks, each zero-initialised parameter is redrawn, N(0, 0.1²), from an explicit generator.
    """
    from torchcfm.models.unet.unet import UNetModelWrapper

    out = []
    for j in range(n):
        g = torch.Generator().manual_seed(400 + j)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(400 + j)
            net = UNetModelWrapper(**SMALLEST_UNET)
        with torch.no_grad():
            for p in net.parameters():
                if not bool(p.any()):
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
        out.append(net)
    return out


def training_step(fm: Any) -> Callable[[Any, Tensor], Tensor]:
    """step(model, x1): the README's training step for the matcher ``fm`` (module docstring)."""

    def step(model: Any, x1: Tensor) -> Tensor:
        x0 = torch.randn_like(x1)
        t, xt, ut = fm.sample_location_and_conditional_flow(x0, x1)
        vt = model(t, xt)
        return torch.mean((vt - ut) ** 2)

    step.__name__ = f"{type(fm).__name__}(sigma={fm.sigma}) step"
    return step


def _col(t: Tensor, xt: Tensor) -> Tensor:
    return t.to(xt.dtype).reshape(-1, *([1] * (xt.dim() - 1)))


def to_score(kind: str, sigma: float = 0.0) -> Callable[[Any, Tensor, Tensor], Tensor]:
    """to_score(model, x_t, t): the score that the velocity v̂ = model(t, x_t) implies."""

    def icfm(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        tc = _col(t, xt)
        return (tc * model(t, xt) - xt) / (1 - tc + sigma**2)

    def vp(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        if sigma != 0:
            raise NotImplementedError("the VP score map here is for sigma = 0")
        tc = _col(t, xt)
        alpha, sig = torch.sin(math.pi / 2 * tc), torch.cos(math.pi / 2 * tc)
        return 2 * alpha / (math.pi * sig) * model(t, xt) - xt

    def target(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        tc = _col(t, xt)
        return (tc * model(t, xt) - xt) / (1 - (1 - sigma) * tc)

    return {"icfm": icfm, "exact_ot": icfm, "vp": vp, "target": target}[kind]


def icfm_weighting(sigma: float) -> Callable[[Tensor], Tensor]:
    """λ(t) ∝ ((1 − t + σ²)/t)², the score-space weighting of ConditionalFlowMatcher(σ)."""

    def weighting(t: Tensor) -> Tensor:
        t = torch.as_tensor(t, dtype=torch.float64)
        return ((1 - t + sigma**2) / t) ** 2

    weighting.__name__ = f"((1 - t + {sigma:g}²)/t)²"
    return weighting
