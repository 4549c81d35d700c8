"""numeric.check_training_step: an unmodified training step, its draws intercepted and chosen."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from step_kernels import col, vp

import numeric
from numeric import Schedule, SmeqError, check_loss, check_training_step

Tensor = torch.Tensor
VP = Schedule.vp_linear()
#: the exactness bar for correct losses (docs/design.md §5: coupled ≤ 1e-12)
EXACT = 1e-12






def eps_to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
    return -model(xt, t) / col(VP.sigma(t), xt)


# --- every RNG function, with and without a generator ----------------------------------------

def _time_draws(g: torch.Generator | None) -> dict[str, Callable[[Tensor], Tensor]]:
    kw: dict[str, Any] = {} if g is None else {"generator": g}
    return {
        "rand": lambda x0: torch.rand(x0.shape[0], dtype=x0.dtype, **kw),
        "rand-size-tuple": lambda x0: torch.rand((x0.shape[0], 1), dtype=x0.dtype, **kw)[:, 0],
        "rand_like": lambda x0: torch.rand_like(x0[:, 0], **kw),
        "randint": lambda x0: torch.randint(1, 1000, (x0.shape[0],), **kw).to(x0.dtype) / 1000,
        "randint_like": lambda x0: torch.randint_like(x0[:, 0], 1, 1000, **kw) / 1000,
        "uniform_": lambda x0: torch.empty(x0.shape[0], dtype=x0.dtype).uniform_(0.0, 1.0, **kw),
        "randn-quantile": lambda x0: torch.special.ndtr(torch.randn(x0.shape[0], dtype=x0.dtype,
                                                                    **kw)),
        "normal-float": lambda x0: torch.special.ndtr(torch.normal(0.0, 1.0, (x0.shape[0],),
                                                                   dtype=x0.dtype, **kw)),
        "normal_": lambda x0: torch.special.ndtr(torch.empty(x0.shape[0], dtype=x0.dtype)
                                                 .normal_(**kw)),
    }


def _noise_draws(g: torch.Generator | None) -> dict[str, Callable[[Tensor], Tensor]]:
    kw: dict[str, Any] = {} if g is None else {"generator": g}
    return {
        "randn": lambda x0: torch.randn(x0.shape, dtype=x0.dtype, **kw),
        "randn_like": lambda x0: torch.randn_like(x0, **kw),
        "randn-varargs": lambda x0: torch.randn(*x0.shape, dtype=x0.dtype, **kw),
        "normal-size": lambda x0: torch.normal(0.0, 1.0, x0.shape, dtype=x0.dtype, **kw),
        "normal-tensor": lambda x0: torch.normal(torch.zeros_like(x0), 1.0, **kw),
        "normal_": lambda x0: torch.empty_like(x0).normal_(0.0, 1.0, **kw),
    }


def _eps_step(draw_t: Callable[[Tensor], Tensor], draw_noise: Callable[[Tensor], Tensor],
              reduce: str = "none") -> Callable[[Any, Tensor], Tensor]:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = 1e-3 + (1 - 2e-3) * draw_t(x0)
        noise = draw_noise(x0)
        a, s = vp(t)
        xt = col(a, x0) * x0 + col(s, x0) * noise
        per = ((model(xt, t) - noise) ** 2).flatten(1).mean(1)
        return per.mean() if reduce == "mean" else per.sum() if reduce == "sum" else per

    return step


@pytest.mark.parametrize("generator", [False, True], ids=["global", "generator"])
@pytest.mark.parametrize("t_name", list(_time_draws(None)))
def test_every_time_draw_is_chosen(t_name: str, generator: bool) -> None:
    g = torch.Generator().manual_seed(3) if generator else None
    step = _eps_step(_time_draws(g)[t_name], _noise_draws(g)["randn_like"])
    state = torch.random.get_rng_state()
    report = check_training_step(step, eps_to_score, schedule=VP, expected_weighting="eps")
    assert report.ok, report.summary()
    assert report.residual <= EXACT
    assert report.draws[0].startswith("t ← ")
    assert "noise ← " in report.draws[1]
    assert len(report.weighting) == 8  # eight distinct times, mixed in the batch
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG was not advanced
    if g is not None:
        assert "generator=g" in report.draws[0]


@pytest.mark.parametrize("generator", [False, True], ids=["global", "generator"])
@pytest.mark.parametrize("noise_name", list(_noise_draws(None)))
def test_every_noise_draw_is_chosen(noise_name: str, generator: bool) -> None:
    g = torch.Generator().manual_seed(3) if generator else None
    step = _eps_step(_time_draws(g)["rand"], _noise_draws(g)[noise_name])
    report = check_training_step(step, eps_to_score, schedule=VP, image_shape=(2, 3, 3))
    assert report.ok, report.summary()
    assert report.residual <= EXACT and report.matched == "eps"


def test_the_report_names_the_draws() -> None:
    step = _eps_step(_time_draws(None)["rand"], _noise_draws(None)["randn_like"])
    report = check_training_step(step, eps_to_score)
    assert report.draws == ("t ← torch.rand([B]) (draw 1)",
                            "noise ← torch.randn_like(x0) (draw 2)")
    assert "t ← torch.rand([B]) (draw 1)" in report.summary()


# --- a scalar step, the same verdict as the explicit check_loss -----------------------------

@pytest.mark.parametrize("reduce", ["mean", "sum"])
def test_scalar_step_is_evaluated_per_sample(reduce: str) -> None:
    step = _eps_step(_time_draws(None)["rand"], _noise_draws(None)["randn_like"], reduce)
    report = check_training_step(step, eps_to_score, schedule=VP)
    assert report.ok, report.summary()
    assert report.residual <= EXACT and report.matched == "eps"
    assert report.mode.endswith("loss scalar, per sample via vmap")
    assert report.batch == (f"scalar step loss = {reduce} of its per-sample values on a "
                            "mixed-t batch")


def _unvmappable(reduce: str, bug: str = "") -> Callable[[Any, Tensor], Tensor]:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype) * 0.998 + 1e-3
        noise = torch.randn_like(x0)
        s = col(VP.sigma(t), x0)                   # Schedule validates t: vmap cannot run it
        xt = col(VP.alpha(t), x0) * x0 + (s**2 if bug == "sigma2" else s) * noise
        per = ((model(xt, t) - noise) ** 2).sum(1)
        if bug == "broadcast":
            per = per * s.mean()
        return per.mean() if reduce == "mean" else per.sum()

    return step


@pytest.mark.parametrize("reduce", ["mean", "sum"])
def test_a_scalar_step_vmap_cannot_run_is_evaluated_per_x_t(reduce: str) -> None:
    report = check_training_step(_unvmappable(reduce), eps_to_score)
    assert report.ok and report.residual <= EXACT, report.summary()
    assert report.matched == "eps"
    assert f"scalar ({reduce}), one call per x_t" in report.mode
    assert report.batch is not None and report.batch.startswith(f"scalar step loss = {reduce}")


@pytest.mark.parametrize("bug", ["sigma2", "broadcast"])
def test_bugs_are_caught_per_x_t_too(bug: str) -> None:
    report = check_training_step(_unvmappable("mean", bug), eps_to_score)
    assert not report.ok
    if bug == "sigma2":
        assert report.residual >= 1e-3
    else:
        assert "neither the mean" in report.summary()


def test_same_verdict_as_the_explicit_signature() -> None:
    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        xt = col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise
        return ((model(xt, t) - noise) ** 2).mean(1)

    def step(model: Any, x0: Tensor) -> Tensor:
        t = 1e-3 + (1 - 2e-3) * torch.rand(x0.shape[0], dtype=x0.dtype)
        return loss(model, x0, t, torch.randn_like(x0))

    explicit = check_loss(loss, eps_to_score, VP)
    stepped = check_training_step(step, eps_to_score, schedule=VP)
    assert explicit.ok and stepped.ok
    assert explicit.matched == stepped.matched == "eps"
    assert stepped.residual <= EXACT


def test_vmap_evaluates_a_table_indexing_scalar_step() -> None:
    table = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)

    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.randint(0, 1000, (x0.shape[0],))
        noise = torch.randn_like(x0)
        abar = table[t].reshape(-1, 1)
        xt = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
        return torch.nn.functional.mse_loss(model(xt, t), noise)

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        return -model(xt, t) / (1 - table[t].reshape(-1, 1)).sqrt()

    report = check_training_step(step, to_score)
    assert report.ok, report.summary()
    assert report.mode.endswith("loss scalar, per sample via vmap")
    assert report.residual <= EXACT


# --- kernels the step really applies --------------------------------------------------------

def test_float32_table_passes_in_float64_without_tolerance() -> None:
    table = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)   # float32, as diffusers

    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.randint(0, 1000, (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0)
        abar = table[t].to(x0.dtype).reshape(-1, 1)
        xt = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
        return ((model(xt, t) - noise) ** 2).mean(1)

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        return -model(xt, t) / (1 - table[t].to(xt.dtype).reshape(-1, 1)).sqrt()

    report = check_training_step(step, to_score, expected_weighting="eps",
                                 schedule=Schedule.ddpm())
    assert report.ok, report.summary()
    assert report.residual <= EXACT
    assert report.draws[0] == "t ← torch.randint(0, 1000, [B]) (draw 1)"
    assert any("agrees with the schedule" in n for n in report.notes), report.notes


def test_normalised_data_and_reversed_time() -> None:
    """x0 in [0, 1] mapped to [−1, 1] inside the step; data at t = 1 (x_t = t x + (1 − t) ε)."""
    def step(model: Any, x0: Tensor) -> Tensor:
        x = 2 * x0 - 1
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn_like(x0)
        xt = col(t, x) * x + col(1 - t, x) * noise
        return ((model(xt, t) - (x - noise)) ** 2).sum(1)

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:  # v = x − ε; ε = x_t − t v
        tt = col(t, xt)
        return -(xt - tt * model(xt, t)) / (1 - tt)

    report = check_training_step(step, to_score, schedule=Schedule.rectified_flow())
    assert report.ok, report.summary()
    assert report.residual <= EXACT
    text = " ".join(report.notes)
    assert "2·x0 − 1" in text and "time looks reversed" in text


def test_edm_log_normal_sigma_and_input_scaling() -> None:
    """k-diffusion's Denoiser: σ = exp(P_mean + P_std·randn), the model sees c_in·x_t and σ."""
    sd, p_mean, p_std = 0.5, -1.2, 1.2

    def scalings(sigma: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return (sd**2 / (sigma**2 + sd**2), sigma * sd / (sigma**2 + sd**2) ** 0.5,
                1 / (sigma**2 + sd**2) ** 0.5)

    def step(model: Any, x0: Tensor) -> Tensor:
        sigma = (torch.randn(x0.shape[0], dtype=x0.dtype) * p_std + p_mean).exp()
        noisy = x0 + torch.randn_like(x0) * col(sigma, x0)
        c_skip, c_out, c_in = (col(c, x0) for c in scalings(sigma))
        out = model(noisy * c_in, sigma)
        target = (x0 - c_skip * noisy) / c_out
        return ((out - target) ** 2).mean(1)

    def to_score(model: Any, x_in: Tensor, sigma: Tensor) -> Tensor:
        c_skip, c_out, c_in = (col(c, x_in) for c in scalings(sigma))
        xt = x_in / c_in
        denoised = c_skip * xt + c_out * model(x_in, sigma)
        return (denoised - xt) / col(sigma, xt) ** 2 / c_in   # the score of x_in = c_in·x_t

    report = check_training_step(step, to_score, schedule=Schedule.edm())
    assert report.ok, report.summary()
    assert report.residual <= EXACT
    assert report.draws[0] == "t ← torch.randn([B]) (draw 1)"
    assert any("preconditioning" in n for n in report.notes), report.notes


# --- two noise draws: conditional flow matching (torchcfm-style, hand-written) ---------------

def _cfm_step(sigma: float, *, bug: bool = False) -> Callable[[Any, Tensor], Tensor]:
    def step(model: Any, x1: Tensor) -> Tensor:      # x1 is the data; x0 the source
        x0 = torch.randn_like(x1)
        t = torch.rand(x0.shape[0]).type_as(x0)       # ConditionalFlowMatcher
        eps = torch.randn_like(x0)
        tt = col(t, x1)
        xt = tt * x1 + (1 - tt) * x0 + sigma * eps
        ut = x1 - x0 if not bug else x1 - eps
        return torch.mean((model(t, xt) - ut) ** 2)   # torchcfm calls model(t, x)

    return step


def _cfm_to_score(sigma: float) -> Callable[[Any, Tensor, Tensor], Tensor]:
    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        tt = col(t, xt)
        s2 = (1 - tt) ** 2 + sigma**2
        return (tt * model(t, xt) - xt) / (s2 + tt * (1 - tt))

    return to_score


@pytest.mark.parametrize("sigma", [0.0, 0.3])
def test_flow_matching_with_one_or_two_noises(sigma: float) -> None:
    report = check_training_step(_cfm_step(sigma), _cfm_to_score(sigma),
                                 schedule=Schedule.rectified_flow() if sigma == 0 else None)
    assert report.ok, report.summary()
    assert report.residual <= EXACT
    assert report.draws[0] == "t ← torch.rand([B]) (draw 2)"
    assert report.draws[1].startswith("noise 1 ← torch.randn_like(x0) (draw 1)")
    assert report.draws[2].startswith("noise 2 ← torch.randn_like(x0) (draw 3)")


def test_flow_matching_with_the_wrong_noise_in_the_target_is_caught() -> None:
    report = check_training_step(_cfm_step(0.3, bug=True), _cfm_to_score(0.3))
    assert not report.ok
    assert report.residual > 1e-3, report.summary()


# --- mutants through the step mode -----------------------------------------------------------

def _vp_step(kind: str) -> Callable[[Any, Tensor], Tensor]:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype) * 0.998 + 1e-3
        noise = torch.randn_like(x0)
        a, s = (col(v, x0) for v in vp(t))
        if kind == "sigma2":
            xt = a * x0 + s**2 * noise
        elif kind == "no-alpha":
            xt = x0 + s * noise
        else:
            xt = a * x0 + s * noise
        target = noise if kind != "target-sigma2" else noise * s
        return ((model(xt, t) - target) ** 2).mean()

    return step


