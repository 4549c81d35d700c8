"""The exact guard on an unmodified training step ``step(model, x0) -> loss`` (DESIGN.md §3b).

The step draws t and the noise itself. The guard runs it under :class:`DrawMode`
(:mod:`numeric.guard._intercept`), which records every torch draw and, on replays, returns values
the guard chooses; the model is wrapped (:class:`_Tap`) to read what the step feeds it.

1. **Record.** One run on a small batch names the draws: the time draw (a per-sample ``[B]`` or
   ``[B, 1, ...]`` draw, or ``randint``) and the noise draws (data-shaped Gaussians). Anything the
   guard cannot choose (NumPy, Python ``random``, ``bernoulli``, a draw of another shape) is
   refused with an error naming it; nothing is guessed.
2. **Probe the kernel.** For fixed time draws, what the step feeds the model is affine in
   (x0, noise): x_in = A(t)⊙x0 + Σ_k β_k(t) z_k + c(t). Replays with basis inputs (x0 = 0, 1; one
   noise at a time = 1) stop at the model call and read A, β_k and c per sample, as the step
   really computes them (float32 tables, reversed time, x0 mapped to [−1, 1], an input scaling).
   A random replay checks the map is affine.
3. **Coupled set for the measured kernel.** With α = A (up to a fixed per-element map of x0) and
   σ = ‖β‖, x_t is drawn from the Gaussian mixture's p_t and each x_t gets the posterior-coupled
   x0 set (DESIGN.md §3). The combined noise ε = (x_t − α x0)/σ is split over the K noise draws as
   z = β ε/‖β‖ ± (I − ββᵀ/‖β‖²) w (an antithetic pair, so the posterior mean of anything affine in
   (x0, z_1..z_K) is exact: conditional flow matching with σ > 0 draws two noises). The step is
   replayed with those noises and reproduces the coupled x_t exactly (checked).
4. **Fit.** Per x_t, the weighted loss of model j minus model 0 must be λ(t) times the SM
   difference, as in :func:`numeric.check_loss` (Vincent 2011, eq. 11, pointwise).

A scalar step loss is evaluated per sample with ``torch.func.vmap`` over batches of one (the draws
are chosen per sample), falling back to a loop; its batch value must equal the mean or the sum of
those per-sample values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from .._errors import InvalidArgument, SmeqError, invalid
from .._mixture import GaussianMixture
from .._validate import positive_int, resolve_device, resolve_dtype
from ._expected import _check_expected, _expected_text, _ft
from ._inputs import (
    DEFAULT_MODELS,
    DEFAULT_TIMES,
    _callable,
    _data,
    _image_shape,
    _models,
    _weighting_request,
)
from ._intercept import Draw, DrawMode, HostRngWatch, Stop, fresh_values
from ._problem import _fit, _scores
from ._report import LossReport
from ._weightings import Match, describe_power_law, match_weighting

__all__ = ["DEFAULT_STEP_SAMPLES", "check_training_step"]

Tensor = torch.Tensor

#: x_t per time: exactness needs only a few (DESIGN.md §3b); bench/guard.py measures the verdicts.
DEFAULT_STEP_SAMPLES = 8
#: Relative residual above which the step fails (as check_loss's RESIDUAL_RTOL).
STEP_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-7, torch.float32: 1e-3}
#: Shape agreement needed to name a weighting.
MATCH_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-6, torch.float32: 1e-2}
#: How far what the step feeds the model may be from the coupled x_t (relative), per dtype.
REPRODUCE_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-10, torch.float32: 1e-4}
#: A probed per-element map must be this uniform to count as one scalar per sample.
UNIFORM_RTOL = 1e-9
#: A schedule agrees with the measured kernel to this relative accuracy (float32 tables: 1e-7).
SCHEDULE_RTOL = 1e-4
RECORD_BATCH = 5
_T_NAMES = ("t", "time", "times", "timestep", "timesteps", "sigma", "sigmas", "noise_level",
            "c_noise", "noise_labels")
_STEP_SIG = "step(model, x0) -> loss (a scalar or one value per sample)"
_TIME_MODE = ("pass the loss to check_loss(..., statistical='time'), which needs no control of "
              "the draws, or give t and the noise as arguments: check_loss(loss(model, x0, t, "
              "noise), ...)")


class _Tap(torch.nn.Module):
    """The model as the step sees it: records what it is called with, can stop the step at the
    call, and (for the guard's own models) accepts any argument order, e.g. ``model(t, x)``."""

    def __init__(self, inner: Any, adapt: bool, sample_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.inner = inner
        self.adapt, self.sample_shape = adapt, sample_shape
        self.d = math.prod(sample_shape)
        self.calls: list[tuple[Tensor, Any]] = []
        self.record = False
        self.stop = False

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = super().__getattr__("inner")
            return getattr(inner, name)

    def split(self, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[Tensor | None, Any]:
        """(x, t) among a model call's arguments: x is shaped like x0 per sample, t the other."""
        items = [*args, *kwargs.values()]
        tensors = [v for v in items if isinstance(v, Tensor)]
        x = next((v for v in tensors if v.dim() >= 2 and math.prod(v.shape[1:]) == self.d),
                 None)
        if x is None:
            x = next((v for v in tensors if v.dim() >= 1 and v.numel() == v.shape[0] * self.d),
                     None)
        rest = [v for v in args if v is not x and isinstance(v, (Tensor, int, float))]
        if rest:
            return x, rest[0]
        for key in _T_NAMES:
            if key in kwargs and kwargs[key] is not x:
                return x, kwargs[key]
        others = [v for v in kwargs.values() if isinstance(v, Tensor) and v is not x]
        return x, (others[0] if others else None)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        x, t = self.split(args, kwargs)
        if self.record:
            if x is None:
                raise invalid("step", "called the model without a tensor shaped like x0 "
                              f"(per sample {list(self.sample_shape)})", "pass x_t to the model "
                              "with the shape of x0 (the guard reads x_t there)")
            self.calls.append((x.detach().clone(),
                               t.detach().clone() if isinstance(t, Tensor) else t))
        if self.stop:
            raise Stop
        if not self.adapt:
            return self.inner(*args, **kwargs)
        if x is None:
            raise invalid("step", "called the model without a tensor shaped like x0",
                          "pass x_t to the model with the shape of x0")
        b = x.shape[0]
        dt = _model_dtype(self.inner, x.dtype)
        if t is None:
            tt = torch.zeros(b, dtype=dt, device=x.device)
        else:
            tt = torch.as_tensor(t, device=x.device)
            tt = tt.reshape(b) if tt.numel() == b else tt.reshape(()).expand(b)
            tt = tt.to(dt)
        return self.inner(x.to(dt), tt).to(x.dtype)


def _model_dtype(model: Any, default: torch.dtype) -> torch.dtype:
    for p in getattr(model, "parameters", lambda: iter(()))():
        return p.dtype
    return default


class _Plan:
    """The draw values of one replay: checks each draw against the recorded ones and returns the
    chosen standard values (``values[i]`` for draw i, first axis the batch)."""

    def __init__(self, expected: Sequence[Draw], batch: int, values: dict[int, Tensor],
                 record_batch: int) -> None:
        self.expected, self.batch, self.values = expected, batch, values
        self.record_batch = record_batch

    def __call__(self, draw: Draw) -> Tensor:
        i = draw.index
        if i > len(self.expected):
            raise _Mismatch(f"an extra draw {draw.describe(self.batch)} (draw {i}); the first "
                            f"run made {len(self.expected)}")
        want = self.expected[i - 1]
        if want.signature(self.record_batch) != draw.signature(self.batch):
            raise _Mismatch(f"{draw.describe(self.batch)} as draw {i}, where the first run drew "
                            f"{want.describe(self.record_batch)}")
        return self.values[i].reshape(draw.shape)


class _Mismatch(BaseException):
    pass


def _times_for(draw: Draw, n: int) -> Tensor:
    """n distinct standard values of the time draw, spread over its law's interior."""
    q = torch.arange(1, n + 1, dtype=torch.float64) / (n + 1)
    if draw.law == "uniform":
        return q
    if draw.law == "normal":
        return torch.special.ndtri(q)
    assert draw.bounds is not None
    low, high = draw.bounds
    if high - low <= n + 1:
        return torch.arange(low, high, dtype=torch.int64)
    idx = torch.linspace(float(low), float(high - 1), n + 2, dtype=torch.float64)[1:-1]
    return torch.unique(torch.round(idx).to(torch.int64))


class _Runner:
    """Runs the step under the draw mode on chosen inputs (see module doc)."""

    def __init__(self, step: Callable[..., Any], shape: tuple[int, ...], dtype: torch.dtype,
                 device: torch.device) -> None:
        self.step, self.shape, self.dtype, self.device = step, shape, dtype, device
        self.expected: list[Draw] = []

    def x0(self, flat: Tensor) -> Tensor:
        return flat.reshape(flat.shape[0], *self.shape).to(dtype=self.dtype, device=self.device)

    def call(self, tap: _Tap, x0: Tensor, values: dict[int, Tensor]) -> Any:
        plan = _Plan(self.expected, x0.shape[0], values, RECORD_BATCH)
        try:
            with DrawMode(plan):
                return _call_step(self.step, tap, x0)
        except _Mismatch as exc:
            raise invalid("step", f"drew differently on a replay: {exc}", "make the step draw "
                          "the same values in the same order on every call (no draws that depend "
                          f"on a counter or on earlier values), or {_TIME_MODE}") from None

    def probe(self, tap: _Tap, x0: Tensor, values: dict[int, Tensor]) -> tuple[Tensor, Any]:
        """What the step feeds the model on this replay (stopped at the model call)."""
        tap.calls, tap.record, tap.stop = [], True, True
        try:
            self.call(tap, x0, values)
        except Stop:
            pass
        finally:
            tap.record, tap.stop = False, False
        if not tap.calls:
            raise invalid("step", "did not call the model on a replay",
                          "call model(x_t, t) once in every step")
        return tap.calls[0]


def _call_step(step: Callable[..., Any], model: Any, x0: Tensor) -> Any:
    try:
        try:
            with torch.no_grad():
                return step(model, x0)
        except RuntimeError as exc:
            if "grad" not in str(exc):
                raise
            return step(model, x0)
    except (SmeqError, Stop, _Mismatch):
        raise
    except Exception as exc:
        raise invalid("step", f"raised {type(exc).__name__}: {exc} (called as step(model, x0) "
                      f"with x0 {list(x0.shape)} {x0.dtype})", f"make {_STEP_SIG} run on a batch "
                      "of the guard's data; a library object reaches the guard's models through "
                      "the model argument (set it inside the step)") from exc


def _record(runner: _Runner, tap: _Tap, x0: Tensor, seed: int) -> tuple[list[Draw], Any]:
    """The first run: our own values for every draw; refuse what cannot be replayed."""
    g = torch.Generator().manual_seed(seed + 7)
    mode = DrawMode(lambda d: fresh_values(d, g))
    torch_state = torch.random.get_rng_state()
    tap.calls, tap.record = [], True
    try:
        with HostRngWatch() as host, mode:
            out = _call_step(runner.step, tap, x0)
    finally:
        tap.record = False
        changed = not torch.equal(torch_state, torch.random.get_rng_state())
        torch.random.set_rng_state(torch_state)
    if host.changed:
        raise invalid("step", f"draws from {host.description()}, which the guard cannot "
                      "intercept or choose (and if those draws pair samples across the batch, "
                      "as optimal-transport matchers do with numpy.random.choice, a sample's x_t "
                      "depends on other samples: no per-sample kernel)", "draw t and the noise "
                      f"with torch (torch.rand, torch.randn_like, ...), or {_TIME_MODE}")
    if mode.foreign or changed:
        what = ", ".join(dict.fromkeys(mode.foreign)) or "a torch sampler the guard does not " \
            "replay (torch's global generator advanced)"
        raise invalid("step", f"draws with {what}; the guard chooses only rand, rand_like, randn,"
                      " randn_like, randint, normal, normal_ and uniform_ draws", "draw t with "
                      "torch.rand/randint/randn and the noise with randn_like (put a model with "
                      f"dropout in eval mode), or {_TIME_MODE}")
    if not mode.draws:
        raise invalid("step", "drew no random numbers through torch, so there is nothing to "
                      "replay", "for a loss that takes t and the noise as arguments use "
                      "check_loss(loss(model, x0, t, noise), ...)")
    if not tap.calls:
        raise invalid("step", "never called the model", "call model(x_t, t) in the step (a "
                      "library object reaches the guard's model through the model argument)")
    return mode.draws, out


def _classify(draws: list[Draw], batch: int, shape: tuple[int, ...]
              ) -> tuple[list[Draw], list[Draw]]:
    """(time candidates, noise draws); anything else is refused."""
    times, noises = [], []
    d = math.prod(shape)
    for draw in draws:
        per_sample = len(draw.shape) >= 1 and draw.shape[0] == batch
        numel = math.prod(draw.shape)
        data_like = numel == batch * d and (d > 1 or (draw.shape == (batch, *shape)
                                                      and draw.law == "normal"))
        if per_sample and numel == batch and not data_like:
            times.append(draw)
        elif per_sample and data_like:
            if draw.law != "normal":
                raise invalid("step", f"draw {draw.index}, {draw.describe(batch, (batch, *shape))}"
                              f", is shaped like the data but {draw.law}, not Gaussian noise",
                              "the guard replays Gaussian noise (randn, randn_like, normal) and "
                              f"one per-sample time draw; otherwise {_TIME_MODE}")
            noises.append(draw)
        else:
            raise invalid("step", f"draw {draw.index}, {draw.describe(batch, (batch, *shape))}, "
                          f"is neither one value per sample ([B] with B={batch}) nor shaped like "
                          f"x0 ({[batch, *shape]})", f"the guard cannot choose its value; "
                          f"{_TIME_MODE}")
    return times, noises


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
    which the noise. Draws from NumPy or Python's ``random``, a step that draws nothing, draws
    differently on replay or is not deterministic given its draws raise :class:`SmeqError`.
    """
    _callable("step", step, _STEP_SIG)
    _callable("to_score", to_score, "to_score(model, x_t, t) -> score shaped like x_t")
    dtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    seed = positive_int("seed", seed, minimum=0)
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
    ls, ss, how = [], [], ""
    xt_s, t_s = coupled.score_inputs()
    for j, tap in enumerate(taps):
        vals, how = _evaluate(runner, tap, coupled, scalar, bs, first=j == 0)
        ls.append(coupled.average(vals))
        est = _scores(to_score, tap, xt_s, t_s)
        ss.append(coupled.sm(est))
    dl = torch.stack([v - ls[0] for v in ls[1:]])
    ds = torch.stack([v - ss[0] for v in ss[1:]])
    if not bool((ds != 0).any()):
        raise invalid("models", "all give the same score estimate",
                      "pass models with different parameters (or leave models=None)")
    if not bool((dl != 0).any()):
        raise invalid("step", "does not depend on the model: every model gives the same loss",
                      "compute the loss from the model's output (and do not detach it)")
    lam, res = _fit(dl, ds)
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
    if schedule is not None:
        more_notes, more_findings = _schedule_check(schedule, kernel, shape, dtype, dev)
        notes += more_notes
        findings += more_findings
    mrtol = MATCH_RTOL.get(dtype, 0.05)
    matched: Match | None = None
    if not findings:
        matched = match_weighting(lam, alpha, sigma, g2=None, rtol=mrtol, prefer=expected_name)
    expected_text = None
    if expected_name is not None:
        expected_text = _expected_text(expected_name, expected_fn)
        if not findings:
            t_tensor = torch.tensor(t_list, dtype=torch.float64)
            findings += _check_expected(lam, t_tensor, alpha, sigma, None, expected_name,
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
        draws=tuple(kernel.draw_text))


def _output_kind(out: Any, batch: int) -> bool:
    if not isinstance(out, Tensor):
        raise invalid("step", f"returned {type(out).__name__}", "return the loss as a tensor")
    if out.dim() == 0:
        return True
    if out.shape == (batch,):
        return False
    raise invalid("step", f"returned shape {list(out.shape)} for a batch of {batch}",
                  "return the loss as a scalar or one value per sample [B]")


class _Kernel:
    """What the probe measured, one entry per chosen time."""

    alpha: Tensor          # [T] α (the scale of x0's reference element)
    sigma: Tensor          # [T] ‖β‖
    beta: Tensor           # [T, K]
    scale: Tensor          # [D] per-element map of x0 (1 at the reference element)
    offset: Tensor         # [T, D]
    t_std: Tensor          # [T] standard values of the time draw
    t_in: Any              # what the model received as t, one row per time (or None)
    t_values: list[float]  # per time, for the report
    time_draw: Draw | None
    noises: list[Draw]
    nuisance: list[Draw]
    x_shape: tuple[int, ...]   # x_in per sample, as the model receives it
    x_dtype: torch.dtype
    draw_text: list[str]
    notes: list[str]
    not_affine: str | None
    low_precision: bool


def _probe_kernel(runner: _Runner, tap: _Tap, t_cands: list[Draw], noises: list[Draw],
                  n_times: int, shape: tuple[int, ...], dtype: torch.dtype,
                  device: torch.device, seed: int) -> _Kernel:
    k = _Kernel()
    d = math.prod(shape)
    k.noises, k.notes, k.not_affine = noises, [], None
    gen = torch.Generator().manual_seed(seed + 11)
    base_t = t_cands[0] if t_cands else None
    t_std = _times_for(base_t, n_times) if base_t is not None else torch.zeros(1)
    n_t = t_std.numel()
    zeros = torch.zeros(n_t, d, dtype=torch.float64)
    ones = torch.ones_like(zeros)
    # nuisance per-sample draws are held at fixed values; the time draw is found by perturbing
    fixed = {c.index: fresh_values(_with_batch(c, n_t), gen) for c in t_cands}

    def values(time_draw: Draw | None, noise: dict[int, Tensor],
               swap: Draw | None = None) -> dict[int, Tensor]:
        v = dict(fixed)
        if time_draw is not None:
            v[time_draw.index] = t_std
        if swap is not None:
            v[swap.index] = torch.flip(v[swap.index], [0])
        v.update(noise)
        return v

    def nz(fill: Tensor | None = None, which: int | None = None) -> dict[int, Tensor]:
        return {n.index: (fill if which in (None, n.index) and fill is not None else zeros)
                for n in noises}

    def run(x0: Tensor, vals: dict[int, Tensor]) -> tuple[Tensor, Any]:
        x, t = runner.probe(tap, runner.x0(x0), vals)
        return x.detach().to(torch.float64).cpu().reshape(n_t, -1), t

    time_draw = None
    if t_cands:
        if n_t < 2:
            time_draw = base_t
        else:
            active = []
            ref_x, ref_t = run(ones, values(None, nz(ones)))
            for c in t_cands:
                x, t = run(ones, values(None, nz(ones), swap=c))
                if not torch.equal(x, ref_x) or not _same(t, ref_t):
                    active.append(c)
            if len(active) > 1:
                raise invalid("step", "has more than one per-sample draw that changes what the "
                              "model receives: " + ", ".join(
                                  f"draw {c.index} {c.describe(RECORD_BATCH)}" for c in active),
                              f"the guard needs one time draw; {_TIME_MODE}")
            time_draw = active[0] if active else None
    if time_draw is not None and time_draw is not base_t:
        t_std = _times_for(time_draw, n_times)
        if t_std.numel() != n_t:
            raise invalid("step", "the time draw has too few values", _TIME_MODE)
    k.time_draw, k.t_std = time_draw, t_std
    k.nuisance = [c for c in t_cands if c is not time_draw]
    base = values(time_draw, nz())
    x_c, t_in = run(zeros, base)
    x_a, _ = run(ones, base)
    x_shape = tuple(tap.calls[0][0].shape[1:])
    k.x_shape, k.x_dtype = x_shape, tap.calls[0][0].dtype
    if x_c.shape[1] != d:
        raise invalid("step", f"feeds the model x_t with {x_c.shape[1]} values per sample, x0 "
                      f"has {d}", "pass x_t to the model shaped like x0")
    betas = []
    for n in noises:
        x_n, t_n = run(zeros, values(time_draw, nz(ones, n.index)))
        betas.append(x_n - x_c)
        if not _same(t_n, t_in):
            raise invalid("step", "passes the model a t that depends on the noise",
                          f"compute t from the time draw only, or {_TIME_MODE}")
    big_a = x_a - x_c
    # check that the step is affine in (x0, noise): one random replay
    r0 = torch.randn(n_t, d, generator=gen, dtype=torch.float64)
    rz = {n.index: torch.randn(n_t, d, generator=gen, dtype=torch.float64) for n in noises}
    x_r, t_r = run(r0, values(time_draw, rz))
    want = x_c + big_a * r0 + sum(b * rz[n.index] for b, n in zip(betas, noises, strict=True))
    err = float((x_r - want).abs().max()) / max(float(want.abs().max()), 1e-300)
    k.low_precision = any(n.dtype != torch.float64 for n in noises) and dtype == torch.float64
    affine_tol = 1e-5 if k.low_precision or k.x_dtype != torch.float64 else 1e-9
    # a sample's x_t must depend on its own inputs only: move sample 0 and watch the others
    moved0 = r0.clone()
    moved0[0] += 1.0
    moved = {i: v.clone() for i, v in rz.items()}
    for v in moved.values():
        v[0] += 1.0
    x_m, _ = run(moved0, values(time_draw, moved))
    cross = float((x_m[1:] - x_r[1:]).abs().max()) if n_t > 1 else 0.0
    if cross > affine_tol * max(float(x_r.abs().max()), 1e-300):
        k.not_affine = ("the x_t the step feeds the model for one sample depends on the other "
                        "samples of the batch (changing sample 0's x0 and noise moved the "
                        f"others' x_t by {cross:.2g}; e.g. noise re-paired across the batch): "
                        "there is no per-sample kernel x_t = α x0 + σ ε to check exactly")
    elif err > affine_tol or not _same(t_r, t_in):
        k.not_affine = (f"what the step feeds the model is not affine in (x0, noise): it differs "
                        f"from A·x0 + Σβ·z + c by {err:.2g} relative (A, β, c probed with basis "
                        "inputs); x_t = α x0 + σ ε needs an affine noising")
    if k.low_precision:
        k.notes.append("the noise is drawn in " + ", ".join(sorted({str(n.dtype).replace(
            "torch.", "") for n in noises})) + " while the check runs in float64: the threshold "
            "is float32's")
    # per-sample scalars
    ref = int(big_a[0].abs().argmax())
    sign = 1.0 if float(big_a[0, ref]) >= 0 else -1.0
    alpha = sign * big_a[:, ref]
    if not bool((alpha > 0).all()) or not bool(torch.isfinite(alpha).all()):
        raise invalid("step", f"scales x0 by {alpha.tolist()} at the chosen times; the guard "
                      "needs α(t) > 0 on every one", _TIME_MODE)
    scale = big_a[0] / alpha[0]
    if bool((scale == 0).any()):
        raise invalid("step", "ignores part of x0 (zero coefficient)", "feed all of x0 to x_t")
    spread = (big_a - alpha[:, None] * scale[None]).abs().max() / alpha.abs().max()
    if float(spread) > UNIFORM_RTOL:
        raise invalid("step", "maps x0 to x_t with a per-element map that changes with t, not "
                      "α(t) times one fixed map", _TIME_MODE)
    beta = torch.stack([b[:, ref] for b in betas], -1)     # [T, K]
    for b, n in zip(betas, noises, strict=True):
        if float((b - b[:, ref:ref + 1]).abs().max()) > UNIFORM_RTOL * max(
                float(b.abs().max()), 1e-300):
            raise invalid("step", f"scales the noise of draw {n.index} per element, not by one "
                          "σ per sample", _TIME_MODE)
    sigma = beta.norm(dim=-1)
    if not bool((sigma > 0).all()):
        raise invalid("step", "adds no noise at some chosen time (σ = 0)", "make σ(t) > 0 for "
                      f"t inside the draw's range, or {_TIME_MODE}")
    k.alpha, k.sigma, k.beta, k.scale, k.offset, k.t_in = alpha, sigma, beta, scale, x_c, t_in
    k.t_values = _t_values(t_in, t_std, n_t)
    if bool((scale != 1).any()) or bool((x_c != 0).any()):
        k.notes.append("the step maps x0 affinely before noising (x_t = α(t)·(a⊙x0 + c) + σ(t)·ε "
                       "with a ≠ 1 or c ≠ 0, e.g. [0, 1] → [−1, 1]); the guard's data are chosen "
                       "so that the mapped x0 follows its mixture")
    text = []
    if time_draw is not None:
        text.append(f"t ← {time_draw.describe(RECORD_BATCH)} (draw {time_draw.index})")
    for i, n in enumerate(noises):
        lab = "noise" if len(noises) == 1 else f"noise {i + 1}"
        text.append(f"{lab} ← {n.describe(RECORD_BATCH, (RECORD_BATCH, *shape))} "
                    f"(draw {n.index})")
    for c in k.nuisance:
        text.append(f"held fixed: {c.describe(RECORD_BATCH)} (draw {c.index}, does not change "
                    "what the model receives)")
    k.draw_text = text
    return k


def _with_batch(draw: Draw, batch: int) -> Draw:
    from dataclasses import replace

    return replace(draw, shape=(batch, *draw.shape[1:]))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a.shape == b.shape and bool(torch.equal(a, b))
    return bool(a == b) if not isinstance(a, Tensor) and not isinstance(b, Tensor) else False


def _t_values(t_in: Any, t_std: Tensor, n_t: int) -> list[float]:
    """The time of each group as the model sees it (one number per group), else the draw's."""
    if isinstance(t_in, Tensor) and t_in.numel() == n_t and t_in.dtype != torch.bool:
        v = t_in.detach().to(torch.float64).cpu().reshape(-1)
        if torch.unique(v).numel() == n_t:
            return [float(x) for x in v.tolist()]
    return [float(x) for x in t_std.to(torch.float64).tolist()]


class _Coupled:
    """The posterior-coupled rows for the measured kernel, mixed over times (module doc, 3)."""

    def __init__(self, mix: GaussianMixture, k: _Kernel, n: int, g: torch.Generator,
                 runner: _Runner) -> None:
        self.k, self.runner = k, runner
        self.findings: list[str] = []
        n_noise = len(k.noises)
        xs, y0s, zs, ws, scores = [], [], [], [], []
        from .._coupling import coupled_batch

        for i in range(k.alpha.numel()):
            a, s = float(k.alpha[i]), float(k.sigma[i])
            cb = coupled_batch(mix, a, s, n, generator=g)
            eps = cb.eps                                      # [n, M, D]
            bhat = (k.beta[i] / k.sigma[i]).reshape(1, 1, n_noise, 1)
            z = bhat * eps[:, :, None, :]                     # [n, M, K, D]
            y0, w = cb.x0, cb.weights
            if n_noise > 1:
                proj = torch.eye(n_noise, dtype=torch.float64) - bhat.reshape(-1, 1) * \
                    bhat.reshape(1, -1)
                white = torch.randn(z.shape, generator=g, dtype=torch.float64)
                orth = torch.einsum("kl,nmld->nmkd", proj, white)
                z = torch.stack((z + orth, z - orth), 2).flatten(1, 2)
                y0 = y0.repeat_interleave(2, dim=1)
                w = w.repeat_interleave(2, dim=1) / 2
            xs.append(cb.xt)
            y0s.append(y0)
            zs.append(z)
            ws.append(w)
            scores.append(mix.score_t(cb.xt, a, s))
        self.xt = torch.stack(xs)            # [T, n, D]
        self.y0 = torch.stack(y0s)           # [T, n, M, D]
        self.z = torch.stack(zs)             # [T, n, M, K, D]
        self.weights = torch.stack(ws)       # [T, n, M]
        self.score = torch.stack(scores)     # [T, n, D]
        n_t, _, m, d = self.y0.shape
        self.n_t, self.n, self.m = n_t, n, m
        rows = n_t * n * m
        self.perm = torch.randperm(rows, generator=g)
        self.perm_xt = torch.randperm(n_t * n, generator=g)
        group = torch.arange(n_t).repeat_interleave(n * m)[self.perm]
        self.x0_rows = (self.y0.reshape(rows, d) / k.scale)[self.perm]
        self.want = (self.xt[:, :, None, :] + k.offset[:, None, None, :]).expand(
            n_t, n, m, d).reshape(rows, d)[self.perm]
        self.values: dict[int, Tensor] = {}
        for j, nd in enumerate(k.noises):
            self.values[nd.index] = self.z[:, :, :, j, :].reshape(rows, d)[self.perm]
        if k.time_draw is not None:
            self.values[k.time_draw.index] = k.t_std[group]
        fixed = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=g)))
        for c in k.nuisance:
            self.values[c.index] = fresh_values(_with_batch(c, rows), fixed)

    def rows(self, lo: int, hi: int) -> tuple[Tensor, dict[int, Tensor]]:
        return self.x0_rows[lo:hi], {i: v[lo:hi] for i, v in self.values.items()}

    def average(self, per_row: Tensor) -> Tensor:
        v = per_row.detach().to(torch.float64).cpu()
        v = torch.empty_like(v).index_copy_(0, self.perm, v)
        return (self.weights * v.reshape(self.n_t, self.n, self.m)).sum(-1)

    def score_inputs(self) -> tuple[Tensor, Any]:
        k, d = self.k, self.xt.shape[-1]
        x = (self.xt + k.offset[:, None, :]).reshape(-1, d)[self.perm_xt]
        x = x.reshape(-1, *k.x_shape).to(dtype=k.x_dtype, device=self.runner.device)
        group = torch.arange(self.n_t).repeat_interleave(self.n)[self.perm_xt]
        t = k.t_in
        if isinstance(t, Tensor) and t.dim() >= 1 and t.shape[0] == self.n_t:
            t = t.index_select(0, group.to(t.device))
        return x, t

    def sm(self, est: Tensor) -> Tensor:
        v = est.detach().to(torch.float64).cpu().reshape(self.n_t * self.n, -1)
        v = torch.empty_like(v).index_copy_(0, self.perm_xt, v)
        return ((self.score - v.reshape(self.n_t, self.n, -1)) ** 2).sum(-1)


