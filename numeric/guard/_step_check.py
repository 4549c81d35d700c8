"""The exact guard on an unmodified training step ``step(model, x0) -> loss`` (docs/design.md §3b).

The step draws t and the noise itself. The guard runs it under :class:`DrawMode`
(:mod:`numeric.guard._intercept`), which records every torch draw and, on replays, returns values
the guard chooses; the model is wrapped to read what the step feeds it.

1. **Record** (:mod:`._step_replay`). One run on a small batch names the draws: the time draw (a
   per-sample ``[B]`` or ``[B, 1, ...]`` draw, or ``randint``) and the noise draws (data-shaped
   Gaussians). Anything the guard cannot choose (NumPy, Python ``random``, ``bernoulli``, a draw
   of another shape) is refused with an error naming it; nothing is guessed.
2. **Probe the kernel** (:mod:`._step_kernel`). For fixed time draws, what the step feeds the
   model is affine in (x0, noise): x_in = A(t)⊙x0 + Σ_k β_k(t) z_k + c(t). Replays with basis
   inputs stop at the model call and read A, β_k and c per sample, as the step really computes
   them (float32 tables, reversed time, x0 mapped to [−1, 1], an input scaling).
3. **Coupled set for the measured kernel** (:mod:`._step_coupled`). With α = A (up to a fixed
   per-element map of x0) and σ = ‖β‖, x_t is drawn from the Gaussian mixture's p_t and each x_t
   gets the posterior-coupled x0 set (docs/design.md §3); the combined noise is split exactly
   over the K noise draws (conditional flow matching with σ > 0 draws two). The step is replayed
   with those noises and reproduces the coupled x_t exactly (checked).
4. **Fit.** Per x_t, the weighted loss of model j minus model 0 must be λ(t) times the SM
   difference, as in :func:`numeric.check_loss` (Vincent 2011, eq. 11, pointwise).
5. **Batch and gradients**, by check_loss's own mechanisms (:func:`._batch.check_per_sample`,
   :func:`._gradients.gradient_check`), the step replayed as the evaluation: a per-sample step
   must give each sample the same value when a mixed-t batch is permuted and shrunk (a scalar
   step must equal the mean or sum of its per-sample values, step 3); and with autograd on,
   ∇_θ L̄(x_t) = λ(t)·∇_θ S(x_t) per time, L̄ the step's coupled average on 4 x_t per time.
   The gradient threshold is check_loss's, in the precision the step computes in
   (numeric/_tolerances.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from .._errors import invalid
from .._tolerances import RESIDUAL_RTOL, data_scale, residual_thresholds
from .._validate import check_rtol, check_seed, positive_int, resolve_device, resolve_dtype
from ._batch import BATCH_ROWS, check_per_sample
from ._expected import _check_expected, _expected_text, _ft
from ._gradients import GRADIENT_XT_PER_TIME, gradient_check
from ._inputs import (
    DEFAULT_MODELS,
    DEFAULT_TIMES,
    _callable,
    _data,
    _image_shape,
    _models,
    _weighting_request,
)
from ._problem import _scores, fit_models
from ._report import LossReport
from ._step_coupled import (
    _Coupled,
    _evaluate,
    _evaluate_per_xt,
    _NoVmap,
    batch_values,
    gradient_inputs,
)
from ._step_kernel import _Kernel, _probe_kernel, _schedule_check
from ._step_replay import (
    _STEP_SIG,
    _TIME_MODE,
    RECORD_BATCH,
    _classify,
    _output_kind,
    _record,
    _Runner,
    _Tap,
)
from ._weightings import Match, describe_power_law, match_weighting

__all__ = ["DEFAULT_STEP_SAMPLES", "check_training_step"]

Tensor = torch.Tensor

#: x_t per time: exactness needs only a few (docs/design.md §3b); bench/guard.py measures them.
DEFAULT_STEP_SAMPLES = 8

#: Relative residual above which the step fails: check_loss's (numeric/_tolerances.py).
STEP_RTOL: dict[torch.dtype, float] = RESIDUAL_RTOL

#: Shape agreement needed to name a weighting.
MATCH_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-6, torch.float32: 1e-2}


def check_training_step(step: Callable[..., Any], to_score: Callable[..., Any], *,
                        schedule: Any = None, models: Iterable[Any] | None = None,
                        data: Any = None, image_shape: tuple[int, ...] | None = None,
                        dim: int = 3, n_samples: int = DEFAULT_STEP_SAMPLES,
                        n_times: int = DEFAULT_TIMES, n_models: int = DEFAULT_MODELS,
                        expected_weighting: Any = None, rtol: float | None = None,
                        seed: int = 0, dtype: torch.dtype = torch.float64, device: Any = "cpu",
                        name: str | None = None, batch_size: int = 1024) -> LossReport:
    """Check an unmodified training step exactly: is ``step(model, x0)`` λ(t)·SM + c(t)?

    ``step(model, x0) -> loss`` draws t and the noise itself through torch's RNG (``rand``,
    ``rand_like``, ``randn``, ``randn_like``, ``randint``, ``normal``, ``Tensor.normal_``,
    ``Tensor.uniform_``, with or without a ``generator``; an EDM log-normal σ built from ``randn``
    too) and returns a scalar (batch mean or sum) or one loss per sample. The guard intercepts
    those draws and chooses their values (module :mod:`numeric.guard._step_check`): n_times
    distinct times mixed in each batch, and noise for which what the step feeds the model is the
    posterior-coupled x_t of the kernel the step *measurably* applies (α, σ and any affine map of
    x0 are probed per sample, so float32 tables, reversed time and [0, 1] → [−1, 1] data are
    exact). Two or more noise draws (conditional flow matching with σ > 0) are split exactly.

    ``to_score(model, x_t, t)`` receives exactly the (x_t, t) the step passed to the model (so it
    can use the library's own tables) and returns the score of x_t. The guard's models reach a
    library object through the ``model`` argument: write the step to put it in place, e.g.
    ``def step(model, x0): diffusion.model = model; return diffusion(x0)`` (see
    :func:`swap_attribute`). ``models`` defaults to ``n_models`` random networks that accept
    ``model(x, t)`` in either order. ``schedule`` (optional: a :class:`numeric.Schedule`, an
    object with ``alpha(t)``/``sigma(t)`` or ``add_noise(x0, noise, t)``) is a cross-check: the
    report says in words how the measured kernel relates to it (time reversed, x0 rescaled, input
    scaled) and fails only where they disagree. ``LossReport.draws`` says which draw is t and
    which the noise. As in :func:`numeric.check_loss`, when the values fit the gradient of the
    replayed step must be λ(t)·∇_θ SM per time (``LossReport.gradient_residual``; a detached or
    half-detached prediction fails) and a per-sample step must be unchanged by permuting or
    shrinking the batch (``LossReport.batch``). Draws from NumPy or Python's ``random`` (a
    module function, a ``random.Random``, ``numpy.random.Generator`` or ``RandomState``) raise
    :class:`SmeqError` naming the call, e.g. ``numpy.random.Generator.normal()``; so do a step
    that draws nothing, draws differently on replay or is not deterministic given its draws.
    """
    _callable("step", step, _STEP_SIG)
    _callable("to_score", to_score, "to_score(model, x_t, t) -> score shaped like x_t")
    dtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    seed = check_seed("seed", seed)
    rtol = check_rtol("rtol", rtol)
    n_samples = positive_int("n_samples", n_samples, minimum=2)
    n_times = positive_int("n_times", n_times)
    bs = positive_int("batch_size", batch_size)
    shape = _image_shape(image_shape, dim)
    flat = math.prod(shape)
    mix = _data(data, flat, seed, dev)
    adapt = models is None
    model_list = _models(models, n_models, flat, seed, dtype, dev, image_shape)
    expected_name, expected_fn = _weighting_request(expected_weighting)
    target = str(name or getattr(step, "__qualname__", type(step).__name__))
    runner = _Runner(step, shape, dtype, dev)
    taps = [_Tap(m, adapt, shape) for m in model_list]
    g = torch.Generator().manual_seed(seed)

    # 1. record
    x_rec = runner.x0(mix.sample(RECORD_BATCH, generator=g))
    draws, out = _record(runner, taps[0], x_rec, seed)
    runner.expected = draws
    scalar = _output_kind(out, RECORD_BATCH)
    t_cands, noises = _classify(draws, RECORD_BATCH, shape)
    if not noises:
        raise invalid("step", "draws no Gaussian noise shaped like x0 (draws: "
                      + "; ".join(d.describe(RECORD_BATCH, x_rec.shape) for d in draws) + ")",
                      f"draw the noise with torch.randn_like(x0), or {_TIME_MODE}")
    kernel = _probe_kernel(runner, taps[0], t_cands, noises, n_times, shape, dtype, dev, seed)
    notes = list(kernel.notes)
    findings: list[str] = []
    if kernel.not_affine is not None:
        findings.append(kernel.not_affine)
        return _failed(target, findings, kernel, notes, STEP_RTOL.get(dtype, 0.05))

    # 3. the coupled set for the measured kernel
    coupled = _Coupled(mix, kernel, n_samples, g, runner)
    thr = rtol if rtol is not None else STEP_RTOL.get(dtype, 0.05)
    if kernel.low_precision:
        thr = rtol if rtol is not None else STEP_RTOL[torch.float32]
    try:
        ls, ss, how = _evaluate_models(runner, taps, coupled, to_score, scalar, bs)
    except _NoVmap:  # a scalar step vmap cannot run: equal weights, one call per x_t
        coupled = _Coupled(mix, kernel, n_samples, g, runner, equal=True)
        ls, ss, how = _evaluate_models(runner, taps, coupled, to_score, scalar, bs)
    lam, res = fit_models(ls, ss, loss_argument="step",
                          fix="compute the loss from the model's output (and do not detach it)")
    alpha, sigma = kernel.alpha, kernel.sigma
    t_list = kernel.t_values
    residual = float(res.max())
    worst = t_list[int(res.argmax())]
    if residual > thr:
        i = int(res.argmax())
        findings.append(f"at t={_ft(worst)} the loss is not affine in SM: residual "
                        f"{residual:.2g} (measured α={float(alpha[i]):.4g}, "
                        f"σ={float(sigma[i]):.4g})")
    findings += coupled.findings
    if residual > thr and kernel.nuisance:
        findings.append("per-sample draws that do not change what the model receives were held "
                        "fixed (" + ", ".join(f"draw {c.index}" for c in kernel.nuisance) + "): "
                        "if they reweight or drop samples at random, the loss is correct only "
                        f"in expectation; {_TIME_MODE}")
    if bool((lam <= 0).any()):
        i = int(lam.argmin())
        findings.append(f"λ(t) must be > 0, got λ = {float(lam[i]):.3g} at t={_ft(t_list[i])}: "
                        "the loss does not decrease as the model approaches the true score")
    gradient_residual: float | None = None
    batch_text = (f"scalar step loss = {coupled.reduction} of its per-sample values on a "
                  "mixed-t batch" if scalar and coupled.reduction else None)
    if not findings:
        found, batch_text, gradient_residual = _batch_and_gradients(
            runner, taps, coupled, to_score, scalar, bs, lam, t_list, thr=max(
                thr, _precision_threshold(rtol, dtype, kernel, mix)), seed=seed,
            batch_text=batch_text, notes=notes)
        findings += found
    g2 = None
    if schedule is not None:
        more_notes, more_findings, g2 = _schedule_check(schedule, kernel, shape, dtype, dev)
        notes += more_notes
        findings += more_findings
    mrtol = MATCH_RTOL.get(dtype, 0.05)
    matched: Match | None = None
    if not findings:
        matched = match_weighting(lam, alpha, sigma, g2=g2, rtol=mrtol, prefer=expected_name)
    expected_text = None
    if expected_name is not None:
        expected_text = _expected_text(expected_name, expected_fn)
        if not findings:
            t_tensor = torch.tensor(t_list, dtype=torch.float64)
            findings += _check_expected(lam, t_tensor, alpha, sigma, g2, expected_name,
                                        expected_fn, matched, mrtol, None, flat)
    return LossReport(
        ok=not findings, weighting=dict(zip(t_list, lam.tolist(), strict=True)),
        residual=residual, worst_t=worst, matched=None if matched is None else matched.name,
        scale=None if matched is None else matched.scale,
        matched_text=(matched.text(flat) if matched is not None else
                      describe_power_law(lam, alpha, sigma, rtol=mrtol)
                      if not findings[:1] or residual <= thr else None),
        expected=expected_text, findings=tuple(findings), notes=tuple(notes),
        threshold=thr, target=target, residuals=dict(zip(t_list, res.tolist(), strict=True)),
        mode=f"posterior-coupled, intercepted step ({'; '.join(kernel.draw_text)}), loss {how}",
        batch=batch_text, gradient_residual=gradient_residual, draws=tuple(kernel.draw_text))


def _precision_threshold(rtol: float | None, dtype: torch.dtype, kernel: _Kernel,
                         mix: Any) -> float:
    """The batch and gradient checks' threshold: check_loss's, per time from the tolerance
    table (numeric/_tolerances.py) in the precision the step really computes in (float32 when
    it draws or feeds the model float32), raised where a time is ill-conditioned."""
    low = kernel.low_precision or kernel.x_dtype != torch.float64
    eff = torch.float32 if low and dtype == torch.float64 else dtype
    return float(residual_thresholds(eff, kernel.alpha, kernel.sigma, scale=data_scale(
        mix.weights, mix.means, mix.covs), rtol=rtol).max())


def _batch_and_gradients(runner: _Runner, taps: list[_Tap], coupled: _Coupled,
                         to_score: Callable[..., Any], scalar: bool, batch: int, lam: Tensor,
                         t_list: list[float], *, thr: float, seed: int,
                         batch_text: str | None, notes: list[str]
                         ) -> tuple[list[str], str | None, float | None]:
    """check_loss's batch and gradient checks (:mod:`._batch`, :mod:`._gradients`) on the
    replayed step: a per-sample step must give each sample the same value under a permutation
    of a mixed-t batch and in a smaller batch; ∇_θ L̄ = λ(t)·∇_θ S per time, with L̄ the step
    replayed on the coupled rows with autograd on. Returns (findings, batch text, residual)."""
    findings: list[str] = []
    if not scalar:
        values, b = batch_values(coupled, runner, BATCH_ROWS)
        if b >= 3 and len(taps) >= 2:
            found = check_per_sample(values, taps, b, thr, seed)
            findings += found.findings
            batch_text = found.text
    if findings:
        return findings, batch_text, None
    # one step call per x_t where vmap cannot run the step: half as many x_t (exactness needs
    # few, docs/design.md §3b)
    k = GRADIENT_XT_PER_TIME // 2 if coupled.equal else GRADIENT_XT_PER_TIME
    lbar, scores, exact, xt_time = gradient_inputs(coupled, k, runner, scalar, batch, to_score)
    grads = gradient_check(lbar, scores, list(taps), exact, xt_time, lam, t_list,
                           thr=thr, seed=seed, what="the step")
    notes += grads.notes
    return list(grads.findings), batch_text, grads.residual


def _evaluate_models(runner: _Runner, taps: list[_Tap], coupled: _Coupled,
                     to_score: Callable[..., Any], scalar: bool, batch: int
                     ) -> tuple[list[Tensor], list[Tensor], str]:
    """L̄_j(x_t) and S_j(x_t), [T, n] each, for every model."""
    ls, ss, how = [], [], ""
    xt_s, t_s = coupled.score_inputs()
    for j, tap in enumerate(taps):
        if coupled.equal:
            avg, how = _evaluate_per_xt(runner, tap, coupled, first=j == 0)
        else:
            vals, how = _evaluate(runner, tap, coupled, scalar, batch, first=j == 0)
            avg = coupled.average(vals)
        ls.append(avg)
        ss.append(coupled.sm(_scores(to_score, tap, xt_s, t_s)))
    return ls, ss, how


def _failed(target: str, findings: list[str], k: _Kernel, notes: list[str],
            thr: float) -> LossReport:
    return LossReport(ok=False, weighting={}, residual=math.inf, worst_t=None, matched=None,
                      findings=tuple(findings), notes=tuple(notes), threshold=thr,
                      target=target, mode="posterior-coupled, intercepted step",
                      draws=tuple(getattr(k, "draw_text", ())))


def swap_attribute(obj: Any, name: str, model: Any) -> Any:
    """Context manager: ``obj.<name> = model`` inside the block, the old value restored after.

    For a step over a library object that owns its network::

        def step(model, x0):
            with swap_attribute(diffusion, "model", model):
                return diffusion(x0)
    """
    from contextlib import contextmanager

    @contextmanager
    def swap() -> Any:
        old = getattr(obj, name)
        setattr(obj, name, model)
        try:
            yield obj
        finally:
            setattr(obj, name, old)

    return swap()
