"""numeric.Schedule: the kernel (α(t), σ(t)), λ(t), g²(t), domains, grids and DDPM tables."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import mpmath as mp
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numeric
from numeric import InvalidArgument, Schedule

F64 = torch.float64
TOL = numeric.tolerance(F64)

CONTINUOUS = [
    Schedule.vp_linear(), Schedule.vp_linear(beta_min=0.5, beta_max=5.0), Schedule.vp_cosine(),
    Schedule.ve(), Schedule.sub_vp(), Schedule.edm(), Schedule.rectified_flow(),
]
DISCRETE = [
    Schedule.ddpm(), Schedule.ddpm(beta_schedule="scaled_linear", beta_start=0.00085,
                                   beta_end=0.012),
    Schedule.ddpm(num_train_timesteps=50, beta_schedule="squaredcos_cap_v2"),
]
ALL = CONTINUOUS + DISCRETE


def _ids(s: Schedule) -> str:
    return repr(s).replace("Schedule.", "")


@pytest.mark.parametrize("sched", ALL, ids=_ids)
def test_kernel_is_positive_finite_and_snr_decreases(sched: Schedule) -> None:
    t = torch.cat([torch.tensor([sched.t_min, sched.t_max], dtype=F64), sched.grid(16).to(F64)])
    t = torch.sort(t).values
    a, s = sched.alpha(t), sched.sigma(t)
    assert a.dtype == F64 and a.shape == t.shape
    assert bool(torch.isfinite(a).all() and torch.isfinite(s).all())
    assert bool((a > 0).all() and (s > 0).all())
    lam = sched.log_snr(t)
    torch.testing.assert_close(lam, torch.log(a**2 / s**2), rtol=TOL.rtol, atol=1e-9)
    assert bool((lam[1:] < lam[:-1]).all()), f"λ(t) is not decreasing for {sched!r}: {lam}"


@pytest.mark.parametrize("sched", CONTINUOUS, ids=_ids)
def test_g2_is_minus_sigma2_dlambda_dt(sched: Schedule) -> None:
    """g² = −σ² dλ/dt (docs/design.md §2), checked by a central difference in float64."""
    t = sched.grid(9)
    h = 1e-4 * torch.minimum(t - sched.t_min, sched.t_max - t)  # relative step, stays inside
    dlam = (sched.log_snr(t + h) - sched.log_snr(t - h)) / (2 * h)
    # Truncation O(h²λ''') and rounding O(eps/h) are both far below 1e-6 relative here.
    torch.testing.assert_close(sched.g2(t), -sched.sigma(t) ** 2 * dlam, rtol=1e-6, atol=0.0)


def test_defining_relations() -> None:
    t = torch.linspace(0.05, 0.95, 19, dtype=F64)
    vp, sub, cos = Schedule.vp_linear(), Schedule.sub_vp(), Schedule.vp_cosine()
    for s in (vp, cos):
        torch.testing.assert_close(s.alpha(t) ** 2 + s.sigma(t) ** 2, torch.ones_like(t))
    torch.testing.assert_close(sub.alpha(t), vp.alpha(t), rtol=0, atol=0)
    torch.testing.assert_close(sub.sigma(t), 1 - vp.alpha(t) ** 2)
    rf = Schedule.rectified_flow()
    torch.testing.assert_close(rf.alpha(t) + rf.sigma(t), torch.ones_like(t))
    ve = Schedule.ve(sigma_min=0.01, sigma_max=50.0)
    assert float(ve.sigma(0.0)) == pytest.approx(0.01) and float(ve.sigma(1.0)) == pytest.approx(50)
    edm = Schedule.edm()
    torch.testing.assert_close(edm.sigma(edm.grid(5)), edm.grid(5), rtol=0, atol=0)
    torch.testing.assert_close(edm.alpha(edm.grid(5)), torch.ones(5, dtype=F64), rtol=0, atol=0)


def test_sigma_is_accurate_near_t_min() -> None:
    """σ = √(1 − α²) has no cancellation at small t: 12 digits against 50-digit mpmath."""
    with mp.workdps(50):
        b0, b1, s = mp.mpf("0.1"), mp.mpf(20), mp.mpf("0.008")
        ang = lambda u: mp.pi / 2 * (u + s) / (1 + s)  # noqa: E731
        cases = [(t, mp.sqrt(1 - mp.exp(-t * t * (b1 - b0) / 2 - t * b0)),
                  mp.sqrt(1 - (mp.cos(ang(t)) / mp.cos(ang(0))) ** 2))
                 for t in (mp.mpf("1e-5"), mp.mpf("1e-3"))]
    for t, vp, cos in cases:
        assert float(Schedule.vp_linear().sigma(float(t))) == pytest.approx(float(vp), rel=1e-12)
        assert float(Schedule.vp_cosine().sigma(float(t))) == pytest.approx(float(cos), rel=1e-10)


def test_ddpm_tables_match_their_definitions() -> None:
    """diffusers' DDPMScheduler definitions, rebuilt here by a different route (plain cumprod)."""
    n = 1000
    lin = torch.linspace(1e-4, 0.02, n, dtype=F64)
    scaled = torch.linspace(0.00085**0.5, 0.012**0.5, n, dtype=F64) ** 2
    idx = torch.arange(n)
    for sched, betas in ((Schedule.ddpm(), lin),
                         (Schedule.ddpm(beta_start=0.00085, beta_end=0.012,
                                        beta_schedule="scaled_linear"), scaled)):
        abar = torch.cumprod(1 - betas, 0)
        torch.testing.assert_close(sched.alpha(idx), abar.sqrt(), rtol=1e-12, atol=0)
        torch.testing.assert_close(sched.sigma(idx), (1 - abar).sqrt(), rtol=1e-9, atol=0)
    # squaredcos_cap_v2: the product telescopes to f((t+1)/N)/f(0) wherever no β hit the cap.
    cos = Schedule.ddpm(beta_schedule="squaredcos_cap_v2")

    def f(u: torch.Tensor) -> torch.Tensor:
        return torch.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

    t = torch.arange(n - 1)
    telescoped = f((t + 1).to(F64) / n) / f(torch.tensor(0.0, dtype=F64))
    torch.testing.assert_close(cos.alpha(t) ** 2, telescoped,
                               rtol=1e-6, atol=1e-12)
    # The last β is capped at 0.999: ᾱ_{N−1} = 0.001 ᾱ_{N−2}.
    torch.testing.assert_close(cos.alpha(n - 1) ** 2, 0.001 * cos.alpha(n - 2) ** 2)


