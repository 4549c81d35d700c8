"""Hypothesis strategies for score-matching problems (public; ``numeric.strategies``).

Follows Hypothesis's API guide: plural names, keyword-only arguments, ``min_*``/``max_*`` bounds,
:class:`hypothesis.errors.InvalidArgument` on bad strategy arguments (raised when the strategy is
built), and safe default magnitudes that can be widened. Randomness for tensors is an integer seed
drawn by Hypothesis and turned into a ``torch.Generator``, so every example replays exactly.

    from hypothesis import given
    from numeric import strategies as sst

    @given(sst.sm_problems())
    def test_gap_is_theta_free(problem): ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from . import _mixture, _networks, _schedules

__all__ = [
    "SMProblem",
    "gaussian_mixtures",
    "noise_schedules",
    "score_networks",
    "sm_problems",
    "times",
]

_SEEDS = st.integers(min_value=0, max_value=2**31 - 1)
_COVARIANCES = ("isotropic", "diagonal", "full")

#: The built-in schedules with their default parameters (numeric.Schedule.named).
_SCHEDULE_KINDS = ("ddpm", "edm", "rectified_flow", "sub_vp", "ve", "vp_cosine", "vp_linear")


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(f"{name}={value!r} must be an int >= {minimum}")
    return value


def _check_range(lo_name: str, lo: Any, hi_name: str, hi: Any) -> None:
    if lo > hi:
        raise InvalidArgument(f"{lo_name}={lo!r} must be <= {hi_name}={hi!r}")


def _check_int_range(name: str, lo: Any, hi: Any, minimum: int) -> None:
    """``min_<name>`` and ``max_<name>`` are ints >= ``minimum`` with min <= max."""
    _check_int(f"min_{name}", lo, minimum)
    _check_int(f"max_{name}", hi, minimum)
    _check_range(f"min_{name}", lo, f"max_{name}", hi)


def _check_float(name: str, value: Any, *, positive: bool = True) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (positive and value <= 0):
        kind = "a finite float > 0" if positive else "a finite float"
        raise InvalidArgument(f"{name}={value!r} must be {kind}")
    return float(value)


def _check_dtype(dtype: Any) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or dtype not in (torch.float32, torch.float64):
        raise InvalidArgument(f"dtype={dtype!r} must be torch.float32 or torch.float64")
    return dtype


def _check_device(device: Any) -> str:
    """The device, checked when the strategy is built (not failing on every draw)."""
    from ._errors import SmeqError
    from ._validate import resolve_device

    try:
        return str(resolve_device(device))
    except SmeqError as exc:
        raise InvalidArgument(f"device={device!r}: {exc}") from None


def _check_names(name: str, values: Any, known: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty collection of names from ``known`` (a bare string is refused)."""
    if isinstance(values, str | bytes):
        raise InvalidArgument(f"{name}={values!r} must be a collection of names, not a str")
    try:
        chosen = tuple(values)
    except TypeError:
        raise InvalidArgument(f"{name}={values!r} must be a collection of names from "
                              f"{sorted(known)}") from None
    bad = [v for v in chosen if not isinstance(v, str) or v not in known]
    if not chosen or bad:
        raise InvalidArgument(f"{name}={values!r}: unknown {bad!r} or empty; use a non-empty "
                              f"subset of {sorted(known)}")
    return chosen


#: Largest sizes a strategy accepts: beyond them a single draw needs gigabytes.
_MAX_DIM = 4096
_MAX_COMPONENTS = 4096
_MAX_FULL_ENTRIES = 2**26
#: Largest (max_std/min_std)² for full covariances: a rotated Σ with a larger condition number
#: is not numerically positive definite in float64 and the constructor rightly refuses it.
_MAX_FULL_CONDITION = 1e10


