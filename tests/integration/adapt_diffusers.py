"""diffusers' real forward process and the training steps of its example scripts.

The step follows ``examples/unconditional_image_generation/train_unconditional.py`` (and
``examples/text_to_image/train_text_to_image.py``): draw the noise with ``torch.randn`` and the
timesteps with ``torch.randint(0, num_train_timesteps, (bsz,))``, noise with
``DDPMScheduler.add_noise``, take the target for the scheduler's ``prediction_type`` ("epsilon":
the noise; "v_prediction": ``get_velocity``, Salimans & Ho 2022; "sample": x0), and reduce with
the scalar ``F.mse_loss``. ``train_unconditional`` weights its "sample" loss by
SNR = ᾱ/(1 − ᾱ), which turns the x0 loss into the ε loss (Ho et al. 2020, eq. 14). The guard
intercepts the two draws (``numeric.check_training_step``); the scripts' ``.float()`` casts are
left out, so that a float64 check stays in float64.

The map to the score, for α = √ᾱ_t, σ = √(1 − ᾱ_t) (Ho et al. 2020, eq. 4) is:
ε̂ = model output (epsilon), ε̂ = σ x_t + α v̂ (v_prediction, α² + σ² = 1), s = −ε̂/σ;
x̂0 = model output (sample), s = −(x_t − α x̂0)/σ².
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


def scheduler(prediction_type: str, **config: Any) -> Any:
    """A ``DDPMScheduler`` (1000 linear-β steps unless ``config`` says otherwise)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(prediction_type=prediction_type, clip_sample=False, **config)


def timesteps(t: Tensor | float, x0: Tensor) -> Tensor:
    """The guard's t as diffusers' integer timesteps of shape [B]."""
    tt = torch.as_tensor(t, device=x0.device).expand(x0.shape[0])
    if not tt.is_floating_point():
        return tt.long()
    steps = tt.round().long()
    if not bool((steps == tt).all()):
        raise ValueError(f"DDPMScheduler takes integer timesteps, got {tt.unique().tolist()}")
    return steps


def training_step(sched: Any, *, snr_weighted: bool = False) -> Callable[..., Tensor]:
    """step(model, clean_images): the example scripts' training step for ``sched``.

    ``snr_weighted`` (prediction type "sample" only) applies ``train_unconditional``'s weights
    ᾱ/(1 − ᾱ), and then reduces to a scalar as that script does.
    """
    prediction_type = sched.config.prediction_type

    def step(model: Any, clean_images: Tensor) -> Tensor:
        noise = torch.randn(clean_images.shape, dtype=clean_images.dtype,
                            device=clean_images.device)
        bsz = clean_images.shape[0]
        timesteps = torch.randint(0, sched.config.num_train_timesteps, (bsz,),
                                  device=clean_images.device).long()
        noisy_images = sched.add_noise(clean_images, noise, timesteps)
        model_output = model(noisy_images, timesteps)
        if prediction_type == "epsilon":
            target = noise
        elif prediction_type == "v_prediction":
            target = sched.get_velocity(clean_images, noise, timesteps)
        else:
            target = clean_images
        if not snr_weighted:
            return F.mse_loss(model_output, target)
        abar = sched.alphas_cumprod.to(device=clean_images.device,
                                       dtype=clean_images.dtype)[timesteps]
        snr = (abar / (1 - abar)).reshape(-1, *([1] * (clean_images.dim() - 1)))
        return (snr * F.mse_loss(model_output, target, reduction="none")).mean()

    suffix = ", SNR-weighted" if snr_weighted else ""
    step.__name__ = f"diffusers_step[{prediction_type}{suffix}]"
    return step


def to_score(sched: Any) -> Callable[..., Tensor]:
    """to_score(model, x_t, t) for ``sched``'s prediction type (module docstring)."""
    prediction_type = sched.config.prediction_type

    def score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        steps = timesteps(t, xt)
        abar = sched.alphas_cumprod.to(device=xt.device, dtype=xt.dtype)[steps]
        shape = (-1, *([1] * (xt.dim() - 1)))
        alpha, sigma = abar.sqrt().reshape(shape), (1 - abar).sqrt().reshape(shape)
        out = model(xt, steps)
        if prediction_type == "sample":
            return -(xt - alpha * out) / sigma**2
        eps = out if prediction_type == "epsilon" else sigma * xt + alpha * out
        return -eps / sigma

    return score
