"""Noise schedules: the kernel x_t = α(t) x0 + σ(t) ε as an immutable :class:`Schedule`.

Continuous schedules follow Song et al. (2021) (VP, VE, sub-VP; their eqs. 9, 11, 29-30 and
Appendix B), Nichol & Dhariwal (2021) eq. 17 (cosine), Karras et al. (2022) Table 1 (EDM) and
Liu et al. (2023) (rectified flow). Discrete DDPM tables follow Ho et al. (2020) and the
``beta_schedule`` definitions of diffusers' ``DDPMScheduler``.

For every continuous schedule g²(t) = −σ² dλ/dt with λ = log(α²/σ²) (Kingma et al. 2021,
eq. 8 and Appendix; docs/design.md §2), which is the diffusion coefficient of the forward SDE
dx = (d log α/dt) x dt + g dW with these marginals."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ._errors import invalid
from ._schedule_params import _autograd_g2, _betas, _key_of, _number, _sigma_range, _slack
from ._validate import (
    as_float_tensor,
    call_user,
    check_finite,
    check_fits,
    check_real_output,
    finite_result,
    positive_int,
)

__all__ = ["Schedule"]

Tensor = torch.Tensor


_Fn = Callable[[Tensor], Any]


#: Where σ(t) = 0 or α(t) = 0 at an end of [0, 1], the schedule's domain stops this far inside, so
#: that every kernel (α, σ) on [t_min, t_max] has α > 0 and σ > 0 (Song et al. 2021 use ε = 1e-5).
T_EPS = 1e-5


_DDPM_BETAS = ("linear", "scaled_linear", "squaredcos_cap_v2")


@dataclass(frozen=True, eq=False, repr=False)
class Schedule:
    """An immutable noise schedule t -> (α(t), σ(t)); build it with a constructor classmethod.

    ``alpha``/``sigma``/``log_snr``/``g2`` take a float or a Tensor t and return a Tensor (float64
    for Python numbers and integer tensors; otherwise t's dtype and device). A t outside
    [``t_min``, ``t_max``], NaN, or (for ``discrete`` tables) not an integer index raises.
    """

    name: str
    params: tuple[tuple[str, Any], ...]
    t_min: float
    t_max: float
    discrete: bool
    _alpha: _Fn = field(repr=False)
    _sigma: _Fn = field(repr=False)
    _g2: _Fn | None = field(repr=False, default=None)
    _spacing: str = field(repr=False, default="linear")
    _key: tuple[Any, ...] = field(repr=False, default=())

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def vp_linear(cls, beta_min: float = 0.1, beta_max: float = 20.0) -> Schedule:
        """VP SDE with linear β(t) = β₀ + t(β₁ − β₀) (Song et al. 2021, eq. 11 and eq. 29):
        α = exp(−¼t²(β₁−β₀) − ½tβ₀), σ = √(1 − α²), g² = β(t)."""
        b0, b1 = _betas(beta_min, beta_max)

        def log_alpha(t: Tensor) -> Tensor:
            return -0.25 * t * t * (b1 - b0) - 0.5 * t * b0

        return cls._make("vp_linear", (("beta_min", b0), ("beta_max", b1)), T_EPS, 1.0,
                         lambda t: torch.exp(log_alpha(t)),
                         lambda t: torch.sqrt(-torch.expm1(2.0 * log_alpha(t))),
                         lambda t: b0 + t * (b1 - b0))

    @classmethod
    def vp_cosine(cls, s: float = 0.008) -> Schedule:
        """Cosine VP schedule (Nichol & Dhariwal 2021, eq. 17): α = cos(π/2·(t+s)/(1+s)) /
        cos(π/2·s/(1+s)), σ = √(1 − α²), g² = β(t) = −d log α²/dt = π/(1+s)·tan(π/2·(t+s)/(1+s))."""
        s = _number("s", s, minimum=0.0)
        # With u = 1/(1 + s) and a = π/2·(t + s)/(1 + s) = π/2 − π/2·(1 − t)u, every cosine
        # is a sine of a small angle: cos a = sin(π/2·(1 − t)u), cos a0 = sin(π/2·u). The
        # plain formula rounds (t + s)/(1 + s) to 1 once s ≳ 1e16 and returns α = 1.
        u = 1.0 / (1.0 + s)
        half = 0.5 * math.pi
        c0 = math.sin(half * u)
        small = half * u < 1e-6  # then sin(kx)/sin(x) = k(1 − x²(k² − 1)/6) to 1e-24

        def ratio(k: Tensor) -> Tensor:  # sin(π/2·k·u) / sin(π/2·u), never subnormal
            if small:
                return k * (1.0 - (half * u) ** 2 * (k * k - 1.0) / 6.0)
            return torch.sin(half * k * u) / c0

        def sigma(t: Tensor) -> Tensor:
            # cos²a0 − cos²a = sin(a − a0) sin(a + a0) = sin(π/2·tu) sin(π/2·(2 − t)u).
            return torch.sqrt(ratio(t)) * torch.sqrt(ratio(2.0 - t))

        def g2(t: Tensor) -> Tensor:  # π u / tan(π/2·(1 − t)u)
            y = half * (1.0 - t) * u
            if small:
                return 2.0 / (1.0 - t) * (1.0 - y * y / 3.0)
            return math.pi * u / torch.tan(y)

        return cls._make("vp_cosine", (("s", s),), T_EPS, 1.0 - T_EPS,
                         lambda t: ratio(1.0 - t), sigma, g2)

    @classmethod
    def ve(cls, sigma_min: float = 0.01, sigma_max: float = 50.0) -> Schedule:
        """VE SDE (Song et al. 2021, eq. 9 and Appendix C): α = 1,
        σ = σ_min(σ_max/σ_min)^t, g² = dσ²/dt = 2σ² log(σ_max/σ_min)."""
        lo, hi = _sigma_range(sigma_min, sigma_max)
        # In log space: σ_max/σ_min itself overflows for a range like 1e-200..1e200.
        log_lo = math.log(lo)
        rate = math.log(hi) - log_lo
        return cls._make("ve", (("sigma_min", lo), ("sigma_max", hi)), 0.0, 1.0,
                         torch.ones_like, lambda t: torch.exp(log_lo + rate * t),
                         lambda t: torch.exp(math.log(2.0 * rate) + 2.0 * (log_lo + rate * t)))

    @classmethod
    def sub_vp(cls, beta_min: float = 0.1, beta_max: float = 20.0) -> Schedule:
        """sub-VP SDE (Song et al. 2021, eq. 30): α as VP, σ = 1 − α²,
        g² = β(t)(1 − e^{−2∫β}) = β(t)(1 − α⁴)."""
        b0, b1 = _betas(beta_min, beta_max)

        def log_alpha(t: Tensor) -> Tensor:
            return -0.25 * t * t * (b1 - b0) - 0.5 * t * b0

        return cls._make("sub_vp", (("beta_min", b0), ("beta_max", b1)), T_EPS, 1.0,
                         lambda t: torch.exp(log_alpha(t)),
                         lambda t: -torch.expm1(2.0 * log_alpha(t)),
                         lambda t: (b0 + t * (b1 - b0)) * -torch.expm1(4.0 * log_alpha(t)))

    @classmethod
    def edm(cls, sigma_min: float = 0.002, sigma_max: float = 80.0) -> Schedule:
        """EDM (Karras et al. 2022, Table 1): α = 1, σ(t) = t on [σ_min, σ_max],
        g² = dσ²/dt = 2t. ``grid`` is geometric in σ."""
        lo, hi = _sigma_range(sigma_min, sigma_max)
        return cls._make("edm", (("sigma_min", lo), ("sigma_max", hi)), lo, hi,
                         torch.ones_like, lambda t: t.clone(), lambda t: 2.0 * t, spacing="log")

    @classmethod
    def rectified_flow(cls) -> Schedule:
        """Rectified flow / flow matching (Liu et al. 2023; Lipman et al. 2023): α = 1 − t,
        σ = t on [1e-5, 1 − 1e-5]. g² = −σ² dλ/dt = 2t/(1 − t): the diffusion coefficient of
        the SDE sharing these marginals (the flow itself is deterministic)."""
        return cls._make("rectified_flow", (), T_EPS, 1.0 - T_EPS, lambda t: 1.0 - t,
                         lambda t: t.clone(), lambda t: 2.0 * t / (1.0 - t))

    @classmethod
    def ddpm(cls, num_train_timesteps: int = 1000, beta_start: float = 1e-4,
             beta_end: float = 0.02, beta_schedule: str = "linear") -> Schedule:
        """Discrete DDPM table (Ho et al. 2020): ᾱ_t = ∏_{s≤t}(1 − β_s), t = 0..N−1, with
        diffusers' ``DDPMScheduler`` definitions of ``beta_schedule``: "linear" (linspace of β),
        "scaled_linear" (linspace of √β, squared), "squaredcos_cap_v2" (Nichol & Dhariwal 2021,
        eq. 17 with s = 0.008, betas capped at 0.999). Computed in float64."""
        n = positive_int("num_train_timesteps", num_train_timesteps, minimum=2)
        b0 = _number("beta_start", beta_start, minimum=0.0, strict=True)
        b1 = _number("beta_end", beta_end, minimum=0.0, strict=True)
        if b1 < b0 or b1 >= 1.0:
            raise invalid("beta_end", f"got {b1!r} with beta_start={b0!r}",
                          "pass 0 < beta_start <= beta_end < 1")
        if beta_schedule == "linear":
            betas = torch.linspace(b0, b1, n, dtype=torch.float64)
        elif beta_schedule == "scaled_linear":
            betas = torch.linspace(b0 ** 0.5, b1 ** 0.5, n, dtype=torch.float64) ** 2
        elif beta_schedule == "squaredcos_cap_v2":
            def abar(u: Tensor) -> Tensor:
                return torch.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

            grid = torch.arange(n + 1, dtype=torch.float64) / n
            betas = torch.clamp(1.0 - abar(grid[1:]) / abar(grid[:-1]), max=0.999)
        else:
            raise invalid("beta_schedule", f"got {beta_schedule!r}",
                          f"use one of {list(_DDPM_BETAS)}")
        log_abar = torch.cumsum(torch.log1p(-betas), 0)
        params = (("num_train_timesteps", n), ("beta_start", b0), ("beta_end", b1),
                  ("beta_schedule", beta_schedule))
        return cls._table("ddpm", params, torch.exp(log_abar), -torch.expm1(log_abar))

    @classmethod
    def from_alphas_cumprod(cls, alphas_cumprod: Any, *, name: str = "alphas_cumprod") -> Schedule:
        """Any discrete table ᾱ_t (t = 0..N−1, entries in (0, 1), non-increasing):
        α = √ᾱ_t, σ = √(1 − ᾱ_t) (Ho et al. 2020, eq. 4)."""
        table = as_float_tensor("alphas_cumprod", alphas_cumprod).detach().cpu()
        if table.dim() != 1 or table.numel() < 2:
            raise invalid("alphas_cumprod", f"has shape {list(table.shape)}",
                          "pass a 1-D table with at least 2 entries")
        check_finite("alphas_cumprod", table)
        if bool(((table <= 0) | (table >= 1)).any()):
            raise invalid("alphas_cumprod", f"has entries outside (0, 1): min "
                          f"{float(table.min())!r}, max {float(table.max())!r}",
                          "clip the ends into (0, 1) (diffusers sets a zero-SNR last entry to "
                          "2**-24)")
        if bool((table[1:] > table[:-1]).any()):
            raise invalid("alphas_cumprod", "is not non-increasing",
                          "pass the cumulative product ᾱ_t = ∏(1 − β_s)")
        key = tuple(table.tolist())
        return cls._table(name, (("alphas_cumprod", key),), table.clone(), 1.0 - table)

    @classmethod
    def from_functions(cls, alpha: _Fn, sigma: _Fn, *, name: str = "custom",
                       t_min: float = 0.0, t_max: float = 1.0, discrete: bool = False,
                       g2: _Fn | None = None) -> Schedule:
        """Wrap user functions t -> α(t), σ(t) (Tensor in, Tensor or float out).

        Without ``g2``, g² = −σ² dλ/dt is computed by autograd (the functions must then be
        differentiable torch code); discrete schedules have no g².
        """
        for arg, fn in (("alpha", alpha), ("sigma", sigma), ("g2", g2)):
            if fn is not None and not callable(fn):
                raise invalid(arg, f"got {type(fn).__name__}, not callable",
                              "pass a function t -> Tensor")
        lo = _number("t_min", t_min)
        hi = _number("t_max", t_max)
        if not hi > lo:
            raise invalid("t_max", f"got t_min={lo!r}, t_max={hi!r}", "pass t_min < t_max")

        def wrap(arg: str, fn: _Fn) -> Callable[[Tensor], Tensor]:
            fix = (f"make {arg}(t) return a real Tensor (or float) shaped like t, or one value "
                   "for all t")

            def call(t: Tensor) -> Tensor:
                out = call_user(arg, fn, t, fix=fix)
                check_real_output(arg, out, fix)
                if not isinstance(out, Tensor):
                    try:
                        out = torch.as_tensor(out, dtype=t.dtype, device=t.device)
                    except (TypeError, ValueError, RuntimeError) as exc:
                        raise invalid(arg, f"returned {type(out).__name__} {out!r:.60}, not a "
                                      f"number or Tensor ({exc})", fix) from None
                out = out.to(dtype=t.dtype, device=t.device)
                if out.shape != t.shape:
                    if out.numel() != 1:
                        raise invalid(arg, f"returned shape {list(out.shape)} for t of shape "
                                      f"{list(t.shape)}", fix)
                    out = out.reshape(()).expand_as(t)
                if not bool(torch.isfinite(out).all()):
                    raise invalid(arg, f"returned NaN or inf for t in [{float(t.min())!r}, "
                                  f"{float(t.max())!r}]", "check the function on this range")
                return out
            return call

        a, s = wrap("alpha", alpha), wrap("sigma", sigma)
        g2_fn: Callable[[Tensor], Tensor] | None
        if discrete:
            g2_fn = None
        elif g2 is not None:
            g2_fn = wrap("g2", g2)
        else:
            g2_fn = _autograd_g2(a, s)
        return cls._make(name, (), lo, hi, a, s, g2_fn, discrete=discrete,
                         key=("functions", _key_of(alpha), _key_of(sigma), _key_of(g2)))

    @classmethod
    def from_object(cls, schedule: Any) -> Schedule:
        """A :class:`Schedule` as is, or any object with ``alpha(t)``/``sigma(t)`` methods
        (optional ``t_min``, ``t_max``, ``discrete``, ``g2``, ``name``) wrapped as one."""
        if isinstance(schedule, Schedule):
            return schedule
        alpha, sigma = getattr(schedule, "alpha", None), getattr(schedule, "sigma", None)
        if not (callable(alpha) and callable(sigma)):
            raise invalid("schedule", f"got {type(schedule).__name__} without callable "
                          "alpha(t) and sigma(t)", "pass a numeric.Schedule or an object with "
                          "alpha(t) and sigma(t) methods")
        return cls.from_functions(
            alpha, sigma, name=str(getattr(schedule, "name", type(schedule).__name__)),
            t_min=getattr(schedule, "t_min", 0.0), t_max=getattr(schedule, "t_max", 1.0),
            discrete=bool(getattr(schedule, "discrete", False)),
            g2=getattr(schedule, "g2", None))

    @classmethod
    def named(cls, name: str, **params: Any) -> Schedule:
        """The built-in schedule called ``name`` (``"vp_linear"``, ``"vp_cosine"``, ``"ve"``,
        ``"sub_vp"``, ``"edm"``, ``"rectified_flow"``, ``"ddpm"``) with keyword ``params``."""
        builders: dict[str, Callable[..., Schedule]] = {
            "vp_linear": cls.vp_linear, "vp_cosine": cls.vp_cosine, "ve": cls.ve,
            "sub_vp": cls.sub_vp, "edm": cls.edm, "rectified_flow": cls.rectified_flow,
            "ddpm": cls.ddpm}
        if not isinstance(name, str) or name not in builders:
            raise invalid("name", f"no built-in schedule {name!r}",
                          f"use one of {sorted(builders)}")
        try:
            return builders[name](**params)
        except TypeError as exc:
            raise invalid("params", f"{name} does not take {sorted(params)} ({exc})",
                          "pass only that constructor's keyword arguments") from None

    @classmethod
    def _make(cls, name: str, params: tuple[tuple[str, Any], ...], t_min: float, t_max: float,
              alpha: _Fn, sigma: _Fn, g2: _Fn | None, *, discrete: bool = False,
              spacing: str = "linear", key: tuple[Any, ...] | None = None) -> Schedule:
        key = (name, params, t_min, t_max, discrete) if key is None else key
        return cls(name, params, float(t_min), float(t_max), discrete, alpha, sigma, g2,
                   spacing, key)

    @classmethod
    def _table(cls, name: str, params: tuple[tuple[str, Any], ...], abar: Tensor,
               one_minus: Tensor) -> Schedule:
        def alpha(t: Tensor) -> Tensor:
            return torch.sqrt(abar.to(t.device)[t.long()])

        def sigma(t: Tensor) -> Tensor:
            return torch.sqrt(one_minus.to(t.device)[t.long()])

        return cls._make(name, params, 0.0, float(abar.numel() - 1), alpha, sigma, None,
                         discrete=True)

    # ---- evaluation ---------------------------------------------------------------------
    def alpha(self, t: float | Tensor) -> Tensor:
        """α(t), the signal scale of x_t = α x0 + σ ε."""
        return self._eval(self._alpha, t)

    def sigma(self, t: float | Tensor) -> Tensor:
        """σ(t), the noise scale of x_t = α x0 + σ ε."""
        return self._eval(self._sigma, t)

    def kernel(self, t: float | Tensor) -> tuple[Tensor, Tensor]:
        """(α(t), σ(t)) together."""
        return self.alpha(t), self.sigma(t)

    def log_snr(self, t: float | Tensor) -> Tensor:
        """λ(t) = log(α²/σ²) (Kingma et al. 2021, eq. 3)."""
        t64, out = self._times(t)
        lam = 2.0 * (torch.log(self._alpha(t64)) - torch.log(self._sigma(t64)))
        return check_fits("t", finite_result(lam, "t", f"log-SNR of {self!r}"), out,
                          f"pass t as a float64 tensor (the value does not fit {out})")

    def g2(self, t: float | Tensor) -> Tensor:
        """g²(t) = −σ² dλ/dt, the squared diffusion coefficient of the forward SDE."""
        if self._g2 is None:
            raise invalid("t", f"g²(t) is undefined for the discrete table {self.name!r}",
                          "use a continuous schedule (e.g. Schedule.vp_linear()) for g²")
        return self._eval(self._g2, t)

    def grid(self, n: int) -> Tensor:
        """``n`` safe interior times, increasing (int64 indices for discrete tables; float64
        otherwise, geometric in σ for EDM)."""
        n = positive_int("n", n)
        if self.discrete:
            last = int(self.t_max)
            if last < 2:
                raise invalid("n", f"the table {self.name!r} has {last + 1} steps and so no "
                              "interior step to pick", "use a table with at least 3 steps "
                              "(num_train_timesteps >= 3), or pass the times yourself")
            if n > last - 1:
                raise invalid("n", f"got {n} for a table with {last + 1} steps",
                              f"pass n <= {last - 1}")
            idx = torch.linspace(0.0, float(last), n + 2, dtype=torch.float64)[1:-1]
            return torch.round(idx).to(torch.int64)
        if self._spacing == "log":
            u = torch.linspace(math.log(self.t_min), math.log(self.t_max), n + 2,
                               dtype=torch.float64)
            return torch.exp(u[1:-1])
        return torch.linspace(self.t_min, self.t_max, n + 2, dtype=torch.float64)[1:-1]

    def _eval(self, fn: _Fn, t: float | Tensor) -> Tensor:
        t64, out = self._times(t)
        value = finite_result(fn(t64), "t", f"{self!r} evaluated at t")
        return check_fits("t", value, out, f"pass t as a float64 tensor (the value does not fit "
                          f"t's dtype {out})")

    def _times(self, t: float | Tensor) -> tuple[Tensor, torch.dtype]:
        """t as a float64 tensor on t's device, checked; and the dtype to return in."""
        if not isinstance(t, Tensor):
            if isinstance(t, bool | str | bytes | complex) or t is None:
                raise invalid("t", f"got {type(t).__name__} {t!r}", "pass a float or a Tensor")
            t = as_float_tensor("t", t)
        if t.dtype == torch.bool or t.is_complex():
            raise invalid("t", f"got a {t.dtype} tensor", "pass real times")
        out = t.dtype if t.is_floating_point() else torch.float64
        t64 = t.to(torch.float64)  # autograd flows through continuous schedules
        if bool(torch.isnan(t64).any()):
            raise invalid("t", "contains NaN", "pass finite times")
        lo, hi = _slack(self.t_min, out), _slack(self.t_max, out)
        if t64.numel() and bool(((t64 < self.t_min - lo) | (t64 > self.t_max + hi)).any()):
            raise invalid("t", f"has values in [{float(t64.min())!r}, {float(t64.max())!r}], "
                          f"outside [t_min, t_max] = [{self.t_min!r}, {self.t_max!r}] of "
                          f"{self!r}", "pass times in [t_min, t_max], e.g. schedule.grid(n)")
        t64 = t64.clamp(self.t_min, self.t_max)
        if self.discrete and bool((t64 != torch.round(t64)).any()):
            raise invalid("t", f"has non-integer values for the discrete table {self.name!r}",
                          "pass integer indices 0..num_train_timesteps-1")
        return t64, out

    # ---- identity -----------------------------------------------------------------------
    def __repr__(self) -> str:
        if self._key[:1] == ("functions",):
            return (f"Schedule.from_functions(name={self.name!r}, t_min={self.t_min!r}, "
                    f"t_max={self.t_max!r}, discrete={self.discrete!r})")
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params if k != "alphas_cumprod")
        if any(k == "alphas_cumprod" for k, _ in self.params):
            shown = f"<{int(self.t_max) + 1} steps>"
        return f"Schedule.{self.name}({shown})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)