def _rotation(d: int, seed: int) -> torch.Tensor:
    """A random orthogonal d×d matrix (QR of a Gaussian matrix with sign-fixed R)."""
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def gaussian_mixtures(*, min_dim: int = 1, max_dim: int = 4, min_components: int = 1,
                      max_components: int = 3, max_mean: float = 3.0, min_std: float = 0.3,
                      max_std: float = 2.0, covariance: str | None = None,
                      min_weight: float = 0.05, dtype: torch.dtype = torch.float64,
                      device: str = "cpu") -> st.SearchStrategy[_mixture.GaussianMixture]:
    """Gaussian mixtures Σ_k π_k N(μ_k, Σ_k) with |μ_k,i| ≤ ``max_mean`` and the standard
    deviations (square roots of Σ_k's eigenvalues) in [``min_std``, ``max_std``].

    ``covariance`` fixes the kind ("isotropic" [K], "diagonal" [K,d], "full" [K,d,d] with a
    random rotation); None draws one. Weights are ≥ ``min_weight`` before normalising.
    """
    _check_int_range("dim", min_dim, max_dim, 1)
    _check_int_range("components", min_components, max_components, 1)
    if max_dim > _MAX_DIM or max_components > _MAX_COMPONENTS:
        raise InvalidArgument(f"max_dim={max_dim!r}, max_components={max_components!r}: at "
                              f"most {_MAX_DIM} and {_MAX_COMPONENTS} (a larger draw does not "
                              "fit in memory)")
    max_mean = _check_float("max_mean", max_mean, positive=False)
    if max_mean < 0:
        raise InvalidArgument(f"max_mean={max_mean!r} must be >= 0")
    min_std = _check_float("min_std", min_std)
    max_std = _check_float("max_std", max_std)
    _check_range("min_std", min_std, "max_std", max_std)
    min_weight = _check_float("min_weight", min_weight)
    if min_weight > 1:
        raise InvalidArgument(f"min_weight={min_weight!r} must be in (0, 1]")
    if covariance is not None and covariance not in _COVARIANCES:
        raise InvalidArgument(f"covariance={covariance!r} must be None or one of {_COVARIANCES}")
    dtype = _check_dtype(dtype)
    device = _check_device(device)
    # Never draw what GaussianMixture refuses: every mean and variance must fit the dtype.
    info = torch.finfo(dtype)
    if max_mean > info.max or min_std < math.sqrt(info.tiny) or max_std > math.sqrt(info.max):
        raise InvalidArgument(f"max_mean={max_mean!r}, min_std={min_std!r}, max_std={max_std!r}"
                              f": means and variances (std²) must lie within {dtype}'s normal "
                              f"range [{info.tiny:.3g}, {info.max:.3g}]")
    if covariance in (None, "full"):
        if max_std / min_std > math.sqrt(_MAX_FULL_CONDITION):
            raise InvalidArgument(f"min_std={min_std!r}, max_std={max_std!r}: a full covariance "
                                  f"with condition number above {_MAX_FULL_CONDITION:.0e} is not "
                                  "numerically positive definite; narrow the range or pass "
                                  "covariance='diagonal'")
        if max_components * max_dim**2 > _MAX_FULL_ENTRIES:
            raise InvalidArgument(f"max_components * max_dim**2 = "
                                  f"{max_components * max_dim**2} entries of full covariances "
                                  "is too large; pass covariance='diagonal' or smaller sizes")
    kinds = st.sampled_from(_COVARIANCES) if covariance is None else st.just(covariance)

    @st.composite
    def build(draw: st.DrawFn) -> _mixture.GaussianMixture:
        d = draw(st.integers(min_dim, max_dim))
        k = draw(st.integers(min_components, max_components))
        kind = draw(kinds)
        floats = st.floats(-max_mean, max_mean, allow_nan=False)
        stds = st.floats(min_std, max_std, allow_nan=False)
        weights = torch.tensor(draw(st.lists(st.floats(min_weight, 1.0), min_size=k,
                                             max_size=k)), dtype=torch.float64)
        means = torch.tensor(draw(st.lists(st.lists(floats, min_size=d, max_size=d),
                                           min_size=k, max_size=k)), dtype=torch.float64)
        if kind == "isotropic":
            covs = torch.tensor(draw(st.lists(stds, min_size=k, max_size=k)),
                                dtype=torch.float64) ** 2
        else:
            sd = torch.tensor(draw(st.lists(st.lists(stds, min_size=d, max_size=d),
                                            min_size=k, max_size=k)), dtype=torch.float64)
            covs = sd**2
            if kind == "full":
                rot = torch.stack([_rotation(d, draw(_SEEDS)) for _ in range(k)])
                covs = rot @ torch.diag_embed(covs) @ rot.transpose(-1, -2)
                covs = 0.5 * (covs + covs.transpose(-1, -2))
        return _mixture.GaussianMixture(weights / weights.sum(), means, covs, dtype=dtype,
                                        device=device)

    return build()


def noise_schedules(*, kinds: Any = None) -> st.SearchStrategy[_schedules.Schedule]:
    """Built-in noise schedules with default parameters: VP (linear, cosine), VE, sub-VP, EDM,
    rectified flow and the DDPM table; ``kinds`` restricts them to names that
    ``numeric.Schedule.named`` knows."""
    chosen = _SCHEDULE_KINDS if kinds is None else _check_names("kinds", kinds, _SCHEDULE_KINDS)
    return st.sampled_from(sorted(set(chosen))).map(_schedules.Schedule.named)