@pytest.mark.parametrize("kind", ["sigma2", "target-sigma2"])
def test_mutants_are_caught_through_the_step(kind: str) -> None:
    report = check_training_step(_vp_step(kind), eps_to_score, schedule=VP)
    assert not report.ok
    assert report.residual >= 1e-3, report.summary()
    assert "not affine in SM" in report.summary()


def test_missing_alpha_is_caught_by_the_schedule() -> None:
    """x_t = x0 + σ ε is exact DSM for the kernel it applies (α = 1): what is wrong is that the
    kernel is not the schedule's, and the cross-check says so in words."""
    report = check_training_step(_vp_step("no-alpha"), eps_to_score, schedule=VP)
    assert not report.ok
    assert report.residual <= EXACT
    assert "the schedule does not describe" in report.summary()
    assert "α=1, σ=0.3563 vs α=0.9344, σ=0.3563" in report.summary()


def test_a_schedule_that_disagrees_is_named() -> None:
    report = check_training_step(_vp_step("correct"), eps_to_score,
                                 schedule=Schedule.vp_cosine())
    assert report.residual <= EXACT           # the step itself is consistent with to_score ...
    assert not report.ok                      # ... but not with the schedule the user named
    assert "the schedule does not describe" in report.summary()


# --- errors: never guess ---------------------------------------------------------------------