def _evaluate(runner: _Runner, tap: _Tap, coupled: _Coupled, scalar: bool, batch: int, *,
              first: bool) -> tuple[Tensor, str]:
    """The step's loss per row for one model; for the first model also check that the step
    reproduces the coupled x_t, is deterministic and (scalar) reduces by a mean or a sum."""
    rows = coupled.x0_rows.shape[0]
    parts: list[Tensor] = []
    how = ""
    for lo in range(0, rows, batch):
        hi = min(lo + batch, rows)
        x0_flat, draw_values = coupled.rows(lo, hi)
        x0 = runner.x0(x0_flat)
        if first:
            tap.calls, tap.record = [], True
        out = runner.call(tap, x0, draw_values)
        tap.record = False
        if first:
            _check_reproduced(tap, coupled.want[lo:hi], coupled.k)
            again = runner.call(tap, x0, draw_values)
            if not _close(out, again):
                raise invalid("step", "gave different losses on two replays with identical draws "
                              f"({_num(out)} vs {_num(again)}): it depends on something besides "
                              "torch's RNG (a NumPy Generator, a counter, global state)",
                              f"make the step deterministic given its torch draws, or "
                              f"{_TIME_MODE}")
        if not isinstance(out, Tensor):
            raise invalid("step", f"returned {type(out).__name__}", "return a tensor")
        if not scalar:
            if out.shape != (hi - lo,):
                raise invalid("step", f"returned shape {list(out.shape)} for a batch of "
                              f"{hi - lo}", "return a scalar or one loss per sample")
            parts.append(out.detach().to(torch.float64).cpu())
            how = "per-sample"
            continue
        vals_i, how = _per_sample(runner, tap, x0, draw_values)
        if first:
            whole = float(out)
            mean, total = float(vals_i.mean()), float(vals_i.sum())
            tol = _REDUCE_RTOL.get(out.dtype, 1e-2)
            if not (_close_f(whole, mean, tol) or _close_f(whole, total, tol)):
                coupled.findings.append(
                    f"the batch loss {whole:.6g} is neither the mean ({mean:.6g}) nor the sum "
                    f"({total:.6g}) of the per-sample losses on a mixed-t batch: the batch "
                    "reduction mixes samples (a broadcast across the batch axis?)")
        parts.append(vals_i)
    vals = torch.cat(parts)
    if not bool(torch.isfinite(vals).all()):
        raise invalid("step", "returned NaN or inf", "check the loss on the guard's batch "
                      "(a division by σ(t), log of 0)")
    return vals, how


