"""Schedule probing of add_noise, low-precision findings, and weighting matching."""

from __future__ import annotations

import math

import pytest
import torch

from numeric import Schedule, check_loss
from numeric.guard._probe import AddNoiseProbe, resolve_schedule
from numeric.guard._reference_losses import reference_loss
from numeric.guard._weightings import WEIGHTINGS, describe_power_law, match_weighting


class DDPMLike:
    """A scheduler in the style of diffusers: ᾱ table cast to the sample dtype (the bf16 bug)."""

    def __init__(self, n: int = 1000, upcast: bool = False) -> None:
        self.num_train_timesteps = n
        self.upcast = upcast
        betas = torch.linspace(1e-4, 0.02, n, dtype=torch.float32)
        self.alphas_cumprod = torch.cumprod(1 - betas, 0)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(x0.dtype, torch.float32) if self.upcast else x0.dtype
        abar = self.alphas_cumprod.to(dtype)[t.long()].reshape(-1, *([1] * (x0.dim() - 1)))
        out = abar.sqrt() * x0.to(dtype) + (1 - abar).sqrt() * noise.to(dtype)
        return out.to(x0.dtype)


def test_probe_recovers_alpha_and_sigma() -> None:
    sched = DDPMLike()
    kernel = resolve_schedule(sched.add_noise, times=None, sample_shape=(3,),
                              dtype=torch.float64, device=torch.device("cpu"))
    assert kernel.discrete
    t = kernel.grid(8)
    abar = sched.alphas_cumprod.double()[t]
    assert torch.allclose(kernel.alpha(t), abar.sqrt(), rtol=1e-14, atol=0)
    assert torch.allclose(kernel.sigma(t), (1 - abar).sqrt(), rtol=1e-14, atol=0)


def test_affine_add_noise_has_no_findings() -> None:
    probe = AddNoiseProbe(DDPMLike().add_noise, (2, 2), torch.float64, torch.device("cpu"))
    assert probe.affine_findings(torch.arange(1, 9) * 100, torch.Generator().manual_seed(0)) == []


def test_offset_in_add_noise_is_a_finding() -> None:
    base = DDPMLike().add_noise
    probe = AddNoiseProbe(lambda x, n, t: base(x, n, t) + 0.1, (3,), torch.float64,
                          torch.device("cpu"))
    found = probe.affine_findings(torch.arange(1, 5) * 100, torch.Generator().manual_seed(0))
    assert any("offset" in f for f in found)


def _eps_loss_with(add_noise):  # type: ignore[no-untyped-def]
    def loss(model, x0, t, noise):  # type: ignore[no-untyped-def]
        return ((model(add_noise(x0, noise, t), t) - noise) ** 2).sum(1)
    return loss


def test_bfloat16_add_noise_without_noise_at_t0_is_reported() -> None:
    sched = DDPMLike()
    ddpm = Schedule.from_alphas_cumprod(sched.alphas_cumprod.double())
    report = check_loss(_eps_loss_with(sched.add_noise), reference_loss("eps", ddpm).to_score,
                        sched.add_noise, n_samples=32)
    assert report.ok, report.summary()  # float64 is right; the low-precision issue is a warning
    assert any("bfloat16, add_noise adds no noise at t=0" in w for w in report.warnings)
    assert "bfloat16" in report.summary()


def test_upcasting_add_noise_has_no_low_precision_warning() -> None:
    sched = DDPMLike(upcast=True)
    ddpm = Schedule.from_alphas_cumprod(sched.alphas_cumprod.double())
    report = check_loss(_eps_loss_with(sched.add_noise), reference_loss("eps", ddpm).to_score,
                        sched.add_noise, n_samples=32)
    assert report.ok and report.warnings == (), report.summary()


SHAPE_GRID = torch.linspace(0.05, 0.95, 9, dtype=torch.float64)


@pytest.mark.parametrize("name", ["score", "eps", "x0", "v", "flow_matching"])
def test_every_fixed_weighting_is_recognised_with_its_scale(name: str) -> None:
    sched = Schedule.rectified_flow()  # on VP schedules (α² + σ² = 1) v and flow coincide
    a, s = sched.alpha(SHAPE_GRID), sched.sigma(SHAPE_GRID)
    lam = 0.25 * WEIGHTINGS[name](a, s)
    found = match_weighting(lam, a, s)
    assert found is not None and found.name == name
    assert found.scale == pytest.approx(0.25, rel=1e-9)
    assert found.text(4).endswith("/D with D=4")


def test_edm_sigma_data_and_min_snr_gamma_are_fitted() -> None:
    edm = Schedule.edm()
    t = edm.grid(8)
    a, s = edm.alpha(t), edm.sigma(t)
    found = match_weighting(WEIGHTINGS["edm"](a, s, sigma_data=0.7), a, s)
    assert found is not None and found.name == "edm"
    assert dict(found.params)["sigma_data"] == pytest.approx(0.7, rel=1e-9)
    vp = Schedule.vp_linear()
    a, s = vp.alpha(SHAPE_GRID), vp.sigma(SHAPE_GRID)
    found = match_weighting(WEIGHTINGS["min_snr_eps"](a, s, gamma=5.0), a, s)
    assert found is not None and found.name == "min_snr_eps"
    assert dict(found.params)["gamma"] == pytest.approx(5.0, rel=1e-9)


def test_unknown_power_law_is_described_and_not_matched() -> None:
    vp = Schedule.vp_linear()
    a, s = vp.alpha(SHAPE_GRID), vp.sigma(SHAPE_GRID)
    lam = 2.0 * s**3
    assert match_weighting(lam, a, s) is None
    assert describe_power_law(lam, a, s) == "λ = 2·σ^3"
    assert describe_power_law(lam * (1 + 0.01 * torch.sin(17 * SHAPE_GRID)), a, s) is None


def test_likelihood_weighting_needs_g2() -> None:
    vp = Schedule.vp_linear()
    a, s, g2 = vp.alpha(SHAPE_GRID), vp.sigma(SHAPE_GRID), vp.g2(SHAPE_GRID)
    assert match_weighting(g2, a, s) is None
    found = match_weighting(g2, a, s, g2=g2)
    assert found is not None and found.name == "likelihood"
    assert math.isclose(found.scale, 1.0, rel_tol=1e-12)
