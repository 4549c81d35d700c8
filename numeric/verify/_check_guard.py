"""The guard on the reference losses, and a planted bug it must flag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._checks import CheckResult, Context, Figure, register

# The built-in correct losses, each on the schedule its convention assumes.
_REFERENCE = (("eps", "vp_cosine"), ("x0", "vp_cosine"), ("v", "vp_cosine"), ("edm", "edm"),
              ("flow_matching", "rectified_flow"))


_LOSS_TITLES = {"eps": "ε-prediction", "x0": "x₀-prediction", "v": "v-prediction",
                "edm": "EDM (Karras et al. 2022)", "flow_matching": "flow matching"}


@register("guard_reference_losses", "the guard (numeric.check_loss) passes the built-in ε, x0, v, "
          "EDM and flow-matching losses with their Kingma & Gao weighting, and flags a planted "
          "σ-for-σ² bug")
def _guard_reference_losses(context: Context) -> CheckResult:
    from .._schedules import Schedule
    from ..guard._guard import check_loss
    from ..guard._reference_losses import reference_loss
    from ..guard._weightings import WEIGHTINGS

    lines, panels, ok = [], [], True
    n_times, n_models = context.size(8, 4), context.size(4, 3)
    for name, schedule_name in _REFERENCE:
        sched = getattr(Schedule, schedule_name)()
        ref = reference_loss(name, sched)
        params = dict(ref.params)
        report = check_loss(ref.loss, ref.to_score, sched, expected_weighting=ref.weighting,
                            device=context.device, seed=context.seed, n_times=n_times,
                            n_models=n_models, weighting_params=params or None)
        passed = report.ok and report.matched == ref.weighting
        ok = ok and passed
        lines.append(f"{name} on {schedule_name}: {'pass' if passed else 'FAIL'}, residual "
                     f"{report.residual:.2g}, matched {report.matched_text or report.matched}"
                     + ("" if passed else "\n" + report.summary()))
        times = torch.tensor(list(report.weighting), dtype=torch.float64)
        fine = sched.grid(60)
        a_fine, s_fine = sched.kernel(fine)
        scale = report.scale if report.scale is not None else float("nan")
        panels.append({"name": _LOSS_TITLES[name], "expected_name": f"{WEIGHTINGS[name].formula}",
                       "log_snr": sched.log_snr(times).tolist(),
                       "measured": list(report.weighting.values()),
                       "log_snr_fine": sched.log_snr(fine).tolist(),
                       "expected_fine": (scale * WEIGHTINGS[name](a_fine, s_fine, **params))
                       .tolist()})
    bug = _planted_bug(Schedule.vp_cosine())
    flagged = check_loss(bug, reference_loss("eps", Schedule.vp_cosine()).to_score,
                         Schedule.vp_cosine(), device=context.device, seed=context.seed,
                         n_times=n_times, n_models=n_models)
    ok = ok and not flagged.ok
    lines.append(f"planted bug (x_t = αx0 + σ²ε in an ε loss): "
                 f"{'flagged' if not flagged.ok else 'NOT FLAGGED'}, residual "
                 f"{flagged.residual:.2g}")
    figure = Figure("weightings", "The implied weighting λ(t) of each parametrisation",
                    "Markers: λ(t) measured by numeric.check_loss on each built-in reference loss "
                    "(loss = λ(t)·‖s_θ − ∇log p_t‖² + const per t). Lines: the score-space "
                    "weighting of the same parametrisation (Kingma & Gao 2023, Table 1; Karras "
                    "et al. 2022, Table 1), scaled by the loss's reduction constant.",
                    "weightings", {"losses": panels})
    n_pass = sum(line.split(": ", 1)[1].startswith("pass") for line in lines[:-1])
    return CheckResult(ok, f"{n_pass}/{len(_REFERENCE)} reference losses pass with the expected "
                       f"weighting; planted bug {'flagged' if not flagged.ok else 'MISSED'}",
                       "\n".join(lines), figure)


def _planted_bug(schedule: Any) -> Callable[..., torch.Tensor]:
    """An ε loss that builds x_t with σ² instead of σ (a real bug class; tests/quality)."""

    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a = schedule.alpha(t).to(x0.dtype).reshape(-1, 1)
        s = schedule.sigma(t).to(x0.dtype).reshape(-1, 1)
        return ((model(a * x0 + s**2 * noise, t) - noise) ** 2).sum(dim=1)

    return loss