def test_numpy_draw_is_refused_and_named() -> None:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.as_tensor(np.random.rand(x0.shape[0]), dtype=x0.dtype)
        noise = torch.randn_like(x0)
        return ((model(col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise, t)
                 - noise) ** 2).sum(1)

    state: Any = np.random.get_state()
    with pytest.raises(SmeqError, match=r"numpy\.random\.rand\(\).*statistical='time'"):
        check_training_step(step, eps_to_score)
    now: Any = np.random.get_state()
    assert (now[1] == state[1]).all()   # the user's NumPy state is restored


def test_python_random_draw_is_refused() -> None:
    from random import random as bound_random  # as denoising-diffusion-pytorch imports it

    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.full((x0.shape[0],), bound_random(), dtype=x0.dtype)
        noise = torch.randn_like(x0)
        return ((model(col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise, t)
                 - noise) ** 2).sum(1)

    state = random.getstate()
    with pytest.raises(SmeqError, match=r"random.*statistical='time'"):
        check_training_step(step, eps_to_score)
    assert random.getstate() == state


def test_a_step_without_draws_is_refused() -> None:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.full((x0.shape[0],), 0.5, dtype=x0.dtype)
        return (model(x0, t) ** 2).sum(1)

    with pytest.raises(SmeqError, match="drew no random numbers"):
        check_training_step(step, eps_to_score)