def _per_sample(runner: _Runner, tap: _Tap, x0: Tensor, vals: dict[int, Tensor]
                ) -> tuple[Tensor, str]:
    keys = sorted(vals)

    def one(x: Tensor, *v: Tensor) -> Tensor:
        plan = _Plan(runner.expected, 1, {i: t.unsqueeze(0) for i, t in zip(keys, v,
                                                                            strict=True)},
                     RECORD_BATCH)
        with DrawMode(plan):
            out = runner.step(tap, x.unsqueeze(0))
        return out.reshape(())

    try:
        with torch.no_grad():
            got = torch.func.vmap(one, randomness="error")(x0, *(vals[i] for i in keys))
        return got.detach().to(torch.float64).cpu(), "scalar, per sample via vmap"
    except (Stop, SmeqError):
        raise
    except (Exception, _Mismatch):  # any vmap limitation falls back to a loop
        pass
    out = []
    for r in range(x0.shape[0]):
        v = runner.call(tap, x0[r:r + 1], {i: vals[i][r:r + 1] for i in keys})
        out.append(float(v))
    return torch.tensor(out, dtype=torch.float64), "scalar, per sample by a loop"


def _check_reproduced(tap: _Tap, want: Tensor, k: _Kernel) -> None:
    if not tap.calls:
        raise invalid("step", "did not call the model on a replay", "call the model once per "
                      "step")
    got = tap.calls[0][0].detach().to(torch.float64).cpu().reshape(want.shape)
    err = float((got - want).abs().max()) / max(float(want.abs().max()), 1e-300)
    tol = REPRODUCE_RTOL[torch.float32 if k.low_precision or k.x_dtype != torch.float64
                         else torch.float64]
    if err > tol:
        raise invalid("step", f"fed the model an x_t that differs from the coupled one by "
                      f"{err:.2g} relative on a full batch, although its kernel was probed on "
                      "one sample per time: the noising of a sample depends on more than its own"
                      " draws (the batch size or other samples)",
                      f"noise each sample from its own draws, or {_TIME_MODE}")


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.shape != b.shape:
            return False
        scale = max(float(a.detach().abs().max()) if a.numel() else 0.0, 1e-300)
        return float((a.detach() - b.detach()).abs().max()) <= 1e-12 * scale
    return bool(a == b)