def test_from_alphas_cumprod_reproduces_ddpm() -> None:
    ddpm = Schedule.ddpm(num_train_timesteps=200)
    idx = torch.arange(200)
    table = ddpm.alpha(idx) ** 2
    wrapped = Schedule.from_alphas_cumprod(table)
    torch.testing.assert_close(wrapped.alpha(idx), ddpm.alpha(idx))
    torch.testing.assert_close(wrapped.sigma(idx[1:]), ddpm.sigma(idx[1:]), rtol=1e-9, atol=0)
    assert wrapped.discrete and wrapped.t_min == 0 and wrapped.t_max == 199
    assert wrapped == Schedule.from_alphas_cumprod(table.tolist())


@pytest.mark.parametrize("sched", DISCRETE, ids=_ids)
def test_discrete_tables_reject_bad_indices_and_g2(sched: Schedule) -> None:
    for bad in (0.5, -1, int(sched.t_max) + 1, float("nan")):
        with pytest.raises(InvalidArgument, match="`t`"):
            sched.alpha(bad)
    with pytest.raises(InvalidArgument, match="undefined for the discrete"):
        sched.g2(3)
    assert float(sched.alpha(3.0)) == float(sched.alpha(3))
    assert float(sched.alpha(torch.tensor(3))) == float(sched.alpha(3))


