"""The kernel a training step really applies, measured by replays (docs/design.md §3b).

For fixed time draws what the step feeds the model is x_in = A(t)⊙x0 + Σ_k β_k(t) z_k + c(t),
affine in (x0, noise). Replays with basis inputs, stopped at the model call, read A, β_k and c
per sample; a random replay checks the map is affine and that a sample's x_in depends on its own
inputs only. :func:`_schedule_check` then says in words how the measured kernel relates to a
schedule the user named (time reversed, x0 rescaled, an input preconditioning) or that it does
not.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .._errors import InvalidArgument, invalid
from ._expected import _ft
from ._intercept import Draw, fresh_values
from ._step_replay import _TIME_MODE, RECORD_BATCH, _Runner, _Tap

Tensor = torch.Tensor

#: A probed per-element map must be this uniform to count as one scalar per sample.
UNIFORM_RTOL = 1e-9

#: A schedule agrees with the measured kernel to this relative accuracy (float32 tables: 1e-7).
SCHEDULE_RTOL = 1e-4


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
    if not all(bool(torch.isfinite(v).all()) for v in (x_c, x_a, *betas)):
        k.not_affine = ("the step fed the model non-finite values for finite inputs (x0 of "
                        "zeros or ones, noise of zeros or ones per sample): a sample's x_t "
                        "divides by something computed from the batch, e.g. noise / noise.std()"
                        " (a batch statistic makes each sample's x_t depend on the others); "
                        "there is no per-sample kernel x_t = α x0 + σ ε to check exactly")
        return k
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
    if k.not_affine is not None:
        return k
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


def _schedule_check(schedule: Any, k: _Kernel, shape: tuple[int, ...], dtype: torch.dtype,
                    device: torch.device) -> tuple[list[str], list[str], Tensor | None]:
    """(notes, findings, g²): the measured kernel against a user's schedule in words, and the
    schedule's g²(t) at the step's times when the two agree exactly (for the likelihood
    weighting)."""
    from ._probe import resolve_schedule

    notes, findings = _schedule_words(schedule, k, shape, dtype, device)
    g2 = None
    if notes and notes[0].startswith(AGREES) and "x0 is mapped" not in notes[0]:
        kern = resolve_schedule(schedule, times=None, sample_shape=shape, dtype=dtype,
                                device=device)
        if kern.g2 is not None and not kern.discrete:
            try:
                g2 = kern.g2(torch.tensor(k.t_values, dtype=torch.float64)).double().cpu()
            except Exception:  # a schedule without g² just skips that weighting
                g2 = None
    return notes, findings, g2


AGREES = "the measured kernel agrees with the schedule"


def _schedule_words(schedule: Any, k: _Kernel, shape: tuple[int, ...], dtype: torch.dtype,
                    device: torch.device) -> tuple[list[str], list[str]]:
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
        return [f"{AGREES} (α, σ at {at}, ...)"
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