#: A batch loss equals the mean or sum of its per-sample values to this relative accuracy: the
#: rounding of a reduction over a batch in the loss's dtype.
_REDUCE_RTOL = {torch.float64: 1e-10, torch.float32: 1e-4}


def _close_f(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300)


def _num(v: Any) -> str:
    if isinstance(v, Tensor):
        return f"{float(v.detach().double().reshape(-1)[0]):.17g}" if v.numel() else "[]"
    return repr(v)


def _failed(target: str, findings: list[str], k: _Kernel, notes: list[str],
            thr: float) -> LossReport:
    return LossReport(ok=False, weighting={}, residual=math.inf, worst_t=None, matched=None,
                      findings=tuple(findings), notes=tuple(notes), threshold=thr,
                      target=target, mode="posterior-coupled, intercepted step",
                      draws=tuple(getattr(k, "draw_text", ())))


def _schedule_check(schedule: Any, k: _Kernel, shape: tuple[int, ...], dtype: torch.dtype,
                    device: torch.device) -> tuple[list[str], list[str]]:
    """The measured kernel against a user's schedule, in words (module doc)."""
    from ._probe import resolve_schedule

    t = torch.tensor(k.t_values, dtype=torch.float64)
    try:
        kern = resolve_schedule(schedule, times=t, sample_shape=shape, dtype=dtype,
                                device=device)
        if kern.discrete:
            t = t.round().to(torch.int64)
        sa = kern.alpha(t).double().cpu().reshape(-1).expand(t.numel())
        ss = kern.sigma(t).double().cpu().reshape(-1).expand(t.numel())
    except InvalidArgument as exc:
        return [f"the kernel was not compared with the schedule: the t the model receives is "
                f"not in the schedule's units ({exc})"], []
    alpha, sigma = k.alpha, k.sigma
    fmt = ", ".join

    def agree(a: Tensor, b: Tensor) -> bool:
        return bool(((a - b).abs() <= SCHEDULE_RTOL * b.abs().clamp_min(1e-300)).all())

    def const_ratio(a: Tensor, b: Tensor) -> float | None:
        r = a / b
        return float(r.mean()) if agree(r, r.mean().expand_as(r)) else None

    at = f"t = {fmt(_ft(v) for v in k.t_values[:4])}"

    def x0_map(sched_alpha: Tensor) -> str:
        r = float((alpha / sched_alpha).mean())
        c0 = float((k.offset / sched_alpha[:, None]).mean())
        if abs(r - 1) <= SCHEDULE_RTOL and abs(c0) <= SCHEDULE_RTOL:
            return ""
        if abs(r - 2) <= SCHEDULE_RTOL and abs(c0 + 1) <= SCHEDULE_RTOL:
            return "; x0 is mapped to 2·x0 − 1 ([0, 1] → [−1, 1]) before noising"
        return f"; x0 is mapped to {r:.4g}·x0 + {c0:.4g} (mean over elements) before noising"

    if agree(sigma, ss) and const_ratio(alpha, sa) is not None:
        return [f"the measured kernel agrees with the schedule (α, σ at {at}, ...)"
                + x0_map(sa)], []
    ratio = const_ratio(sigma / alpha, ss / sa)
    if ratio is not None and abs(ratio - 1) <= SCHEDULE_RTOL:
        return ["the model receives x_t times a per-time factor (σ/α agrees with the schedule: "
                "an input preconditioning such as c_in)"], []
    if not kern.discrete:
        lo, hi = float(t.min()), float(t.max())
        for a, b in ((0.0, 1.0), (getattr(schedule, "t_min", 0.0), getattr(schedule, "t_max",
                                                                           1.0))):
            if a <= lo and hi <= b:
                rt = (a + b) - t
                try:
                    ra = kern.alpha(rt).double().cpu().reshape(-1).expand(t.numel())
                    rs = kern.sigma(rt).double().cpu().reshape(-1).expand(t.numel())
                except Exception:  # a schedule undefined there: no reversal to report
                    break
                if agree(sigma, rs) and const_ratio(alpha, ra) is not None:
                    return [f"time looks reversed (data at t = {_ft(b)}): the measured α, σ are "
                            f"the schedule's at {_ft(a + b)} − t" + x0_map(ra)], []
                break
    pairs = "; ".join(f"t={_ft(tv)}: α={float(alpha[i]):.4g}, σ={float(sigma[i]):.4g} vs "
                      f"α={float(sa[i]):.4g}, σ={float(ss[i]):.4g}"
                      for i, tv in enumerate(k.t_values[:3]))
    return [], [f"the step applies a kernel the schedule does not describe (measured vs "
                f"schedule: {pairs})"]


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