@pytest.mark.parametrize("sched", CONTINUOUS, ids=_ids)
def test_times_outside_the_domain_raise(sched: Schedule) -> None:
    span = sched.t_max - sched.t_min
    for bad in (sched.t_min - 0.01 * span, sched.t_max + 0.01 * span, float("nan")):
        with pytest.raises(InvalidArgument, match="`t`"):
            sched.sigma(torch.tensor([0.5 * (sched.t_min + sched.t_max), bad]))
    for bad_type in ("0.5", None, True):
        with pytest.raises(InvalidArgument, match="`t`"):
            sched.alpha(bad_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("sched", ALL, ids=_ids)
@pytest.mark.parametrize("n", [1, 2, 7, 32])
def test_grid_is_increasing_and_interior(sched: Schedule, n: int) -> None:
    g = sched.grid(n)
    assert g.shape == (n,)
    assert g.dtype == (torch.int64 if sched.discrete else F64)
    assert bool((g[1:] > g[:-1]).all())
    assert bool((g > sched.t_min).all() and (g < sched.t_max).all())
    assert bool(torch.isfinite(sched.alpha(g)).all())


def test_grid_rejects_bad_n() -> None:
    with pytest.raises(InvalidArgument, match="`n`"):
        Schedule.vp_linear().grid(0)
    with pytest.raises(InvalidArgument, match="`n`"):
        Schedule.ddpm(num_train_timesteps=10).grid(9)


@pytest.mark.parametrize("sched", ALL, ids=_ids)
def test_output_follows_the_input_dtype_and_device(sched: Schedule, device: str) -> None:
    """float32 on any device agrees with float64 on CPU within numeric.tolerance."""
    t64 = sched.grid(8)
    t = t64.to(device) if sched.discrete else t64.to(device=device, dtype=torch.float32)
    want = t64.to(F64) if sched.discrete else t.to(F64).cpu()
    for name in ("alpha", "sigma", "log_snr") + (() if sched.discrete else ("g2",)):
        got = getattr(sched, name)(t)
        assert got.device.type == torch.device(device).type
        assert got.dtype == (F64 if sched.discrete else torch.float32)
        tol = numeric.tolerance(got.dtype, device)
        torch.testing.assert_close(got.cpu().to(F64), getattr(sched, name)(want),
                                   rtol=tol.rtol, atol=tol.atol)


def test_float_t_at_the_bounds_is_accepted_in_float32() -> None:
    for sched in CONTINUOUS:
        hi = torch.tensor(sched.t_max, dtype=torch.float32)
        assert bool(torch.isfinite(sched.sigma(hi)))


def test_schedules_are_immutable_values() -> None:
    s = Schedule.vp_linear()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.t_min = 0.0  # type: ignore[misc]
    assert s == Schedule.vp_linear(0.1, 20.0) and hash(s) == hash(Schedule.vp_linear())
    assert s != Schedule.sub_vp() and s != Schedule.vp_linear(beta_max=10.0)
    assert len({*ALL}) == len(ALL)
    assert repr(s) == "Schedule.vp_linear(beta_min=0.1, beta_max=20.0)"


@pytest.mark.parametrize("name,params", [
    ("vp_linear", {}), ("vp_cosine", {"s": 0.01}), ("ve", {"sigma_max": 10.0}), ("sub_vp", {}),
    ("edm", {}), ("rectified_flow", {}), ("ddpm", {"num_train_timesteps": 10})])
def test_named_builds_the_same_schedule(name: str, params: dict[str, float]) -> None:
    assert Schedule.named(name, **params) == getattr(Schedule, name)(**params)


def test_named_rejects_unknown_names_and_params() -> None:
    with pytest.raises(InvalidArgument, match="`name`"):
        Schedule.named("vp_quadratic")
    with pytest.raises(InvalidArgument, match="`params`"):
        Schedule.named("ve", beta_max=3.0)


def test_from_functions_matches_the_builtin_and_computes_g2_by_autograd() -> None:
    b0, b1 = 0.1, 20.0

    def alpha(t: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.25 * t**2 * (b1 - b0) - 0.5 * t * b0)

    def sigma(t: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(1 - alpha(t) ** 2)

    custom = Schedule.from_functions(alpha, sigma, name="my_vp", t_min=1e-3)
    vp = Schedule.vp_linear(b0, b1)
    t = custom.grid(10)
    for name in ("alpha", "sigma", "log_snr"):
        torch.testing.assert_close(getattr(custom, name)(t), getattr(vp, name)(t))
    torch.testing.assert_close(custom.g2(t), vp.g2(t), rtol=1e-9, atol=0)
    assert custom.name == "my_vp" and not custom.discrete
    assert custom == Schedule.from_functions(alpha, sigma, name="my_vp", t_min=1e-3)


def test_from_object_wraps_duck_typed_schedules() -> None:
    class Linear:
        name = "rf_like"
        t_min, t_max = 0.01, 0.99

        def alpha(self, t: torch.Tensor) -> torch.Tensor:
            return 1 - t

        def sigma(self, t: torch.Tensor) -> torch.Tensor:
            return t

    wrapped = Schedule.from_object(Linear())
    rf = Schedule.rectified_flow()
    t = wrapped.grid(5)
    torch.testing.assert_close(wrapped.g2(t), rf.g2(t), rtol=1e-12, atol=0)
    assert wrapped.name == "rf_like" and (wrapped.t_min, wrapped.t_max) == (0.01, 0.99)
    assert Schedule.from_object(rf) is rf
    obj = Linear()
    assert Schedule.from_object(obj) == Schedule.from_object(obj) != wrapped
    with pytest.raises(InvalidArgument, match="`schedule`"):
        Schedule.from_object(object())


def test_from_functions_reports_non_finite_outputs_and_non_differentiable_g2() -> None:
    s = Schedule.from_functions(lambda t: 1 / (t - 0.5), lambda t: t, t_min=0.1)
    with pytest.raises(InvalidArgument, match="`alpha`"):
        s.alpha(torch.tensor([0.5]))
    flat = Schedule.from_functions(lambda t: 0.5, lambda t: float(t.detach().sum() * 0 + 1))
    with pytest.raises(InvalidArgument, match="`g2`"):
        flat.g2(0.5)


@given(st.floats(0.0, 5.0), st.floats(0.01, 50.0), st.floats(0.0, 1.0))
def test_vp_and_subvp_hold_for_any_betas(b0: float, width: float, u: float) -> None:
    vp, sub = Schedule.vp_linear(b0, b0 + width), Schedule.sub_vp(b0, b0 + width)
    t = vp.t_min + u * (vp.t_max - vp.t_min)
    a, s = vp.alpha(t), vp.sigma(t)
    assert float(a**2 + s**2) == pytest.approx(1.0, abs=1e-12)
    assert float(sub.g2(t)) == pytest.approx(float(vp.g2(t) * (1 - a**4)), rel=1e-10)
    assert float(sub.sigma(t)) <= float(s) + 1e-15  # sub-VP: σ = 1 − α² ≤ √(1 − α²)


@pytest.mark.parametrize("kwargs,argument", [
    ({"beta_min": -0.1}, "beta_min"), ({"beta_max": 0.0, "beta_min": 0.0}, "beta_max"),
    ({"beta_min": 5.0, "beta_max": 1.0}, "beta_max"), ({"beta_min": float("nan")}, "beta_min"),
])
def test_bad_vp_parameters_raise(kwargs: dict[str, float], argument: str) -> None:
    with pytest.raises(InvalidArgument, match=f"`{argument}`"):
        Schedule.vp_linear(**kwargs)


@pytest.mark.parametrize("build,argument", [
    (lambda: Schedule.ve(sigma_min=0.0), "sigma_min"),
    (lambda: Schedule.ve(sigma_min=2.0, sigma_max=1.0), "sigma_max"),
    (lambda: Schedule.edm(sigma_max=float("inf")), "sigma_max"),
    (lambda: Schedule.vp_cosine(s=-0.1), "s"),
    (lambda: Schedule.ddpm(num_train_timesteps=1), "num_train_timesteps"),
    (lambda: Schedule.ddpm(num_train_timesteps=10.5), "num_train_timesteps"),  # type: ignore[arg-type]
    (lambda: Schedule.ddpm(beta_schedule="sigmoid"), "beta_schedule"),
    (lambda: Schedule.ddpm(beta_start=0.1, beta_end=0.01), "beta_end"),
    (lambda: Schedule.ddpm(beta_start=0.0), "beta_start"),
    (lambda: Schedule.from_alphas_cumprod([0.9, 0.5, 0.0]), "alphas_cumprod"),
    (lambda: Schedule.from_alphas_cumprod([0.5, 0.9]), "alphas_cumprod"),
    (lambda: Schedule.from_alphas_cumprod([[0.9, 0.5]]), "alphas_cumprod"),
    (lambda: Schedule.from_alphas_cumprod([0.9, float("nan")]), "alphas_cumprod"),
    (lambda: Schedule.from_functions(1.0, lambda t: t), "alpha"),  # type: ignore[arg-type]
    (lambda: Schedule.from_functions(lambda t: t, lambda t: t, t_min=1.0, t_max=0.5), "t_max"),
])
def test_bad_schedule_parameters_raise(build: Callable[[], object], argument: str) -> None:
    with pytest.raises(InvalidArgument, match=f"`{argument}`"):
        build()


@pytest.mark.parametrize("sched", CONTINUOUS, ids=_ids)
def test_g2_by_autograd_through_the_schedule(sched: Schedule) -> None:
    """Autograd flows through α(t), σ(t): −σ² dλ/dt by backprop equals g²."""
    t = sched.grid(7).requires_grad_(True)
    (dlam,) = torch.autograd.grad(sched.log_snr(t).sum(), t)
    torch.testing.assert_close(-sched.sigma(t).detach() ** 2 * dlam, sched.g2(t).detach(),
                               rtol=1e-9, atol=0.0)


def test_numpy_times_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    vp = Schedule.vp_linear()
    assert float(vp.alpha(np.float32(0.5))) == pytest.approx(float(vp.alpha(0.5)), rel=1e-7)
    torch.testing.assert_close(vp.sigma(np.array([0.25, 0.5])),
                               vp.sigma(torch.tensor([0.25, 0.5], dtype=F64)))
    assert float(Schedule.ddpm().alpha(np.int64(7))) == float(Schedule.ddpm().alpha(7))
