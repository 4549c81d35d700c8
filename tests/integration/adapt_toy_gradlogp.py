"""toy-gradlogp's real losses (``toy_gradlogp.energy.Trainer``) in the guard's call convention.

The library trains an energy model E(x) with score s = −∇E (``Energy.score``) at one noise level
σ, on the kernel x̃ = x + σ v (α = 1; the VE/NCSN kernel of Song & Ermon 2019):
- ``dsm_loss``: ½‖s(x̃) + v/σ‖², mean over the batch (Vincent 2011, eq. 11): λ = ½;
- ``deen_loss``: ½‖σ² s(x̃) + σ v‖² (Saremi et al. 2018): λ = σ⁴/2;
- ``ssm_loss``, ``ssm_vr_loss``: sliced score matching on clean samples (Song et al. 2019,
  eqs. 7-8), E = ½ SM(θ) − ½ J(p) for projections with E[vvᵀ] = I. They draw their own v, so
  the guard checks them in statistical mode, on the data distribution itself.

The package ``__init__`` also loads its plotting module (matplotlib), and ``energy`` imports
``torch.utils.tensorboard`` for ``Trainer.learn``'s logging only; we load ``energy`` alone (see
_light_import), with a stand-in for tensorboard where the real one is not installed.

Models are the library's own ``Energy(ToyMLP(...))`` with weights redrawn from an explicit
``torch.Generator`` (the library initialises from the global RNG, which we never use).
"""

from __future__ import annotations

import importlib.util
import math
import types
import weakref
from collections.abc import Callable
from typing import Any

import torch
from _light_import import submodules

Tensor = torch.Tensor


def load() -> types.ModuleType:
    """``toy_gradlogp.energy`` without the package ``__init__`` (and so without matplotlib)."""
    unused = () if importlib.util.find_spec("tensorboard") else ("torch.utils.tensorboard",)
    (energy,) = submodules("toy_gradlogp", ["energy"], unused=unused)
    return energy


def energy_model(seed: int, dim: int, *, width: int = 32, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu") -> Any:
    """The library's ``Energy(ToyMLP(dim, 1, [width, width]))`` with replayable weights.

    Weights N(0, 1/fan_in) keep every layer's output O(1) for unit-scale inputs; Swish's β
    starts at 1 as in the library. Biases N(0, 0.5²) break the symmetry E(−x) = E(x).
    """
    energy = load()
    g = torch.Generator().manual_seed(seed)
    net = energy.ToyMLP(input_dim=dim, output_dim=1, units=[width, width])
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("weight"):
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64)
                        / math.sqrt(p.shape[1]))
            elif name.endswith("bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return energy.Energy(net).to(dtype=dtype, device=device)


_TRAINERS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary())


def trainer(model: Any, **kwargs: Any) -> Any:
    """The library's ``Trainer`` for ``model`` (built once per model and settings; its optimizer
    is never stepped here)."""
    per_model = _TRAINERS.setdefault(model, {})
    key = tuple(sorted(kwargs.items()))
    if key not in per_model:
        per_model[key] = load().Trainer(model, device=next(model.parameters()).device, **kwargs)
    return per_model[key]


def score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
    """to_score(model, x_t, t) = ``Energy.score(x_t)`` = −∇E(x_t) (one noise level: t unused)."""
    return model.score(xt.detach().clone())


def _sigma(t: Tensor | float, x0: Tensor) -> Tensor:
    """σ = t (the VE kernel with α = 1) as a [B, 1] column for the library's broadcasting."""
    return torch.as_tensor(t, dtype=x0.dtype, device=x0.device).expand(x0.shape[0]).reshape(-1, 1)


def noisy_loss(method: str) -> Callable[..., Tensor]:
    """loss(model, x0, t, noise) = ``Trainer.<method>(x0, noise, sigma=σ(t))`` for dsm/deen."""

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        # The library's score is −∇E by torch.autograd.grad, so the loss needs autograd even
        # where its caller evaluates it under torch.no_grad (the guard's batch check does).
        with torch.enable_grad():
            return getattr(trainer(model), method)(x0.detach().clone(), noise,
                                                   sigma=_sigma(t, x0))

    loss.__name__ = f"Trainer.{method}"
    return loss


def sliced_loss(loss_type: str, noise_type: str = "gaussian",
                n_slices: int = 1) -> Callable[..., Tensor]:
    """loss(model, x) = ``Trainer(loss_type=..., noise_type=...).get_loss(x)`` for "ssm"/"ssm-vr".

    The library draws its projections v itself (``get_random_noise``, torch's global RNG), so
    this is the guard's statistical mode: it forks and seeds that RNG around every call.
    """

    def loss(model: Any, x: Tensor) -> Tensor:
        fit = trainer(model, loss_type=loss_type, noise_type=noise_type, n_slices=n_slices)
        return fit.get_loss(x.detach().clone())

    loss.__name__ = f"Trainer.get_loss[{loss_type}, {noise_type}]"
    return loss
