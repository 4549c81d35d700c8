"""denoising-diffusion-pytorch (lucidrains): ``GaussianDiffusion.forward``, unmodified.

The training step is the library's own: ``diffusion(img)`` draws t with ``torch.randint`` and the
noise with ``torch.randn_like``, normalises ``img`` to [−1, 1] when ``auto_normalize`` is on,
noises it with ``q_sample`` (x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε from its float32 tables; Ho et al. 2020,
eq. 4), regresses the model output on the noise, x0 or v and weights each sample by its
``loss_weight`` table. The guard intercepts the two draws (``numeric.check_training_step``); the
model reaches the library through the step, which swaps it in: ``diffusion.model = model``.

The library's weights make every objective the same ε-MSE: per sample
(1/D)‖ε̂ − ε‖² = σ²/D·‖ŝ − h‖², i.e. λ = σ² ("eps"); with ``min_snr_loss_weight`` it is
σ²·min(SNR, γ)/SNR with γ = ``min_snr_gamma`` = 5 ("min_snr_eps", Hang et al. 2023,
arXiv:2303.09556, the paper the library cites). ``to_score`` inverts each objective with the same
float32 tables that ``q_sample`` used, in the kernel's exact algebra: for v,
ε̂ = (σ x_t + α v̂)/(α² + σ²). The library's own ``predict_start_from_v`` drops the 1/(α² + σ²),
which is 1 only up to the tables' float32 rounding (about 1e-7), so a float64 check with it would
see that rounding as a misfit of the sampler's score, not of the loss.

Import: the package ``__init__`` imports every model and the ``Trainer`` (torchvision,
accelerate, ema-pytorch, pytorch-fid). We load only the submodule
``denoising_diffusion_pytorch.denoising_diffusion_pytorch`` (see _light_import). That module
still imports, at module top, ``torchvision`` (``transforms``, ``utils``: used only by its
``Dataset`` and ``Trainer``), ``ema_pytorch.EMA`` and ``accelerate.Accelerator`` (``Trainer``
only): they get stand-ins for the duration of the import, never torchvision from the index (PyPI's
is a CUDA build that fails beside the CPU torch).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import torch
from _light_import import submodules

Tensor = torch.Tensor

#: Imported at module top by ``denoising_diffusion_pytorch.denoising_diffusion_pytorch`` but used
#: only by its ``Dataset`` and ``Trainer`` classes, never by ``Unet`` or ``GaussianDiffusion``.
UNUSED_IMPORTS = ("torchvision", "ema_pytorch", "accelerate")

#: The smallest ``Unet`` that runs (4785 parameters): dim=2 fails in its sinusoidal embedding,
#: and one level needs images divisible by 1 only. No flash attention: plain einsum on the CPU.
SMALLEST_UNET = {"dim": 4, "dim_mults": (1,), "channels": 1, "attn_dim_head": 4,
                 "attn_heads": 1, "flash_attn": False}
IMAGE_SIZE = 4
IMAGE_SHAPE = (1, IMAGE_SIZE, IMAGE_SIZE)
OBJECTIVES = ("pred_noise", "pred_x0", "pred_v")
MIN_SNR_GAMMA = 5.0  # GaussianDiffusion's default min_snr_gamma


def load() -> types.ModuleType:
    """``denoising_diffusion_pytorch.denoising_diffusion_pytorch`` without the package
    ``__init__`` and with stand-ins for the Trainer-only imports (module docstring)."""
    (module,) = submodules("denoising_diffusion_pytorch", ["denoising_diffusion_pytorch"],
                           unused=UNUSED_IMPORTS)
    return module


def unet(seed: int, dtype: torch.dtype = torch.float32) -> Any:
    """The library's smallest ``Unet``, its weights replayable from ``seed``.

    The library initialises from torch's global RNG; we fork it, so the test's own RNG state is
    untouched. In float64 the Unet needs ``torch.set_default_dtype(torch.float64)`` while it runs:
    its sinusoidal time embedding is built in the default dtype.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = load().Unet(**SMALLEST_UNET)
    return net.to(dtype)


def unets(n: int, dtype: torch.dtype = torch.float32) -> list[Any]:
    """``n`` different Unets: the models the guard compares."""
    return [unet(100 + j, dtype) for j in range(n)]


def diffusion(objective: str, *, min_snr: bool = False, auto_normalize: bool = True,
              timesteps: int = 1000) -> Any:
    """``GaussianDiffusion`` with the library's defaults (sigmoid β schedule, float32 tables),
    the smallest Unet, and the options under test."""
    return load().GaussianDiffusion(unet(0), image_size=IMAGE_SIZE, timesteps=timesteps,
                                    objective=objective, min_snr_loss_weight=min_snr,
                                    auto_normalize=auto_normalize)


def training_step(diff: Any) -> Callable[[Any, Tensor], Tensor]:
    """step(model, img): the library's training step, ``diff(img)`` (a scalar batch mean), with
    the model under test swapped in, as a user's training loop would hand it a new network."""

    def step(model: Any, img: Tensor) -> Tensor:
        diff.model = model
        return diff(img)

    step.__name__ = f"GaussianDiffusion[{diff.objective}].forward"
    return step


def to_score(diff: Any) -> Callable[[Any, Tensor, Tensor], Tensor]:
    """to_score(model, x_t, t) for ``diff.objective``, with t the integer timesteps the library
    passed to the model and α, σ its own float32 tables (module docstring).

    ε̂ = output (pred_noise); ŝ = (α x̂0 − x_t)/σ² (pred_x0); ε̂ = (σ x_t + α v̂)/(α² + σ²)
    (pred_v, v = α ε − σ x0); ŝ = −ε̂/σ.
    """
    objective = diff.objective

    def score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        shape = (-1, *([1] * (xt.dim() - 1)))
        alpha = diff.sqrt_alphas_cumprod[t].to(xt.dtype).reshape(shape)
        sigma = diff.sqrt_one_minus_alphas_cumprod[t].to(xt.dtype).reshape(shape)
        out = model(xt, t, None)
        if objective == "pred_x0":
            return (alpha * out - xt) / sigma**2
        eps = out if objective == "pred_noise" else (sigma * xt + alpha * out) / (
            alpha**2 + sigma**2)
        return -eps / sigma

    return score