def _geometric(schedule: _schedules.Schedule) -> bool:
    """True when the schedule's own ``grid`` is geometric in t (EDM's σ), not linear."""
    grid = [float(v) for v in schedule.grid(3)]
    return not math.isclose(grid[1] - grid[0], grid[2] - grid[1], rel_tol=1e-6)


def times(schedule: _schedules.Schedule, *, margin: float = 0.05) -> st.SearchStrategy[Any]:
    """Interior times of ``schedule``, a fraction ``margin`` of its range away from each end
    (spaced like the schedule's ``grid``: geometric for EDM's σ; integer indices for tables)."""
    margin = _check_float("margin", margin, positive=False)
    if not 0 <= margin < 0.5:
        raise InvalidArgument(f"margin={margin!r} must lie in [0, 0.5)")
    if not hasattr(schedule, "t_min") or not hasattr(schedule, "t_max"):
        raise InvalidArgument(f"schedule={schedule!r} must be a numeric.Schedule")
    lo, hi = float(schedule.t_min), float(schedule.t_max)
    if getattr(schedule, "discrete", False):
        span = hi - lo
        first, last = math.ceil(lo + margin * span), math.floor(hi - margin * span)
        return st.integers(max(first, int(lo) + 1), min(last, int(hi) - 1))
    if _geometric(schedule):
        llo, lhi = math.log(lo), math.log(hi)
        span = lhi - llo
        return st.floats(llo + margin * span, lhi - margin * span).map(math.exp)
    span = hi - lo
    return st.floats(lo + margin * span, hi - margin * span)


def score_networks(dim: int, *, activations: Any = None, min_width: int = 4,
                   max_width: int = 32, min_depth: int = 1, max_depth: int = 3,
                   time_embedding: bool | None = None, dtype: torch.dtype = torch.float64,
                   device: str = "cpu") -> st.SearchStrategy[_networks.ScoreMLP]:
    """Replayable random MLP score models for ``dim``: a seed and an architecture are drawn and
    built with :func:`numeric.random_score_network`."""
    _check_int("dim", dim, 1)
    _check_int_range("width", min_width, max_width, 1)
    _check_int_range("depth", min_depth, max_depth, 0)
    acts = sorted(_networks.ACTIVATIONS) if activations is None else sorted(set(_check_names(
        "activations", activations, tuple(_networks.ACTIVATIONS))))
    if max_width > 1 << 16 or max_depth > 256:
        raise InvalidArgument(f"max_width={max_width!r}, max_depth={max_depth!r}: at most "
                              f"{1 << 16} and 256")
    dtype = _check_dtype(dtype)
    device = _check_device(device)
    embed = st.booleans() if time_embedding is None else st.just(bool(time_embedding))
    return st.builds(
        lambda seed, width, depth, act, te: _networks.random_score_network(
            seed, dim, width=width, depth=depth, activation=act, time_embedding=te,
            dtype=dtype, device=device),
        _SEEDS, st.integers(min_width, max_width), st.integers(min_depth, max_depth),
        st.sampled_from(acts), embed)


@dataclass(frozen=True)
class SMProblem:
    """A drawn score-matching problem: p_0, a schedule, a time t, its kernel (α, σ) and models."""

    mixture: _mixture.GaussianMixture
    schedule: _schedules.Schedule
    t: Any
    alpha: float
    sigma: float
    networks: tuple[_networks.ScoreMLP, ...]
    seed: int


def sm_problems(*, min_dim: int = 1, max_dim: int = 3, max_components: int = 3,
                min_networks: int = 2, max_networks: int = 3, kinds: Any = None,
                margin: float = 0.1, covariance: str | None = None,
                dtype: torch.dtype = torch.float64,
                device: str = "cpu") -> st.SearchStrategy[SMProblem]:
    """A bundle (:class:`SMProblem`): a mixture, a schedule, an interior t, the networks to
    compare, and a ``seed`` for the Monte Carlo noise."""
    _check_int_range("networks", min_networks, max_networks, 1)
    mixtures = gaussian_mixtures(min_dim=min_dim, max_dim=max_dim, max_components=max_components,
                                 covariance=covariance, dtype=dtype, device=device)
    schedules = noise_schedules(kinds=kinds)
    times(_schedules.Schedule.rectified_flow(), margin=margin)  # validates margin eagerly

    @st.composite
    def build(draw: st.DrawFn) -> SMProblem:
        mix = draw(mixtures)
        sched = draw(schedules)
        t = draw(times(sched, margin=margin))
        nets = draw(st.lists(score_networks(mix.dim, max_width=16, max_depth=2, dtype=dtype,
                                            device=device),
                             min_size=min_networks, max_size=max_networks))
        a, s = sched.kernel(t)
        return SMProblem(mix, sched, t, float(a), float(s), tuple(nets), draw(_SEEDS))

    return build()
