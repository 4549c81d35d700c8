"""The regression guard: is a user's loss a score-matching loss, and with which weighting?

Method (docs/design.md §3, posterior-coupled evaluation). Build an exact problem (a Gaussian
mixture p_0) and several models θ_j. Draw x_t ~ p_t at several times, mixed inside one batch, and
for each x_t a weighted set of x_0 that reproduces the posterior mean exactly; pass
noise = (x_t − α x_0)/σ to the loss. Every DSM-type loss is per sample ‖u_θ(x_t) − (a x_0 + b)‖²,
whose θ-dependent part is affine in x_0, so the weighted average L̄_j(x_t) obeys

    L̄_j(x_t) − L̄_0(x_t) = λ(t)·(S_j(x_t) − S_0(x_t)),   S_j = ‖∇log p_t(x_t) − s_θj(x_t, t)‖²,

exactly for every x_t (Vincent 2011, eq. 11 pointwise; docs/design.md §1). λ(t) is fitted by least
squares per t; what is left over, relative, is the residual: ~1e-15 for a correct loss in
float64, 1e-3 to 1 for a real bug. The measured λ(t) is then matched against known weightings."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import torch

from .._errors import invalid
from .._tolerances import RESIDUAL_RTOL as _RESIDUAL_RTOL
from .._tolerances import UNRESOLVED_FLOOR, data_scale, residual_thresholds, rounding_floors
from .._validate import check_seed, positive_int, resolve_device, resolve_dtype
from ._batch import check_batch, coupled_subset
from ._diagnose import diagnose, exact_mode_signature, time_mode_hint
from ._expected import _check_expected, _expected_text, _ft, expected_scale_value
from ._gradients import GRADIENT_XT_PER_TIME, check_gradients
from ._inputs import (
    DEFAULT_MODELS,
    DEFAULT_TIMES,
    LOSS_ARGS,
    SCORE_ARGS,
    InPlaceWatch,
    _as_times,
    _callable,
    _data,
    _image_shape,
    _kernel_on,
    _models,
    _times_tensor,
    _weighting_request,
    check_arguments,
    check_models_run,
    watch_schedule,
    with_findings,
)
from ._probe import AddNoiseProbe, low_precision_findings, resolve_schedule
from ._problem import Tensor, _Problem, _scores, fit_models
from ._report import LossReport
from ._statistical import check_statistical
from ._time_sampling import check_time_sampling
from ._weightings import Match, describe_power_law, fit_metric, match_weighting, path_rates

__all__ = ['assert_score_matching_loss', 'check_loss']


#: Relative residual above which a loss fails. A correct loss measures ≤ 1e-12 in float64
#: (bench/guard.py, bench/guard_soak.py) and planted bugs ≥ 1e-3 (tests/quality): the threshold
#: sits between them with margin on both sides. Lower precision loses digits in L̄_j − L̄_0.
RESIDUAL_RTOL: dict[torch.dtype, float] = _RESIDUAL_RTOL  # raised per time by conditioning


#: x_t per time in the exact mode. The residual is rounding-level at every x_t, so a few x_t
#: separate correct from buggy as well as hundreds (docs/design.md §3b): at n = 8, 16 and 256
#: every mutant of tests/quality is caught and 200 random correct cases pass (bench/guard.py).
EXACT_SAMPLES = 16
#: Samples per replicate in the statistical modes, whose power grows with them.
STATISTICAL_SAMPLES = 256


#: Shape agreement needed to name a weighting (the fitted λ(t) is as accurate as the residual).
MATCH_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-6, torch.float32: 1e-2}


def check_loss(loss: Callable[..., Any], to_score: Callable[..., Any], schedule: Any, *,
               times: Any = None, models: Iterable[Any] | None = None, data: Any = None,
               dim: int = 3, expected_weighting: Any = None, device: Any = "cpu",
               dtype: torch.dtype = torch.float64, seed: int = 0, n_samples: int | None = None,
               image_shape: tuple[int, ...] | None = None, statistical: bool | str = False,
               n_times: int = DEFAULT_TIMES, n_models: int = DEFAULT_MODELS,
               rtol: float | None = None, batch_size: int = 256,
               weighting_params: dict[str, float] | None = None,
               low_precision: tuple[torch.dtype, ...] = (torch.bfloat16, torch.float16),
               name: str | None = None, expected_scale: float | None = None) -> LossReport:
    """Check that ``loss`` is a score-matching loss: λ(t)·SM(θ) + const, with λ(t) > 0.

    ``loss(model, x0, t, noise)`` returns per-sample losses [B] (or a scalar, then evaluated per
    sample); ``to_score(model, x_t, t)`` the model's score estimate. ``schedule`` is a
    :class:`numeric.Schedule`, an object with ``alpha(t)``/``sigma(t)``, or ``add_noise(x0,
    noise, t)`` (probed). t is passed in the schedule's units, one per sample, mixed within the
    batch. With ``statistical=True`` (or ``"data"``) the loss is ``loss(model, x0)`` sampling its
    own randomness and is compared with SM on the data by a paired test (implicit and sliced SM,
    :mod:`numeric.guard._statistical`); with ``statistical="time"`` it is ``loss(model, x0)``
    drawing t and the noise itself, and the exact score must minimise it, tested along several
    directions with common random numbers (:mod:`numeric.guard._time_sampling`).
    ``n_samples`` x_t per time default to 16 in the exact mode (exactness needs no more) and
    256 per replicate in the statistical ones.
    The loss is called on chunks of ``batch_size`` samples. An ``add_noise`` schedule is also
    probed in each ``low_precision`` dtype at small t; what it finds (e.g. no noise at t = 0 in
    bfloat16) goes to ``LossReport.warnings`` and does not change ``ok``. ``expected_scale=c``
    asserts the scale of ``expected_weighting`` too: λ(t) = c·expected(t). When the values fit,
    the gradient ∇_θ loss = λ(t)·∇_θ SM is checked per time (:mod:`numeric.guard._gradients`) and
    the loss on a mixed batch against its per-sample values (:mod:`numeric.guard._batch`); when no
    scalar λ(t) fits, a diagonal metric Λ(t) ≻ 0 is tried (:func:`._weightings.fit_metric`).
    Posterior-coupled evaluation, docs/design.md §3; Vincent (2011), eq. 11.
    """
    call = dict(locals())  # as given: a rerun without unresolvable times starts from here
    _callable("loss", loss, "loss(model, x0, t, noise) -> Tensor[B]")
    _callable("to_score", to_score, "to_score(model, x_t, t) -> score shaped like x_t")
    if statistical is False and (why := exact_mode_signature(loss)) is not None:
        raise invalid("loss", why, f"if it is a training step, {time_mode_hint(written=True)}"
                      "; a loss on the data itself (implicit or sliced SM) is checked with "
                      "statistical=True")
    dtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    seed = check_seed("seed", seed)
    rtol, weighting_params, low_precision = check_arguments(
        rtol=rtol, weighting_params=weighting_params, low_precision=low_precision,
        statistical=statistical)
    if n_samples is None:
        n_samples = EXACT_SAMPLES if statistical is False else STATISTICAL_SAMPLES
    n_samples = positive_int("n_samples", n_samples, minimum=2)
    shape = _image_shape(image_shape, dim)
    flat_dim = math.prod(shape)
    mix = _data(data, flat_dim, seed, dev)
    model_list = _models(models, n_models, flat_dim, seed, dtype, dev, image_shape,
                         contracting=bool(statistical))
    target = str(name or getattr(loss, "__qualname__", type(loss).__name__))
    # Every call gets fresh copies of its tensors; in-place changes become findings.
    loss, to_score = InPlaceWatch("loss", loss, LOSS_ARGS), InPlaceWatch("to_score", to_score,
                                                                       SCORE_ARGS)
    schedule = watch_schedule(schedule)
    if statistical not in (False, True, "data", "time"):
        raise invalid("statistical", f"got {statistical!r}", "pass False (exact coupled check), "
                      "True or 'data' (loss(model, x0) on the data, e.g. implicit or sliced SM), "
                      "or 'time' (loss(model, x0) that draws t and the noise itself)")
    if statistical == "time":
        kernel = resolve_schedule(schedule, times=None, sample_shape=shape, dtype=dtype,
                                  device=dev)
        return check_time_sampling(loss, to_score, mix, kernel, shape=shape, dtype=dtype,
                                   device=dev, seed=seed, n_samples=n_samples,
                                   n_models=positive_int("n_models", n_models), target=target)
    if statistical:
        return with_findings(check_statistical(
            loss, to_score, mix, model_list, shape=shape, dtype=dtype, device=dev, seed=seed,
            n_samples=n_samples, target=target, low_precision=low_precision), loss, to_score)
    expected_name, expected_fn = _weighting_request(expected_weighting)
    scale_asked = expected_scale_value(expected_scale, expected_weighting)
    user_times = None if times is None else _as_times(times)
    kernel = resolve_schedule(schedule, times=user_times, sample_shape=shape, dtype=dtype,
                              device=dev)
    t = _times_tensor(kernel, times, positive_int("n_times", n_times))
    alpha, sigma = _kernel_on(kernel, t)
    findings: list[str] = []
    warnings: list[str] = []
    if kernel.add_noise is not None:
        probe = AddNoiseProbe(kernel.add_noise, shape, dtype, dev)
        findings += probe.affine_findings(t, torch.Generator().manual_seed(seed + 1))
        warnings += low_precision_findings(kernel, t, tuple(low_precision))
    problem = _Problem(mix, t, alpha, sigma, n_samples, seed, shape, dtype, dev)
    thr_t = residual_thresholds(dtype, alpha, sigma, scale=data_scale(
        mix.weights, mix.means, mix.covs), rtol=rtol)  # per time: follows the conditioning
    thr = float(thr_t.max())
    ls: list[Tensor] = []
    ss: list[Tensor] = []
    est: list[Tensor] = []
    how = ""
    xt, t_xt = problem.score_inputs()
    bs = positive_int("batch_size", batch_size)
    check_models_run(to_score, model_list, xt, t_xt, user_models=models is not None)
    for model in model_list:
        avg, how = problem.loss_average(loss, model, batch_size=bs)
        ls.append(avg)
        est.append(problem.unmix_scores(_scores(to_score, model, xt, t_xt)))
        ss.append(problem.sm(est[-1]))
    lam, res = fit_models(ls, ss, loss_argument="loss",
                          fix="compute the loss from model(x_t, t) (and do not detach it)")
    floors = rounding_floors(torch.stack(ls), dtype)
    if bool((floors >= UNRESOLVED_FLOOR).any()):
        return _without_unresolved(call, t, floors, dtype)
    thr_t = torch.maximum(thr_t, floors)
    thr = float(thr_t.max())
    t_list = [float(v) for v in t.tolist()]
    residual = float(res.max())
    worst = t_list[int(res.argmax())]
    over = bool((res > thr_t).any())
    metric = fit_metric(ls, est, problem.score, shape) if over else None
    if metric is not None and bool((metric.residual <= thr_t).all()):
        over = False
        residual, lam = float(metric.residual.max()), (metric.per_dim().mean(1))
        worst = t_list[int(metric.residual.argmax())]
        if bool((metric.diag <= 0).any()):
            findings.append(f"the loss is a metric-weighted SM (s − h)ᵀΛ(t)(s − h) but Λ(t) is not "
                            f"positive definite: smallest diagonal entry "
                            f"{float(metric.diag.min()):.3g}")
    else:
        metric = None
    if over:
        i = int((res / thr_t).argmax())
        worst, residual = t_list[i], float(res[i])
        findings.append(f"at t={_ft(worst)} the loss is not affine in SM: residual "
                        f"{residual:.2g} (α={float(alpha[i]):.4g}, σ={float(sigma[i]):.4g})")
        findings += diagnose(lambda m, mixed: problem.loss_average(loss, m, mixed=mixed,
                                                                   batch_size=bs)[0],
                             model_list, problem.score, problem.xt, ls, est, t_list, alpha,
                             sigma, thr, flat_dim)
    if bool((lam <= 0).any()):
        i = int(lam.argmin())
        findings.append(f"λ(t) must be > 0, got λ = {float(lam[i]):.3g} at t={_ft(t_list[i])}: "
                        "the loss does not decrease as the model approaches the true score")
    findings += loss.findings() + to_score.findings()
    gradient_residual: float | None = None
    batch_text: str | None = None
    notes: list[str] = []
    if not findings:
        sub = coupled_subset(problem, GRADIENT_XT_PER_TIME, seed)
        found = check_batch(loss, model_list, sub, how, thr, seed)
        findings += found.findings
        batch_text = found.text
        grads = check_gradients(loss, to_score, model_list, sub, lam, t_list, thr=thr, seed=seed,
                                batch_size=bs, dim_weights=None if metric is None else
                                metric.per_dim())
        findings += grads.findings
        notes += grads.notes
        gradient_residual = grads.residual
    g2 = None
    if kernel.g2 is not None and not kernel.discrete:
        try:
            g2 = kernel.g2(t).detach().double().cpu()
        except Exception:  # a schedule without g² just skips that weighting
            g2 = None
    mrtol = MATCH_RTOL.get(dtype, 0.05)
    matched: Match | None = None
    rates = path_rates(kernel, t)
    if not findings and metric is None:
        matched = match_weighting(lam, alpha, sigma, g2=g2, rtol=mrtol, prefer=expected_name,
                                  params=weighting_params, rates=rates)
    expected_text = None
    if expected_name is not None:
        expected_text = _expected_text(expected_name, expected_fn)
        if not findings and metric is None:
            findings += _check_expected(lam, t, alpha, sigma, g2, expected_name, expected_fn,
                                        matched, mrtol, weighting_params, flat_dim, rates=rates,
                                        scale=scale_asked)
        elif metric is not None:
            findings.append(f"expected the scalar weighting {expected_text}, but the loss weights "
                            f"each {metric.per} differently (a metric Λ(t), see above)")
    return LossReport(
        ok=not findings, weighting=dict(zip(t_list, lam.tolist(), strict=True)),
        residual=residual, worst_t=worst, matched=None if matched is None else matched.name,
        scale=None if matched is None else matched.scale,
        matched_text=(matched.text(flat_dim) if matched is not None else
                      f"metric weighting diag Λ(t) per {metric.per} (no scalar λ(t) fits)"
                      if metric is not None else
                      describe_power_law(lam, alpha, sigma, rtol=mrtol) if not findings[:1]
                      or residual <= thr else None),
        expected=expected_text, findings=tuple(findings), warnings=tuple(warnings),
        threshold=thr, target=target, residuals=dict(zip(t_list, res.tolist(), strict=True)),
        mode=f"posterior-coupled, loss {how}", gradient_residual=gradient_residual,
        batch=batch_text, notes=tuple(notes),
        metric=None if metric is None else {
            tv: tuple(row.tolist()) for tv, row in zip(t_list, metric.diag, strict=True)})


def _without_unresolved(call: dict[str, Any], t: Tensor, floors: Tensor,
                        dtype: torch.dtype) -> LossReport:
    """check_loss again on the times that float64 (``dtype``) can resolve, with a warning
    naming the others; an error when none is left. Never a verdict where rounding decides."""
    unresolved = floors >= UNRESOLVED_FLOOR
    dropped = ", ".join(f"t={_ft(float(v))} (rounding floor {float(f):.1g})"
                        for v, f in zip(t[unresolved].tolist(), floors[unresolved].tolist(),
                                        strict=True))
    if bool(unresolved.all()):
        raise invalid("times", f"in {dtype} the loss's model-dependent part is below rounding at "
                      f"every checked time ({dropped}): its value is so much larger than that "
                      "part that no check can decide there",
                      "pass times where σ(t) is not extreme" + (
                          "" if dtype == torch.float64 else ", or check in float64"))
    report = check_loss(**{**call, "times": t[~unresolved]})
    note = (f"not checked: {dropped}: in {dtype} the loss's model-dependent part is below "
            "rounding there, so no verdict is possible at those times")
    return replace(report, warnings=(*report.warnings, note))


def assert_score_matching_loss(loss: Callable[..., Any], to_score: Callable[..., Any],
                               schedule: Any, **kwargs: Any) -> LossReport:
    """Raise AssertionError with :meth:`LossReport.summary` unless :func:`check_loss` passes."""
    __tracebackhide__ = True
    report = check_loss(loss, to_score, schedule, **kwargs)
    if not report.ok:
        raise AssertionError(report.summary())
    return report
