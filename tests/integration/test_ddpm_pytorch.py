"""denoising-diffusion-pytorch: ``GaussianDiffusion.forward`` as a training loop calls it,
``diffusion(img)``, its draws of t and the noise intercepted by the guard
(``numeric.check_training_step``), on the library's smallest ``Unet``.

Every objective is the ε-MSE after the library's ``loss_weight``: λ = σ²/D ("eps", D = C·H·W,
the mean over pixels), and σ²·min(SNR, 5)/SNR/D with ``min_snr_loss_weight`` ("min_snr_eps",
γ = 5; Hang et al. 2023). The α, σ the loss uses are the library's float32 tables; the guard
measures them per sample, so the float64 check passes at the float64 threshold with no
tolerance from us. See adapt_ddpm_pytorch for the score maps and the import.
"""

from __future__ import annotations

import contextlib
import math
import types

import adapt_ddpm_pytorch as adapt
import pytest
import torch
from _verdict import Record, assert_not_per_sample, check_step, default_dtype

import numeric

pytestmark = pytest.mark.integration

D = math.prod(adapt.IMAGE_SHAPE)
N = 8  # x_t per time: the residual is a rounding-level quantity at every x_t (design.md §3b)
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _run(record: Record, objective: str, min_snr: bool, auto_normalize: bool,
         dtype_name: str, *, score_objective: str | None = None,
         label: str | None = None) -> numeric.LossReport:
    dtype = DTYPES[dtype_name]
    diff = adapt.diffusion(objective, min_snr=min_snr, auto_normalize=auto_normalize)
    scorer = diff if score_objective is None else adapt.diffusion(score_objective)
    label = label or (f"denoising-diffusion-pytorch GaussianDiffusion({objective}"
                      f"{', min_snr' if min_snr else ''}, auto_normalize={auto_normalize}) "
                      f"{dtype_name}")
    # The Unet's sinusoidal time embedding is built in the default dtype: a float64 run of this
    # Unet needs the float64 default (what a user training it in float64 sets).
    scope = default_dtype(torch.float64) if dtype == torch.float64 else contextlib.nullcontext()
    with scope:
        return check_step(record, label, adapt.training_step(diff), adapt.to_score(scorer),
                          models=adapt.unets(4, dtype), image_shape=adapt.IMAGE_SHAPE,
                          n_samples=N, dtype=dtype,
                          expected_weighting="min_snr_eps" if min_snr else "eps")


@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("auto_normalize", [True, False], ids=["auto_normalize", "raw"])
@pytest.mark.parametrize("min_snr", [False, True], ids=["plain", "min_snr"])
@pytest.mark.parametrize("objective", adapt.OBJECTIVES)
def test_gaussian_diffusion_forward_is_score_matching(
        ddpm_pytorch: types.ModuleType, record_property: Record, objective: str,
        min_snr: bool, auto_normalize: bool, dtype_name: str) -> None:
    report = _run(record_property, objective, min_snr, auto_normalize, dtype_name)
    assert report.ok, report.summary()
    weighting = "min_snr_eps" if min_snr else "eps"
    assert report.matched == weighting, report.summary()
    assert report.scale is not None and math.isclose(report.scale, 1 / D, rel_tol=1e-4), (
        report.summary())
    if min_snr:
        # γ is a threshold on the SNR α²/σ², which depends on the data's scale. auto_normalize
        # noises 2·img − 1, and how the guard splits that map into α·(s·img + o) is a convention:
        # s = 2 states the SNR on the library's [−1, 1] data (γ = 5, the library's), s = 1 on the
        # data the step is given (SNR 4× larger, γ = 4·5). Either value is exact; nothing else is.
        gamma = dict(_params(report.matched_text)).get("gamma")
        allowed = [adapt.MIN_SNR_GAMMA] + ([4 * adapt.MIN_SNR_GAMMA] if auto_normalize else [])
        assert gamma is not None and any(math.isclose(gamma, g, rel_tol=1e-3)
                                         for g in allowed), report.summary()


def _params(text: str | None) -> list[tuple[str, float]]:
    """``("gamma", 5.0)`` pairs from a matched_text such as ``... with D=16, gamma=5``."""
    out = []
    for part in (text or "").split(", ")[1:]:
        key, _, value = part.partition("=")
        with contextlib.suppress(ValueError):
            out.append((key.strip(), float(value)))
    return out


def test_immiscible_noise_assignment_is_reported_as_not_per_sample(
        ddpm_pytorch: types.ModuleType, record_property: Record) -> None:
    # GaussianDiffusion(immiscible=True) re-pairs the noise across the batch (scipy's
    # linear_sum_assignment on the batch's distances, Li et al. 2024): a sample's x_t depends on
    # the other samples, so there is no per-sample kernel. The guard must say so, not pass.
    diff = adapt.load().GaussianDiffusion(adapt.unet(0), image_size=adapt.IMAGE_SIZE,
                                          objective="pred_noise", immiscible=True)
    assert_not_per_sample(lambda: check_step(
        record_property, "denoising-diffusion-pytorch immiscible=True",
        adapt.training_step(diff), adapt.to_score(diff), models=adapt.unets(4),
        image_shape=adapt.IMAGE_SHAPE, n_samples=N, dtype=torch.float32))


def test_a_score_map_for_the_wrong_objective_is_caught(
        ddpm_pytorch: types.ModuleType, record_property: Record) -> None:
    # The bug: the model is trained with pred_v, but the sampler reads its output as the noise.
    report = _run(record_property, "pred_v", False, False, "float64",
                  score_objective="pred_noise",
                  label="denoising-diffusion-pytorch planted bug: pred_v loss, pred_noise score")
    assert not report.ok and report.residual > 1e-3, report.summary()
