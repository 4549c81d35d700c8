"""The schedule as the guard sees it: a :class:`numeric.Schedule`, an object with α(t)/σ(t), or a
user's ``add_noise(x0, noise, t)`` probed for α(t), σ(t).

Probing uses the kernel x_t = α(t) x0 + σ(t) ε (Ho et al. 2020, eq. 4; docs/design.md §1):
α = add_noise(1, 0, t) and σ = add_noise(0, 1, t). The probe then checks that ``add_noise`` really
is that affine map (a non-affine one is itself a finding), and that it still adds noise in
bfloat16/float16 at small t (σ rounding to 0, or ᾱ rounding to 1, silently trains on clean data).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .._errors import invalid
from .._schedules import Schedule

__all__ = ["AddNoiseProbe", "Kernel", "low_precision_findings", "resolve_schedule"]

Tensor = torch.Tensor
#: Relative error above which a low-precision σ(t) or α(t) counts as a finding (bfloat16 keeps
#: 8 bits, i.e. ~0.4% rounding; 10% is a real loss of the noise level, not rounding).
LOW_PRECISION_RTOL = 0.1
#: add_noise must reproduce α x0 + σ ε to this relative accuracy. Loose enough for an add_noise
#: that computes in float32 inside a float64 check (~1e-7), tight next to real bugs (≥ 1e-3).
AFFINE_RTOL = 1e-5


@dataclass(frozen=True)
class Kernel:
    """t (in the schedule's own units) -> α(t), σ(t) as float64, plus how to pick times."""

    name: str
    alpha: Callable[[Tensor], Tensor]
    sigma: Callable[[Tensor], Tensor]
    g2: Callable[[Tensor], Tensor] | None
    discrete: bool
    grid: Callable[[int], Tensor]
    add_noise: Callable[..., Any] | None = None
    low_t: Tensor | None = None


def _num_train_timesteps(fn: Any) -> int | None:
    owner = getattr(fn, "__self__", None)
    for obj in (owner, getattr(owner, "config", None)):
        n = getattr(obj, "num_train_timesteps", None) if obj is not None else None
        if isinstance(n, int) and n >= 3:
            return n
    return None


def resolve_schedule(schedule: Any, *, times: Tensor | None, sample_shape: tuple[int, ...],
                     dtype: torch.dtype, device: torch.device) -> Kernel:
    """Wrap ``schedule`` as a :class:`Kernel`; ``add_noise`` callables are probed (see module)."""
    has_kernel = callable(getattr(schedule, "alpha", None)) and callable(
        getattr(schedule, "sigma", None))
    if isinstance(schedule, Schedule) or has_kernel:
        sched = Schedule.from_object(schedule)
        g2 = None if sched.discrete else sched.g2
        return Kernel(sched.name, sched.alpha, sched.sigma, g2, sched.discrete, sched.grid)
    if not callable(schedule):
        raise invalid("schedule", f"got {type(schedule).__name__}, which is neither a schedule "
                      "nor callable", "pass a numeric.Schedule, an object with alpha(t) and "
                      "sigma(t), or an add_noise(x0, noise, t) function")
    n_steps = _num_train_timesteps(schedule)
    discrete = n_steps is not None or (times is not None and not times.is_floating_point())
    if discrete and n_steps is None:
        assert times is not None
        n_steps = int(times.max()) + 2

    def grid(n: int) -> Tensor:
        if discrete:
            assert n_steps is not None
            idx = torch.linspace(0.0, float(n_steps - 1), n + 2, dtype=torch.float64)[1:-1]
            return torch.round(idx).to(torch.int64)
        return torch.linspace(0.0, 1.0, n + 2, dtype=torch.float64)[1:-1]

    probe = AddNoiseProbe(schedule, sample_shape, dtype, device)
    # Probe now, so that a failure inside add_noise is reported against it, not against the
    # times it is later evaluated at.
    first = times if times is not None else grid(2)
    probe.alpha(first)
    probe.sigma(first)
    low = torch.zeros(1, dtype=torch.int64) if discrete else None
    return Kernel(getattr(schedule, "__qualname__", type(schedule).__name__), probe.alpha,
                  probe.sigma, None, discrete, grid, add_noise=schedule, low_t=low)


class AddNoiseProbe:
    """α(t) = add_noise(1, 0, t), σ(t) = add_noise(0, 1, t), read off the user's function."""

    def __init__(self, fn: Callable[..., Any], shape: tuple[int, ...], dtype: torch.dtype,
                 device: torch.device) -> None:
        self.fn, self.shape, self.dtype, self.device = fn, shape, dtype, device

    def call(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        try:
            out = self.fn(x0, noise, t)
        except Exception as exc:
            at = f"at t = {t.tolist()[:4]} ({t.dtype})"
            if t.is_floating_point() and _needs_integers(exc):
                raise invalid("schedule", f"add_noise(x0, noise, t) failed on float times {at}: "
                              f"{type(exc).__name__}: {exc}; it looks like a discrete schedule "
                              "indexed by integer timesteps", "pass integer timesteps (e.g. "
                              "times=[10, 500, 900]) or numeric.Schedule.from_alphas_cumprod("
                              "alphas_cumprod) as the schedule") from exc
            raise invalid("schedule", f"add_noise(x0, noise, t) raised {type(exc).__name__} "
                          f"{at}: {exc}", "fix add_noise, or pass add_noise(x0[B,...], "
                          "noise[B,...], t[B]) -> x_t working on a batch with one t per sample, "
                          "or a numeric.Schedule") from exc
        if not isinstance(out, Tensor) or out.shape != x0.shape:
            got = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise invalid("schedule", f"add_noise returned {got}, expected {list(x0.shape)}",
                          "return x_t shaped like x0")
        return out

    def _read(self, t: Tensor, dtype: torch.dtype, which: str) -> Tensor:
        b = t.shape[0]
        one = torch.ones((b, *self.shape), dtype=dtype, device=self.device)
        zero = torch.zeros_like(one)
        out = self.call(one, zero, t) if which == "alpha" else self.call(zero, one, t)
        return out.reshape(b, -1)[:, 0].to(torch.float64).cpu()

    def alpha(self, t: Tensor) -> Tensor:
        return self._read(t.to(self.device), self.dtype, "alpha")

    def sigma(self, t: Tensor) -> Tensor:
        return self._read(t.to(self.device), self.dtype, "sigma")

    def affine_findings(self, t: Tensor, generator: torch.Generator) -> list[str]:
        """Check add_noise(x0, ε, t) = α x0 + σ ε on random inputs (per sample, per coordinate)."""
        t = t.to(self.device)
        b = t.shape[0]
        x0 = torch.randn((b, *self.shape), generator=generator, dtype=self.dtype).to(self.device)
        eps = torch.randn((b, *self.shape), generator=generator, dtype=self.dtype).to(self.device)
        a = self.alpha(t).to(self.device, self.dtype).view(b, *([1] * len(self.shape)))
        s = self.sigma(t).to(self.device, self.dtype).view(b, *([1] * len(self.shape)))
        want = a * x0 + s * eps
        got = self.call(x0, eps, t)
        zero = self.call(torch.zeros_like(x0), torch.zeros_like(eps), t)
        err = float((got - want).abs().max()) / max(float(want.abs().max()), 1e-300)
        findings = []
        if float(zero.abs().max()) > 0:
            findings.append(f"add_noise(0, 0, t) = {float(zero.abs().max()):.3g} ≠ 0: it adds an "
                            "offset, so it is not x_t = α x0 + σ ε")
        if err > AFFINE_RTOL:
            i = int((got - want).abs().reshape(b, -1).amax(1).argmax())
            findings.append(f"add_noise is not affine in (x0, noise): at t={_fmt_t(t[i])} it "
                            f"differs from α x0 + σ ε by {err:.2g} relative (probed α="
                            f"{float(a.flatten()[i]):.4g}, σ={float(s.flatten()[i]):.4g})")
        return findings


def _needs_integers(exc: Exception) -> bool:
    """An error of indexing a table with float times (torch's and NumPy's wording)."""
    text = str(exc).lower()
    return isinstance(exc, (IndexError, TypeError, RuntimeError)) and any(
        w in text for w in ("must be long", "indices", "integer", "index"))


def _fmt_t(t: Tensor) -> str:
    v = t.item()
    return str(int(v)) if isinstance(v, int) else f"{v:.4g}"


def low_precision_findings(kernel: Kernel, times: Tensor,
                           dtypes: tuple[torch.dtype, ...]) -> list[str]:
    """σ(t), α(t) of a user's ``add_noise`` recomputed in each low-precision dtype at small t.

    The finding to catch: in bfloat16, ᾱ_0 = 0.9999 rounds to 1, so σ = √(1 − ᾱ) = 0 and
    add_noise returns x0 unchanged (no noise at t = 0).
    """
    if kernel.add_noise is None or not dtypes:
        return []
    probe = kernel.add_noise
    checks = times.sort().values[:3]
    if kernel.low_t is not None:
        checks = torch.cat([kernel.low_t.to(checks.dtype), checks])
    findings = []
    wrapper = AddNoiseProbe(probe, (1,), torch.float64, torch.device("cpu"))
    ref_a, ref_s = wrapper.alpha(checks), wrapper.sigma(checks)
    for dt in dtypes:
        try:
            lp_a, lp_s = wrapper._read(checks, dt, "alpha"), wrapper._read(checks, dt, "sigma")
        except Exception:  # a function that refuses low precision is not a finding
            continue
        name = str(dt).replace("torch.", "")
        for i in range(checks.numel()):
            t_txt, s64, a64 = _fmt_t(checks[i]), float(ref_s[i]), float(ref_a[i])
            if s64 > 0 and float(lp_s[i]) == 0.0:
                findings.append(f"in {name}, add_noise adds no noise at t={t_txt}: σ rounds to 0 "
                                f"(float64 σ = {s64:.3g}); compute ᾱ and σ in float32 or float64 "
                                "and cast x_t afterwards")
                break
            rel = abs(float(lp_s[i]) - s64) / s64 if s64 > 0 else 0.0
            rel_a = abs(float(lp_a[i]) - a64) / a64 if a64 > 0 else 0.0
            if max(rel, rel_a) > LOW_PRECISION_RTOL and math.isfinite(rel):
                findings.append(f"in {name}, add_noise at t={t_txt} has σ = {float(lp_s[i]):.3g}"
                                f", α = {float(lp_a[i]):.4g} (float64: σ = {s64:.3g}, α = "
                                f"{a64:.4g}); compute the schedule in float32 or float64")
                break
    return findings
