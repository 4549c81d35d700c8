"""Checks of SM ≤ DSM and of the θ-free constant C(t) (Vincent 2011), measured by coupling."""

from __future__ import annotations

import torch

from ._checks import Z_FALSE_ALARM, CheckResult, Context, Figure, register
from ._problems import (
    _GAUSS_MEAN,
    _GAUSS_STD,
    _T,
    _mean_se,
    _mixture,
    _networks,
    _relative,
    _rtol,
    _schedule,
    _spread,
)


@register("sm_le_dsm", "SM(θ) ≤ DSM(θ) (Jensen): the coupled gap is a weighted variance ≥ 0 at "
          "every x_t; plain Monte Carlo agrees (z ≥ −5.3)")
def _sm_le_dsm(context: Context) -> CheckResult:
    from .._coupling import coupled_batch
    from .._estimators import dsm_coupled, dsm_mc, sm_exact

    mix, sched = _mixture(context), _schedule()
    n = context.size(2048, 512)
    worst_rel, worst_z, lines = float("inf"), float("inf"), []
    with torch.no_grad():
        for i, t in enumerate(sched.grid(context.size(6, 3)).tolist()):
            a, s = sched.kernel(t)
            batch = coupled_batch(mix, a, s, n, generator=context.generator(100 + i))
            for j, net in enumerate(_networks(context, context.size(4, 2))):
                dsm = dsm_coupled(net, batch, t)
                sm = sm_exact(net, mix, sched, t, xt=batch.xt)
                gap = dsm.per_sample - sm.per_sample
                rel = float(gap.min() / sm.per_sample.abs().max())
                plain = dsm_mc(net, mix, sched, t, n=n, generator=10_000 * context.seed + i)
                diff = plain.per_sample - sm_exact(net, mix, sched, t, xt=plain.xt).per_sample
                mean, se = _mean_se(diff)
                worst_rel, worst_z = min(worst_rel, rel), min(worst_z, mean / se)
                lines.append(f"t={t:.3g} θ#{j}: min coupled gap/max SM = {rel:.3g}, "
                             f"plain MC DSM−SM = {mean:.4g} ± {se:.2g} (z = {mean / se:.1f})")
    ok = worst_rel >= -_rtol(context) and worst_z >= -Z_FALSE_ALARM
    return CheckResult(ok, f"min gap {worst_rel:.2g}·SM ≥ 0 at every x_t; MC z ≥ {worst_z:.1f}",
                       "\n".join(lines))


@register("constant_gap_theta", "DSM(θ) − SM(θ) is the same for every θ (Vincent 2011): "
          "posterior-coupled spread at rounding level, plain Monte Carlo noisy; mean = C(t)")
def _constant_gap_theta(context: Context) -> CheckResult:
    from .._coupling import coupled_batch
    from .._estimators import dsm_coupled, dsm_mc, sm_exact

    mix, sched, t = _mixture(context), _schedule(), _T
    a, s = sched.kernel(t)
    n = context.size(2048, 512)
    batch = coupled_batch(mix, a, s, n, generator=context.generator(200))
    plain, coupled, ses = [], [], []
    with torch.no_grad():
        for net in _networks(context, context.size(32, 12)):
            gap = dsm_coupled(net, batch, t).per_sample - sm_exact(net, mix, sched, t,
                                                                   xt=batch.xt).per_sample
            coupled.append(float(gap.mean()))
            ses.append(_mean_se(gap)[1])
            mc = dsm_mc(net, mix, sched, t, n=n, generator=10_000 * context.seed + 7)  # CRN
            plain.append(float((mc.per_sample - sm_exact(net, mix, sched, t, xt=mc.xt)
                                .per_sample).mean()))
    constant, c_se = (float(v) for v in mix.constant(a, s, n=context.size(65536, 16384),
                                                     generator=context.generator(201),
                                                     return_stderr=True))
    spread_c, spread_p = _spread(coupled), _spread(plain)
    z = (coupled[0] - constant) / (ses[0] ** 2 + c_se**2) ** 0.5
    ok = spread_c <= _rtol(context) and spread_p > 100 * spread_c and abs(z) <= Z_FALSE_ALARM
    figure = Figure("theta_spread", "DSM − SM over random θ: plain Monte Carlo vs "
                    "posterior-coupled", f"{len(coupled)} random score networks on the same "
                    f"{n} x_t (plain Monte Carlo with common random numbers). The coupled "
                    "estimate is θ-free to rounding; the dashed line is C(t) from "
                    "GaussianMixture.constant.", "theta_spread",
                    {"plain": plain, "coupled": coupled, "constant": constant, "n_plain": n,
                     "n_coupled": n, "t": t, "schedule": sched.name, "dim": mix.dim})
    return CheckResult(ok, f"coupled spread {spread_c:.1e} (≤ {_rtol(context):.0e}), plain MC "
                       f"{spread_p:.1e}; C(t) z = {z:.1f}",
                       f"relative spread over {len(coupled)} θ: coupled {spread_c:.3g}, plain "
                       f"MC (CRN) {spread_p:.3g}\ncoupled mean {coupled[0]:.6g} ± {ses[0]:.2g}, "
                       f"C(t) = {constant:.6g} ± {c_se:.2g}, z = {z:.2f}", figure)