def test_different_draws_on_replay_are_refused() -> None:
    calls = [0]

    def step(model: Any, x0: Tensor) -> Tensor:
        calls[0] += 1
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn_like(x0)
        if calls[0] > 1:
            noise = noise + 0 * torch.randn(x0.shape[0], 7, dtype=x0.dtype).sum()
        return ((model(col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise, t)
                 - noise) ** 2).sum(1)

    with pytest.raises(SmeqError, match=r"drew differently on a replay.*torch.randn\(\[B, 7\]\)"):
        check_training_step(step, eps_to_score)


def test_nondeterminism_beyond_the_rng_is_refused() -> None:
    counter = [0]

    def step(model: Any, x0: Tensor) -> Tensor:
        counter[0] += 1
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn_like(x0)
        xt = col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise
        return ((model(xt, t) - noise) ** 2).sum(1) * (1 + 1e-3 * counter[0])

    with pytest.raises(SmeqError, match="different losses on two replays"):
        check_training_step(step, eps_to_score)


def test_a_foreign_torch_sampler_is_refused() -> None:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn_like(x0)
        keep = torch.bernoulli(torch.full((x0.shape[0], 1), 0.9, dtype=x0.dtype))
        xt = col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise
        return ((model(xt, t) - noise) ** 2).sum(1) * keep[:, 0]

    with pytest.raises(SmeqError, match="bernoulli"):
        check_training_step(step, eps_to_score)


