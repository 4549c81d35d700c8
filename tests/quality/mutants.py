"""Planted bugs: mutants of correct losses, each a real bug class seen in diffusion code.

``affine`` mutants break L̄_j − L̄_0 = λ(t)(S_j − S_0) and must be caught with no hints;
``weighting`` mutants are valid score-matching losses with the wrong λ(t), caught when the
expected weighting is given (the report then shows the weighting actually measured);
``statistical`` mutants draw their own randomness and are caught by the paired CRN test.
Values-exact mutants (docs/design.md §3b): ``gradient`` ones have exact values and a wrong
gradient (a detach), ``batch`` ones are exact per sample and mix samples in a batch,
``control_variate`` ones are correct only in expectation; ``garbage`` ones hand the statistical
mode garbage (a to_score that ignores the model, NaN scores) and must be refused with an error
naming the argument (``raises``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from numeric import Schedule
from numeric.guard._reference_losses import reference_loss, sliced_sm_loss

Tensor = torch.Tensor


@dataclass(frozen=True)
class Mutant:
    """One planted bug: the loss, its to_score, the schedule, and how it must be caught."""

    name: str
    bug: str
    kind: str  # "affine" | "weighting" | "statistical" | "gradient" | "batch" |
    #            "control_variate" | "garbage"
    schedule: Callable[[], Schedule]
    loss: Callable[..., Tensor]
    to_score: Callable[..., Tensor]
    expected_weighting: str | None = None
    raises: str | None = None  # garbage: the argument the error must name

    def __repr__(self) -> str:
        return self.name

    def check_kwargs(self) -> dict[str, Any]:
        if self.kind in ("statistical", "garbage"):
            return {"statistical": True}
        return {"expected_weighting": self.expected_weighting}


def col(v: Tensor, like: Tensor) -> Tensor:
    return v.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


VP = Schedule.vp_linear
DDPM = Schedule.ddpm
EDM = Schedule.edm
RF = Schedule.rectified_flow


def _eps_to_score(s: Schedule) -> Callable[..., Tensor]:
    return reference_loss("eps", s).to_score


def _score_sigma2() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        return ((model(a * x0 + sg * noise, t) + noise / sg**2) ** 2).sum(1)  # bug: σ² for σ

    return Mutant("score_target_sigma2", "σ vs σ² in the target", "affine", VP, loss,
                  lambda m, x, t: m(x, t))


def _ncsn_weight_sigma() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        return (sg * (model(a * x0 + sg * noise, t) + noise / sg) ** 2).sum(1)  # bug: σ for σ²

    return Mutant("ncsn_weight_sigma", "σ vs σ² in the weighting", "weighting", VP, loss,
                  lambda m, x, t: m(x, t), "ncsn")


def _eps_alpha_dropped() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        sg = col(s.sigma(t), x0)
        return ((model(x0 + sg * noise, t) - noise) ** 2).sum(1)  # bug: VP treated as VE

    return Mutant("eps_alpha_dropped", "α dropped from x_t (VP treated as VE)", "affine", VP,
                  loss, _eps_to_score(s))


def _ddpm_abar() -> Mutant:
    s = DDPM()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        abar = col(s.alpha(t) ** 2, x0)
        xt = abar * x0 + torch.sqrt(1 - abar) * noise  # bug: ᾱ in place of √ᾱ
        return ((model(xt, t) - noise) ** 2).sum(1)

    return Mutant("ddpm_abar_for_sqrt_abar", "ᾱ in place of √ᾱ", "affine", DDPM, loss,
                  _eps_to_score(s))


def _eps_sign() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        return ((model(a * x0 + sg * noise, t) + noise) ** 2).sum(1)  # bug: target −ε

    return Mutant("eps_sign_flip", "sign flip of the target", "affine", VP, loss,
                  _eps_to_score(s))


def _wrong_axis() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        xt = a * x0 + sg * noise
        # bug: σ shaped for (B, C, L) data; on (B, D) it broadcasts to [B, B, D] silently
        target = (xt - a * x0) / s.sigma(t).to(x0.dtype).view(-1, 1, 1)
        return ((model(xt, t) - target) ** 2).sum(2).mean(1)

    return Mutant("sigma_wrong_batch_axis", "σ broadcast over the wrong batch axis", "affine",
                  VP, loss, _eps_to_score(s))


def _mean_sum() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        pred = model(a * x0 + sg * noise, t)
        # bug: the expanded square, with mean over dims in one term and sum in the other
        return (pred**2).mean(1) - 2 * (pred * noise).sum(1) + (noise**2).mean(1)

    return Mutant("mean_sum_mixed", "mean vs sum over dims mixed inside one loss", "affine", VP,
                  loss, _eps_to_score(s))


def _off_by_one() -> Mutant:
    s = DDPM()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        xt = a * x0 + sg * noise
        a1, s1 = col(s.alpha(t - 1), x0), col(s.sigma(t - 1), x0)  # bug: the target uses t − 1
        return ((model(xt, t) - (xt - a1 * x0) / s1) ** 2).sum(1)

    return Mutant("ddpm_off_by_one", "off-by-one timestep between add_noise and the target",
                  "affine", DDPM, loss, _eps_to_score(s))


def _v_swapped() -> Mutant:
    s = VP()
    ref = reference_loss("v", s)

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        return ((model(a * x0 + sg * noise, t) - (sg * noise - a * x0)) ** 2).sum(1)  # bug

    return Mutant("v_target_swapped", "v-target with α and σ swapped", "affine", VP, loss,
                  ref.to_score)


def _min_snr_direction() -> Mutant:
    s = VP()
    eps = reference_loss("eps", s)

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        snr = (s.alpha(t) / s.sigma(t)) ** 2
        w = torch.clamp(snr, min=5.0) / snr  # bug: clamp in the wrong direction
        return w.to(x0.dtype) * eps.loss(model, x0, t, noise)

    return Mutant("min_snr_wrong_direction", "min-SNR clamp in the wrong direction",
                  "weighting", VP, loss, eps.to_score, "min_snr_eps")


def _edm_cskip() -> Mutant:
    s = EDM()
    ref = reference_loss("edm", s)
    sd = 0.5

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        sg = col(s.sigma(t), x0)
        xt = x0 + sg * noise
        c_skip = sg**2 / (sg**2 + sg**2)  # bug: σ in place of σ_data (the sampler's is right)
        c_out = sg * sd / torch.sqrt(sg**2 + sd**2)
        c_in = 1 / torch.sqrt(sg**2 + sd**2)
        d = c_skip * xt + c_out * model(c_in * xt, t)
        return ((sg**2 + sd**2) / (sg * sd) ** 2 * (d - x0) ** 2).sum(1)

    return Mutant("edm_cskip_sigma", "EDM c_skip with σ in place of σ_data", "affine", EDM, loss,
                  ref.to_score)


def _edm_weight() -> Mutant:
    s = EDM()
    ref = reference_loss("edm", s)
    sd = 0.5

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        sg = col(s.sigma(t), x0)
        c_skip = sd**2 / (sg**2 + sd**2)
        c_out = sg * sd / torch.sqrt(sg**2 + sd**2)
        c_in = 1 / torch.sqrt(sg**2 + sd**2)
        xt = x0 + sg * noise
        d = c_skip * xt + c_out * model(c_in * xt, t)
        c_out_bug = sg * sg / torch.sqrt(sg**2 + sg**2)  # bug: c_out with σ for σ_data
        return ((d - x0) ** 2 / c_out_bug**2).sum(1)

    return Mutant("edm_weight_cout_sigma", "EDM λ = 1/c_out² with σ in place of σ_data",
                  "weighting", EDM, loss, ref.to_score, "edm")


def _flow_swapped() -> Mutant:
    s = RF()
    ref = reference_loss("flow_matching", s)

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        return ((model(a * x0 + sg * noise, t) - (x0 - noise)) ** 2).sum(1)  # bug: swapped

    return Mutant("flow_target_swapped", "flow-matching target with x0 and ε swapped", "affine",
                  RF, loss, ref.to_score)


def _x0_from_xt() -> Mutant:
    s = VP()
    ref = reference_loss("x0", s)

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        xt = a * x0 + sg * noise
        return ((model(xt, t) - xt) ** 2).sum(1)  # bug: target built from x_t, not x0

    return Mutant("x0_target_from_xt", "a target built from x_t in place of x0", "affine", VP,
                  loss, ref.to_score)


def _noise_redrawn() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        xt = a * x0 + sg * noise
        fresh = torch.randn_like(x0)  # bug: noise drawn again for the target
        return ((model(xt, t) - fresh) ** 2).sum(1)

    return Mutant("eps_noise_redrawn", "noise drawn again for the target", "affine", VP, loss,
                  _eps_to_score(s))


def _eps_weight_sigma() -> Mutant:
    s = VP()
    eps = reference_loss("eps", s)

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        return s.sigma(t).to(x0.dtype) * eps.loss(model, x0, t, noise)  # bug: extra σ weight

    return Mutant("eps_extra_sigma_weight", "σ vs σ² in the weighting (an extra σ(t) factor)",
                  "weighting", VP, loss, eps.to_score, "eps")


def _x0_to_score_alpha() -> Mutant:
    s = VP()
    ref = reference_loss("x0", s)

    def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        sg = col(s.sigma(t), xt)
        return (model(xt, t) - xt) / sg**2  # bug: α dropped in the x0 -> score conversion

    return Mutant("x0_to_score_alpha_dropped", "α dropped from the x0 → score conversion",
                  "affine", VP, ref.loss, to_score)


def _sliced_wrong_variable() -> Mutant:
    def loss(model: Any, x: Tensor) -> Tensor:
        with torch.enable_grad():
            xx = x.detach().clone().requires_grad_(True)
            v = torch.randn(x.shape, dtype=x.dtype).requires_grad_(True)
            s = model(xx, torch.zeros(x.shape[0], dtype=x.dtype))
            proj = (v * s).sum(1)
            (g,) = torch.autograd.grad(proj.sum(), v, create_graph=True)  # bug: w.r.t. v, not x
        return 0.5 * proj**2 + (v * g).sum(1)

    return Mutant("sliced_grad_wrt_v", "sliced-SM projection differentiated w.r.t. the wrong "
                  "variable (v in place of x)", "statistical", VP, loss,
                  lambda m, x, t: m(x, t))


def _half_detached() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        m = model(a * x0 + sg * noise, t)
        pred = 0.5 * m + 0.5 * m.detach()  # bug: half of the prediction gets no gradient
        return ((pred - noise) ** 2).sum(1)

    return Mutant("half_detached_prediction", "half of the prediction detached", "gradient",
                  VP, loss, _eps_to_score(s))


def _late_detached() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        m = model(a * x0 + sg * noise, t)
        pred = torch.where(col(t, x0) > 0.5, m.detach(), m)  # bug: no gradient for t > 0.5
        return ((pred - noise) ** 2).sum(1)

    return Mutant("prediction_detached_late_t", "prediction detached on a time range (t > 0.5)",
                  "gradient", VP, loss, _eps_to_score(s))


def _image_sigma_scalar() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        xt = a * x0 + sg * noise
        # bug: σ indexed for image batches; against [B, D] it broadcasts to [B, 1, B, D]
        target = (xt - a * x0) / s.sigma(t).to(x0.dtype)[:, None, None, None]
        return ((model(xt, t) - target) ** 2).mean()

    return Mutant("scalar_sigma_image_indexing", "σ indexed for image batches in a scalar loss "
                  "(cross-sample broadcast)", "batch", VP, loss, _eps_to_score(s))


def _mean_over_bb() -> Mutant:
    s = VP()
    eps = reference_loss("eps", s)

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        w = (s.alpha(t) ** 2).to(x0.dtype)[:, None]  # [B, 1] per-sample weight (α², valid)
        per = eps.loss(model, x0, t, noise)          # [B]
        return (w * per).mean()                      # bug: [B, 1] * [B] -> [B, B], then .mean()

    return Mutant("mean_over_b_by_b", ".mean() over a [B, B] loss", "batch", VP, loss,
                  eps.to_score)


def _control_variate() -> Mutant:
    s = VP()

    def loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        a, sg = col(s.alpha(t), x0), col(s.sigma(t), x0)
        u = model(a * x0 + sg * noise, t)
        mirror = model(a * x0 - sg * noise, t)
        # ε·(u(x_t) + u(α x0 − σ ε)) has mean 0 over ε given x0 (ε → −ε), not given x_t
        return ((u - noise) ** 2).sum(1) + 0.3 * (noise * (u + mirror)).sum(1)

    return Mutant("antithetic_control_variate", "a control variate: correct only in "
                  "expectation", "control_variate", VP, loss, _eps_to_score(s))


def _garbage_to_score() -> Mutant:
    return Mutant("to_score_ignores_model", "a to_score that ignores the model (statistical "
                  "mode)", "garbage", VP, sliced_sm_loss, lambda m, x, t: -x, raises="to_score")


def _garbage_nan() -> Mutant:
    def to_score(model: Any, x: Tensor, t: Tensor) -> Tensor:
        out = model(x, t).clone()
        out[0, 0] = float("nan")  # bug: a NaN in the score
        return out

    return Mutant("nan_score_statistical", "a NaN score in statistical mode", "garbage", VP,
                  sliced_sm_loss, to_score, raises="to_score")


MUTANTS: tuple[Mutant, ...] = tuple(f() for f in (
    _half_detached, _late_detached, _image_sigma_scalar, _mean_over_bb, _control_variate,
    _garbage_to_score, _garbage_nan,
    _score_sigma2, _ncsn_weight_sigma, _eps_alpha_dropped, _ddpm_abar, _eps_sign, _wrong_axis,
    _mean_sum, _off_by_one, _v_swapped, _min_snr_direction, _edm_cskip, _edm_weight,
    _flow_swapped, _x0_from_xt, _noise_redrawn, _eps_weight_sigma, _x0_to_score_alpha,
    _sliced_wrong_variable))

#: (schedule factory, reference loss name): every correct loss the guard must pass and name.
CORRECT: tuple[tuple[str, str], ...] = (
    ("vp_linear", "score"), ("vp_linear", "ncsn"), ("vp_linear", "eps"), ("vp_linear", "x0"),
    ("vp_linear", "v"), ("vp_linear", "min_snr_eps"), ("vp_linear", "likelihood"),
    ("ddpm", "eps"), ("ddpm", "v"), ("ddpm", "x0"), ("vp_cosine", "v"), ("ve", "score"),
    ("edm", "edm"), ("rectified_flow", "flow_matching"), ("sub_vp", "eps"))

#: the check passes ``sliced_sm_loss`` (the correct counterpart of ``sliced_grad_wrt_v``).
SLICED_CORRECT = sliced_sm_loss


def _compatible(schedule: Schedule) -> list[str]:
    names = ["score", "ncsn", "eps", "x0", "v", "min_snr_eps"]
    if not schedule.discrete:
        names.append("likelihood")
    if schedule.name in ("ve", "edm"):
        names.append("edm")
    if schedule.name == "rectified_flow":
        names.append("flow_matching")
    return names


def random_correct_case(seed: int) -> dict[str, Any]:
    """A random correct check (schedule, parametrisation, reduction, times, seed, sizes) as
    ``check_loss`` keyword arguments plus ``weighting`` (what it must be named)."""
    g = torch.Generator().manual_seed(seed)

    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))

    builders: list[Callable[[], Schedule]] = [
        lambda: Schedule.vp_linear(beta_min=u(0.01, 0.5), beta_max=u(5.0, 25.0)),
        lambda: Schedule.vp_cosine(s=u(0.001, 0.02)),
        lambda: Schedule.ve(sigma_min=u(0.002, 0.05), sigma_max=u(5.0, 100.0)),
        lambda: Schedule.sub_vp(beta_min=u(0.01, 0.5), beta_max=u(5.0, 25.0)),
        lambda: Schedule.edm(sigma_min=u(0.002, 0.01), sigma_max=u(10.0, 80.0)),
        Schedule.rectified_flow,
        lambda: Schedule.ddpm(num_train_timesteps=int(u(50, 1000)), beta_schedule=(
            "linear", "scaled_linear", "squaredcos_cap_v2")[int(u(0, 2.999))]),
    ]
    schedule = builders[int(u(0, len(builders) - 0.001))]()
    names = _compatible(schedule)
    name = names[int(u(0, len(names) - 0.001))]
    reduction = "sum" if u(0, 1) < 0.5 else "mean"
    ref = reference_loss(name, schedule, reduction=reduction, sigma_data=u(0.2, 1.5),
                         gamma=u(1.0, 10.0))
    n_times = int(u(3, 8.999))
    if schedule.discrete:
        lo, hi = 1, int(schedule.t_max) - 1
        times = torch.randint(lo, hi + 1, (n_times,), generator=g).unique()
        if times.numel() < 3:
            times = schedule.grid(3)
    else:
        lo, hi = schedule.t_min, schedule.t_max
        times = lo + (hi - lo) * (0.01 + 0.98 * torch.rand(n_times, generator=g,
                                                            dtype=torch.float64))
    return {"loss": ref.loss, "to_score": ref.to_score, "schedule": schedule, "times": times,
            "seed": int(u(0, 10_000)), "dim": int(u(1, 6.999)), "n_samples": int(u(16, 64)),
            "n_models": int(u(3, 5.999)), "weighting": ref.weighting,
            "weighting_params": dict(ref.params)}