@register("constant_gap_training", "DSM(θ) − SM(θ) stays constant while θ trains on the DSM "
          "loss (Adam), and equals C(t)")
def _constant_gap_training(context: Context) -> CheckResult:
    from .._coupling import coupled_batch
    from .._estimators import dsm_coupled, dsm_mc, sm_exact

    mix, sched, t = _mixture(context), _schedule(), _T
    a, s = sched.kernel(t)
    batch = coupled_batch(mix, a, s, context.size(2048, 512), generator=context.generator(300))
    (net,) = _networks(context, 1, offset=300)
    adam = _Adam(list(net.parameters()), lr=2e-2)
    steps, sms, dsms, gaps, ses = [], [], [], [], []
    for step in range(context.size(80, 25) + 1):
        with torch.no_grad():
            dsm = dsm_coupled(net, batch, t)
            sm = sm_exact(net, mix, sched, t, xt=batch.xt)
            gap = dsm.per_sample - sm.per_sample
        steps.append(step)
        sms.append(float(sm.value))
        dsms.append(float(dsm.value))
        gaps.append(float(gap.mean()))
        ses.append(_mean_se(gap)[1])
        loss = dsm_mc(net, mix, sched, t, n=256, generator=context.generator(1000 + step)).value
        adam.step(torch.autograd.grad(loss, adam.params))
    constant, c_se = (float(v) for v in mix.constant(a, s, n=context.size(65536, 16384),
                                                     generator=context.generator(301),
                                                     return_stderr=True))
    spread, moved = _spread(gaps), (max(sms) - min(sms)) / max(sms)
    z = (gaps[0] - constant) / (ses[0] ** 2 + c_se**2) ** 0.5
    ok = spread <= _rtol(context) and moved > 0.05 and abs(z) <= Z_FALSE_ALARM
    figure = Figure("training_run", "SM(θ) and DSM(θ) along a DSM training run",
                    f"A random score network trained for {steps[-1]} Adam steps on the plain "
                    "Monte Carlo DSM loss; SM and DSM evaluated on one fixed posterior-coupled "
                    "set. Their difference stays at C(t) while θ moves.", "training_run",
                    {"steps": steps, "sm": sms, "dsm": dsms, "gap": gaps, "constant": constant,
                     "t": t, "schedule": sched.name, "dim": mix.dim,
                     "tolerance": _rtol(context)})
    return CheckResult(ok, f"gap spread {spread:.1e} over {steps[-1]} steps while SM fell "
                       f"{100 * moved:.0f}%; C(t) z = {z:.1f}",
                       f"SM {sms[0]:.5g} -> {sms[-1]:.5g}, DSM {dsms[0]:.5g} -> {dsms[-1]:.5g}, "
                       f"gap {gaps[0]:.10g} (relative spread {spread:.3g}); C(t) = "
                       f"{constant:.6g} ± {c_se:.2g}, z = {z:.2f}", figure)