def test_a_draw_of_another_shape_is_refused() -> None:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn_like(x0) + 0.1 * torch.randn(x0.shape[0], 1, dtype=x0.dtype)
        xt = col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise
        return ((model(xt, t) - noise) ** 2).sum(1)

    with pytest.raises(SmeqError, match=r"more than one per-sample draw.*draw 3 torch.randn"):
        check_training_step(step, eps_to_score)

    def scalar_draw(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn_like(x0) * (1 + torch.rand(2, dtype=x0.dtype).sum())
        xt = col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise
        return ((model(xt, t) - noise) ** 2).sum(1)

    with pytest.raises(SmeqError, match=r"draw 3, torch.rand\(\[2\]\), is neither"):
        check_training_step(scalar_draw, eps_to_score)


def test_a_broadcast_across_the_batch_is_a_finding() -> None:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn_like(x0)
        a, s = vp(t)
        xt = col(a, x0) * x0 + col(s, x0) * noise
        per = ((model(xt, t) - noise) ** 2).sum(1)
        return (per * s.mean()).mean()   # a batch statistic in the weight

    report = check_training_step(step, eps_to_score)
    assert not report.ok
    assert "neither the mean" in report.summary()


# --- models reach a library object through the model argument -------------------------------

class _Diffusion(torch.nn.Module):
    """A library object owning its network (as denoising-diffusion-pytorch's GaussianDiffusion)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn_like(x0)
        a, s = vp(t)
        xt = col(a, x0) * x0 + col(s, x0) * noise
        return ((self.model(xt, t) - noise) ** 2).mean()


def test_swap_attribute_reaches_a_library_object_and_restores_it() -> None:
    own = numeric.random_score_network(99, 3)
    diffusion = _Diffusion(own)

    def step(model: Any, x0: Tensor) -> Tensor:
        with numeric.swap_attribute(diffusion, "model", model):
            return diffusion(x0)

    report = check_training_step(step, eps_to_score)
    assert report.ok and report.residual <= EXACT, report.summary()
    assert diffusion.model is own


def test_bad_arguments_name_the_argument() -> None:
    with pytest.raises(SmeqError, match="argument `step`"):
        check_training_step(3, eps_to_score)  # type: ignore[arg-type]
    with pytest.raises(SmeqError, match="argument `n_samples`"):
        check_training_step(_vp_step("correct"), eps_to_score, n_samples=1)


def test_step_that_raises_is_reported_against_step() -> None:
    def step(model: Any, x0: Tensor) -> Tensor:
        raise KeyError("boom")

    with pytest.raises(SmeqError, match=r"argument `step`: raised KeyError"):
        check_training_step(step, eps_to_score)


def test_image_shaped_conv_models() -> None:
    class Conv(torch.nn.Module):
        def __init__(self, seed: int) -> None:
            super().__init__()
            torch.manual_seed(seed)
            self.net = torch.nn.Conv2d(3, 3, 3, padding=1, dtype=torch.float64)

        def forward(self, x: Tensor, t: Tensor) -> Tensor:
            return self.net(x) * col(1 + t, x)

    state = torch.random.get_rng_state()
    models = [Conv(j) for j in range(4)]
    torch.random.set_rng_state(state)
    step = _eps_step(_time_draws(None)["rand"], _noise_draws(None)["randn_like"], "mean")
    report = check_training_step(step, eps_to_score, models=models, image_shape=(3, 8, 8))
    assert report.ok and report.residual <= EXACT, report.summary()
    assert math.isfinite(report.residual)


def test_noise_re_paired_across_the_batch_has_no_per_sample_kernel() -> None:
    """Immiscible-style assignment: each sample's noise is chosen using the whole batch."""
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn_like(x0)
        order = torch.argsort(x0.sum(1))
        noise = noise[torch.argsort(noise.sum(1))][torch.argsort(order)]
        a, s = vp(t)
        return ((model(col(a, x0) * x0 + col(s, x0) * noise, t) - noise) ** 2).sum(1)

    report = check_training_step(step, eps_to_score)
    assert not report.ok
    assert "depends on the other samples of the batch" in report.summary()


def test_a_float32_step_passes_with_float32_thresholds() -> None:
    step = _eps_step(_time_draws(None)["rand"], _noise_draws(None)["randn_like"], "mean")
    report = check_training_step(step, eps_to_score, dtype=torch.float32)
    assert report.ok, report.summary()
    assert report.residual < 1e-4


def test_noise_drawn_in_float32_is_noted_and_judged_at_float32() -> None:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype)
        noise = torch.randn(x0.shape)       # the default dtype, float32, in a float64 check
        a, s = vp(t)
        return ((model(col(a, x0) * x0 + col(s, x0) * noise, t) - noise) ** 2).sum(1)

    report = check_training_step(step, eps_to_score)
    assert report.ok, report.summary()
    assert report.threshold == 1e-3 and report.residual < 1e-6
    assert any("drawn in float32" in n for n in report.notes)
