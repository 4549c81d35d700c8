"""k-diffusion's real losses in the guard's call convention.

``k_diffusion.layers.Denoiser.loss(input, noise, sigma)`` (Karras et al. 2022, eq. 8 with the
preconditioning of their Table 1; weightings "karras", "soft-min-snr", "snr") and
``k_diffusion.external.VDenoiser.loss`` (v-prediction, Salimans & Ho 2022) run on the kernel
x_t = x0 + σ ε, the EDM schedule (α = 1, σ = t). The score of a denoiser D is
(D(x_t; σ) − x_t)/σ² (Karras et al. 2022, eq. 3), computed with the library's own ``forward``.

k-diffusion's package ``__init__`` imports its training, evaluation and augmentation modules
(clip, clean-fid, kornia, wandb, torchvision), none of which the losses use. We load only
``utils``, ``sampling``, ``layers`` and ``external`` (see _light_import).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import torch
from _light_import import submodules

Tensor = torch.Tensor

#: Imported at module level by k_diffusion.utils, but its losses never call them:
#: ``torchvision.transforms.functional`` serves only ``from_pil_image``/``to_pil_image``. PyPI's
#: torchvision is a CUDA build that fails to import beside the CPU torch, so it is not installed.
UNUSED_IMPORTS = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")


def load() -> tuple[types.ModuleType, types.ModuleType]:
    """``(k_diffusion.layers, k_diffusion.external)`` without running the package ``__init__``."""
    submodules("k_diffusion", ["utils"], unused=UNUSED_IMPORTS)
    layers, external = submodules("k_diffusion", ["layers", "external"])
    return layers, external


def _sigmas(t: Tensor | float, x0: Tensor) -> Tensor:
    """The guard's t as k-diffusion's per-sample σ of shape [B] (EDM: σ = t)."""
    return torch.as_tensor(t, dtype=x0.dtype, device=x0.device).expand(x0.shape[0])


def denoiser_loss(weighting: str, sigma_data: float) -> Callable[..., Tensor]:
    """loss(model, x0, t, noise) = ``Denoiser(model, sigma_data, weighting).loss(x0, noise, σ)``."""
    layers, _ = load()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        denoiser = layers.Denoiser(model, sigma_data=sigma_data, weighting=weighting)
        return denoiser.loss(x0, noise, _sigmas(t, x0))

    loss.__name__ = f"Denoiser[{weighting}, sigma_data={sigma_data}].loss"
    return loss


def denoiser_score(sigma_data: float) -> Callable[..., Tensor]:
    """to_score(model, x_t, t) = (D(x_t; σ) − x_t)/σ² with D = ``Denoiser(model, sigma_data)``."""
    layers, _ = load()

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        sigma = _sigmas(t, xt)
        denoised = layers.Denoiser(model, sigma_data=sigma_data)(xt, sigma)
        return (denoised - xt) / sigma.reshape(-1, *([1] * (xt.dim() - 1))) ** 2

    return to_score


def vdenoiser_loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    """loss(model, x0, t, noise) = ``VDenoiser(model).loss(x0, noise, σ)``."""
    _, external = load()
    return external.VDenoiser(model).loss(x0, noise, _sigmas(t, x0))


def vdenoiser_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
    """to_score(model, x_t, t) = (D(x_t; σ) − x_t)/σ² with D = ``VDenoiser(model)``."""
    _, external = load()
    sigma = _sigmas(t, xt)
    denoised = external.VDenoiser(model)(xt, sigma)
    return (denoised - xt) / sigma.reshape(-1, *([1] * (xt.dim() - 1))) ** 2