class _Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1), written out: ``torch.optim`` imports torch._dynamo,
    which alone costs seconds on a laptop CPU."""

    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float] = (
            0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.betas, self.eps, self.count = params, lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, grads: tuple[torch.Tensor, ...]) -> None:
        self.count += 1
        b1, b2 = self.betas
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            m_hat = m / (1 - b1**self.count)
            v_hat = v / (1 - b2**self.count)
            p.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))


_SCHEDULES = ("vp_linear", "vp_cosine", "ve", "sub_vp", "edm", "rectified_flow", "ddpm")


@register("constant_closed_form", "for every schedule (VP linear/cosine, VE, sub-VP, EDM, "
          "rectified flow, DDPM) the measured gap equals C(t) = d/σ² − d/(α²s² + σ²)")
def _constant_closed_form(context: Context) -> CheckResult:
    import proofs

    from .._coupling import coupled_batch
    from .._estimators import dsm_coupled, sm_exact
    from .._mixture import GaussianMixture
    from .._schedules import Schedule

    closed = proofs.closed_form("gaussian_constant_isotropic")
    d, std = len(_GAUSS_MEAN), _GAUSS_STD
    gauss = GaussianMixture([1.0], [_GAUSS_MEAN], [std**2], dtype=context.dtype,
                            device=context.device)
    (net,) = _networks(context, 1, offset=400)
    panels, lines, worst_z, worst_oracle = [], [], 0.0, 0.0
    n = context.size(2048, 512)
    for k, name in enumerate(_SCHEDULES):
        sched = getattr(Schedule, name)()
        times, measured, ses, want = sched.grid(context.size(6, 3)), [], [], []
        for i, t in enumerate(times.tolist()):
            a, s = sched.kernel(t)
            batch = coupled_batch(gauss, a, s, n, generator=context.generator(400 + 10 * k + i))
            with torch.no_grad():
                gap = dsm_coupled(net, batch, t).per_sample - sm_exact(
                    net, gauss, sched, t, xt=batch.xt).per_sample
            mean, se = _mean_se(gap)
            exact = float(closed(alpha=float(a), sigma=float(s), s=std, d=d))
            oracle = float(gauss.constant(a, s))
            z = (mean - exact) / se
            worst_z = max(worst_z, abs(z))
            worst_oracle = max(worst_oracle, abs(oracle - exact) / exact)
            measured.append(mean)
            ses.append(se)
            want.append(exact)
            lines.append(f"{name} t={t:.4g}: measured {mean:.6g} ± {se:.2g}, closed form "
                         f"{exact:.6g} (z = {z:.2f}), GaussianMixture.constant {oracle:.6g}")
        fine = sched.grid(60)
        alphas, sigmas = sched.kernel(fine)
        panels.append({"name": name, "t": times.tolist(), "measured": measured, "se": ses,
                       "t_fine": fine.tolist(), "log_t": name == "edm",
                       "closed_fine": [float(closed(alpha=float(x), sigma=float(y), s=std, d=d))
                                       for x, y in zip(alphas, sigmas, strict=True)],
                       "t_label": {"edm": "t = σ (EDM time)", "ddpm": "timestep index t"}
                       .get(name, "t (schedule time, 0 to 1)")})
    ok = worst_z <= Z_FALSE_ALARM and worst_oracle <= _rtol(context)
    figure = Figure("constant_by_schedule", "C(t) for each schedule: closed form against "
                    "measured", f"p_0 = N(μ, {std}²I) in d = {d}; line: the closed form "
                    "proofs.closed_form('gaussian_constant_isotropic'); markers: the mean of "
                    f"DSM − SM over {n} posterior-coupled x_t (error bars: one standard error).",
                    "constant_by_schedule",
                    {"schedules": panels, "caption": f"p_0 = N(μ, {std}²·I), d = {d}\n"
                     "C(t) = d/σ² − d/(α²s² + σ²)\n"
                     f"error bars: 1 s.e. over {n} x_t"})
    return CheckResult(ok, f"{len(lines)} (schedule, t): largest |z| = {worst_z:.1f}; oracle vs "
                       f"closed form {worst_oracle:.1e}", "\n".join(lines), figure)


@register("gradient_equality", "∇_θ DSM(θ) = ∇_θ SM(θ): the constant has zero gradient "
          "(posterior-coupled, to rounding)")
def _gradient_equality(context: Context) -> CheckResult:
    from .._coupling import coupled_batch
    from .._estimators import dsm_coupled, dsm_mc, sm_exact

    mix, sched = _mixture(context), _schedule()
    worst, worst_plain, lines = 0.0, 0.0, []
    for i, t in enumerate(sched.grid(context.size(3, 2)).tolist()):
        a, s = sched.kernel(t)
        batch = coupled_batch(mix, a, s, context.size(1024, 256),
                              generator=context.generator(500 + i))
        for j, net in enumerate(_networks(context, context.size(4, 2), offset=500)):
            params = [p for p in net.parameters() if p.requires_grad]
            g_dsm = torch.autograd.grad(dsm_coupled(net, batch, t).value, params)
            g_sm = torch.autograd.grad(sm_exact(net, mix, sched, t, xt=batch.xt).value, params)
            plain = dsm_mc(net, mix, sched, t, n=batch.n, generator=context.seed)
            g_mc = torch.autograd.grad(plain.value, params)
            g_sm_mc = torch.autograd.grad(sm_exact(net, mix, sched, t, xt=plain.xt).value, params)
            rel = _relative(g_dsm, g_sm)
            rel_mc = _relative(g_mc, g_sm_mc)
            worst, worst_plain = max(worst, rel), max(worst_plain, rel_mc)
            lines.append(f"t={t:.3g} θ#{j}: ‖∇DSM − ∇SM‖/‖∇SM‖ = {rel:.2g} coupled, "
                         f"{rel_mc:.2g} plain Monte Carlo")
    ok = worst <= _rtol(context)
    return CheckResult(ok, f"relative gradient gap {worst:.1e} coupled (plain MC "
                       f"{worst_plain:.1e})", "\n".join(lines))
