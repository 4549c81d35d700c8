"""The explicit fuzz cases, one list per area (mirrored by ``tests/fuzz/test_<area>.py``)."""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import numeric
from numeric import EmpiricalDistribution, GaussianMixture, Schedule

from ._harness import Case, cli, close, finite, usage_error

F64, F32, F16 = torch.float64, torch.float32, torch.float16
BIG_SEED = 2**64


def _absent_device() -> str:
    """An accelerator type torch reports absent here (CUDA on a CPU machine; else another)."""
    for kind in ("cuda", "xpu", "mps"):
        backend = getattr(torch, kind, None)
        if backend is None or not backend.is_available():
            return kind
    return "cuda:99"


ABSENT = _absent_device()


def _mix2(dtype: torch.dtype = F64) -> GaussianMixture:
    return GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [1.0, 1.0], dtype=dtype)


def _mix3d() -> GaussianMixture:
    return GaussianMixture([0.3, 0.7], _z(2, 3), torch.ones(2, 3))


def _z(*shape: int) -> torch.Tensor:
    return torch.zeros(shape, dtype=F64)


def _x03() -> torch.Tensor:
    return torch.tensor([[0.3]], dtype=F64)


def _complex_np(shape: tuple[int, ...]) -> np.ndarray:
    return np.ones(shape) * (1 + 1j)


def _unchanged(before: Callable[[], torch.Tensor]) -> Callable[[], bool]:
    first = before().clone()
    return lambda: bool(torch.equal(before(), first))


# ---- mixture ----------------------------------------------------------------------------------
def mixture_cases() -> list[Case]:
    a = "mixture"
    cases = [
        Case(a, "sample_more_than_memory", lambda: _mix2().sample(10**12, generator=0),
             argument="n"),
        Case(a, "score_mean_1e160", lambda: GaussianMixture([1.0], [[1e160]], [1.0]).score_t(
            _z(1, 1), 1, 0.5), "ok", check=lambda v: close(v, 1e160 / 1.25)),
        Case(a, "score_means_pm1e160", lambda: GaussianMixture(
            [0.5, 0.5], [[1e160], [-1e160]], [1.0, 1.0]).score_t(_z(1, 1), 1, 0.5),
            "ok", check=finite),
        Case(a, "constant_sigma_1e160", lambda: _mix2().constant(1, 1e160), "ok",
             check=lambda v: finite(v) and float(v) >= 0),
        Case(a, "constant_sigma_1e-160", lambda: _mix2().constant(1, 1e-160), "ok_or_error",
             check=lambda v: finite(v) and float(v) > 0),
        Case(a, "score_sigma_1e-160", lambda: _mix2().score_t(_x03(), 1, 1e-160),
             "ok", check=finite),
        Case(a, "score_sigma_1e160", lambda: _mix2().score_t(_x03(), 1, 1e160),
             "ok", check=finite),
        Case(a, "log_prob_sigma_1e160", lambda: _mix2().log_prob_t(
            _x03(), 1, 1e160), "ok",
            check=lambda v: close(v, -0.5 * float(np.log(2 * np.pi)) - float(np.log(1e160)),
                                  1e-6)),
        Case(a, "posterior_mean_1e160", lambda: GaussianMixture([1.0], [[1e160]], [1.0])
             .posterior(_z(1, 1), 1, 0.5).mean, "ok", check=finite),
        Case(a, "fisher_sigma_1e160", lambda: _mix2().fisher_information(1, 1e160), "ok",
             check=lambda v: finite(v) and float(v) >= 0),
        Case(a, "marginal_sigma_1e160", lambda: _mix2().marginal(1, 1e160), argument="sigma"),
        Case(a, "marginal_sigma_1e100", lambda: _mix2().marginal(1, 1e100).covs, "ok",
             check=lambda c: finite(c) and bool((c > 0).all())),
        Case(a, "sample_mean_1e160", lambda: GaussianMixture([1.0], [[1e160]], [1.0]).sample(
            4, generator=0), "ok", check=finite),
        Case(a, "float32_mean_1e39", lambda: GaussianMixture([1.0], [[1e39]], [1.0], dtype=F32),
             argument="means"),
        Case(a, "float16_cov_1e-9", lambda: GaussianMixture([1.0], [[0.0]], [1e-9], dtype=F16),
             argument="covs"),
        Case(a, "float32_cov_1e39", lambda: GaussianMixture([1.0], [[0.0]], [1e39], dtype=F32),
             argument="covs"),
        Case(a, "to_float16_mean_1e5", lambda: GaussianMixture([1.0], [[1e5]], [1.0]).to(
            dtype=F16), argument="means"),
        Case(a, "complex_numpy_means", lambda: GaussianMixture([1.0], _complex_np((1, 1)), [1.0]),
             argument="means"),
        Case(a, "complex_numpy_covs", lambda: GaussianMixture([1.0], [[0.0]], _complex_np((1,))),
             argument="covs"),
        Case(a, "complex_numpy_weights", lambda: GaussianMixture(_complex_np((1,)), [[0.0]],
                                                                 [1.0]), argument="weights"),
        Case(a, "complex_torch_means", lambda: GaussianMixture(
            [1.0], torch.ones(1, 1, dtype=torch.complex128), [1.0]), argument="means"),
        Case(a, "weights_none", lambda: GaussianMixture(None, [[0.0]], [1.0]),
             argument="weights"),
        Case(a, "means_str", lambda: GaussianMixture([1.0], "abc", [1.0]), argument="means"),
        Case(a, "covs_shape", lambda: GaussianMixture([1.0], [[0.0]], [[1.0, 1.0]]),
             argument="covs"),
        Case(a, "covs_not_pd", lambda: GaussianMixture([1.0], [[0.0, 0.0]],
                                                       [[[1.0, 2.0], [2.0, 1.0]]]),
             argument="covs"),
        Case(a, "device_cuda_absent", lambda: GaussianMixture([1.0], [[0.0]], [1.0],
                                                              device=ABSENT),
             argument="device"),
        Case(a, "device_bogus", lambda: GaussianMixture([1.0], [[0.0]], [1.0], device="nope"),
             argument="device"),
        Case(a, "dtype_int", lambda: GaussianMixture([1.0], [[0.0]], [1.0], dtype=torch.int32),
             argument="dtype"),
        Case(a, "dtype_str", lambda: GaussianMixture([1.0], [[0.0]], [1.0], dtype="float64"),
             argument="dtype"),
        Case(a, "score_nan_xt", lambda: _mix2().score_t(_z(1, 1) * float("nan"), 1, 1),
             argument="xt"),
        Case(a, "score_alpha_0", lambda: _mix2().score_t(_z(1, 1), 0.0, 1.0),
             argument="alpha"),
        Case(a, "score_sigma_nan", lambda: _mix2().score_t(_z(1, 1), 1.0, float("nan")),
             argument="sigma"),
        Case(a, "score_sigma_str", lambda: _mix2().score_t(_z(1, 1), 1.0, "a"),
             argument="sigma"),
        Case(a, "score_sigma_complex_np", lambda: _mix2().score_t(
            _z(1, 1), 1.0, np.complex128(1 + 1j)), argument="sigma"),
        Case(a, "score_xt_complex_np", lambda: _mix2().score_t(_complex_np((1, 1)), 1.0, 1.0),
             argument="xt"),
        Case(a, "score_xt_complex_torch", lambda: _mix2().score_t(
            torch.ones(1, 1, dtype=torch.complex128), 1.0, 1.0), argument="xt"),
        Case(a, "score_xt_float32", lambda: _mix2().score_t(torch.zeros(1, 1, dtype=F32), 1, 1),
             argument="xt"),
        Case(a, "score_xt_wrong_dim", lambda: _mix2().score_t(_z(1, 2), 1, 1),
             argument="xt"),
        Case(a, "score_xt_list", lambda: _mix2().score_t([[0.0]], 1, 1), "ok", check=finite),
        Case(a, "sample_n_0", lambda: _mix2().sample(0, generator=0), argument="n"),
        Case(a, "sample_generator_none", lambda: _mix2().sample(2, generator=None),
             argument="generator"),
        Case(a, "sample_seed_2**64", lambda: _mix2().sample(2, generator=BIG_SEED),
             argument="generator"),
        Case(a, "sample_seed_negative", lambda: _mix2().sample(2, generator=-1),
             argument="generator"),
        Case(a, "sample_float16", lambda: _mix2(F16).sample(4, generator=0), "ok",
             check=finite),
        Case(a, "constant_n_1", lambda: _mix2().constant(1, 1, n=1), argument="n"),
        Case(a, "constant_seed_2**64", lambda: _mix2().constant(1, 1, generator=BIG_SEED),
             argument="generator"),
    ]
    mix = _mix2()
    cases.append(Case(a, "means_property_add_", lambda: mix.means.add_(5.0), "ok_or_error",
                      after=_unchanged(lambda: mix.score_t(_x03(), 1, 1))))
    cases.append(Case(a, "covs_property_mul_", lambda: mix.covs.mul_(5.0), "ok_or_error",
                      after=_unchanged(lambda: mix.score_t(_x03(), 1, 1))))
    cases.append(Case(a, "weights_property_mul_", lambda: mix.weights.mul_(0.0), "ok_or_error",
                      after=_unchanged(lambda: mix.score_t(_x03(), 1, 1))))
    means = torch.tensor([[-1.0], [1.0]], dtype=F64)
    shared = GaussianMixture([0.5, 0.5], means, [1.0, 1.0])
    cases.append(Case(a, "caller_means_add_", lambda: means.add_(5.0), "ok",
                      after=_unchanged(lambda: shared.score_t(_x03(), 1, 1))))
    covs = torch.ones(2, dtype=F64)
    shared2 = GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], covs)
    cases.append(Case(a, "caller_covs_mul_", lambda: covs.mul_(9.0), "ok",
                      after=_unchanged(lambda: shared2.score_t(_x03(), 1, 1))))
    return cases


# ---- empirical --------------------------------------------------------------------------------
def _emp() -> EmpiricalDistribution:
    return EmpiricalDistribution([[0.0], [1.0]])


def empirical_cases() -> list[Case]:
    a = "empirical"
    cases = [
        Case(a, "sample_more_than_memory", lambda: _emp().sample(10**13, generator=0),
             argument="n"),
        Case(a, "score_sigma_1e-160_midpoint", lambda: _emp().score_t([[0.5]], 1, 1e-160), "ok",
             check=lambda v: finite(v) and float(v.abs().max()) == 0.0),
        Case(a, "score_sigma_1e-160_offcentre", lambda: _emp().score_t([[0.4]], 1, 1e-160),
             "ok_or_error", check=finite),
        Case(a, "log_prob_sigma_1e-160", lambda: _emp().log_prob_t([[0.4]], 1, 1e-160),
             "ok_or_error", check=finite),
        Case(a, "posterior_sigma_1e-160", lambda: _emp().posterior([[0.4]], 1, 1e-160).weights,
             "ok", check=lambda w: finite(w) and close(w.sum(), 1.0)),
        Case(a, "denoise_sigma_1e-160", lambda: _emp().denoise([[0.4]], 1, 1e-160), "ok",
             check=lambda v: close(v, 0.0) or float(v.abs().max()) == 0.0),
        Case(a, "score_sigma_1e160", lambda: _emp().score_t([[0.4]], 1, 1e160), "ok",
             check=finite),
        Case(a, "log_prob_sigma_1e160", lambda: _emp().log_prob_t([[0.4]], 1, 1e160), "ok",
             check=finite),
        Case(a, "constant_sigma_1e160", lambda: _emp().constant(1, 1e160), "ok",
             check=lambda v: finite(v) and float(v) >= 0),
        Case(a, "points_1e160", lambda: EmpiricalDistribution([[1e160], [-1e160]]).score_t(
            [[0.0]], 1, 1.0), "ok", check=finite),
        Case(a, "float32_points_1e39", lambda: EmpiricalDistribution([[1e39]], dtype=F32),
             argument="points"),
        Case(a, "complex_numpy_points", lambda: EmpiricalDistribution(_complex_np((2, 1))),
             argument="points"),
        Case(a, "points_none", lambda: EmpiricalDistribution(None), argument="points"),
        Case(a, "weights_wrong_size", lambda: EmpiricalDistribution([[0.0], [1.0]],
                                                                    weights=[1.0]),
             argument="weights"),
        Case(a, "device_cuda_absent", lambda: EmpiricalDistribution([[0.0]], device=ABSENT),
             argument="device"),
        Case(a, "score_xt_complex_np", lambda: _emp().score_t(_complex_np((1, 1)), 1, 1),
             argument="xt"),
        Case(a, "sample_seed_2**64", lambda: _emp().sample(2, generator=BIG_SEED),
             argument="generator"),
    ]
    emp = _emp()
    cases.append(Case(a, "points_property_add_", lambda: emp.points.add_(5.0), "ok_or_error",
                      after=_unchanged(lambda: emp.score_t([[0.3]], 1, 1))))
    pts = torch.tensor([[0.0], [1.0]], dtype=F64)
    shared = EmpiricalDistribution(pts)
    cases.append(Case(a, "caller_points_add_", lambda: pts.add_(5.0), "ok",
                      after=_unchanged(lambda: shared.score_t([[0.3]], 1, 1))))
    return cases


# ---- schedules --------------------------------------------------------------------------------
def _raise(_t: Any) -> Any:
    return 1 / 0


def schedules_cases() -> list[Case]:
    a = "schedules"
    ve = Schedule.ve
    return [
        Case(a, "ve_1e-200_1e200_sigma0", lambda: ve(1e-200, 1e200).sigma(0.0), "ok",
             check=lambda v: close(v, 1e-200, 1e-9)),
        Case(a, "ve_1e-200_1e200_sigma1", lambda: ve(1e-200, 1e200).sigma(1.0), "ok",
             check=lambda v: close(v, 1e200, 1e-9)),
        Case(a, "ve_1e-200_1e200_sigma_half", lambda: ve(1e-200, 1e200).sigma(0.5), "ok",
             check=lambda v: close(v, 1.0, 1e-9)),
        Case(a, "ve_1e-200_1e200_g2", lambda: ve(1e-200, 1e200).g2(0.1), "ok_or_error",
             check=finite),
        Case(a, "ve_1e-200_1e200_log_snr", lambda: ve(1e-200, 1e200).log_snr(0.0), "ok",
             check=lambda v: close(v, 2 * 460.517018598809, 1e-9)),
        Case(a, "cosine_s_1e17_alpha", lambda: Schedule.vp_cosine(s=1e17).alpha(0.5), "ok",
             check=lambda v: close(v, 0.5, 1e-6)),
        Case(a, "cosine_s_1e17_sigma", lambda: Schedule.vp_cosine(s=1e17).sigma(0.5), "ok",
             check=lambda v: close(v, 0.75**0.5, 1e-6)),
        Case(a, "cosine_s_1e300_alpha", lambda: Schedule.vp_cosine(s=1e300).alpha(0.25), "ok",
             check=lambda v: close(v, 0.75, 1e-6)),
        Case(a, "cosine_s_0_alpha", lambda: Schedule.vp_cosine(s=0.0).alpha(0.5), "ok",
             check=lambda v: close(v, float(np.cos(np.pi / 4)), 1e-12)),
        Case(a, "ve_sigma_float16_t", lambda: ve(1e-200, 1e200).sigma(
            torch.tensor(0.0, dtype=F16)), argument="t"),
        Case(a, "ve_g2_float32_t", lambda: ve(1e-3, 1e30).g2(torch.tensor(1.0, dtype=F32)),
             argument="t"),
        Case(a, "edm_1e-160_1e160", lambda: Schedule.edm(1e-160, 1e160).sigma(1e-160), "ok",
             check=lambda v: close(v, 1e-160)),
        Case(a, "from_functions_wrong_shape", lambda: Schedule.from_functions(
            lambda t: torch.ones(3), lambda t: t).alpha(0.5), argument="alpha"),
        Case(a, "from_functions_string", lambda: Schedule.from_functions(
            lambda t: "a", lambda t: t).alpha(0.5), argument="alpha"),
        Case(a, "from_functions_numpy", lambda: Schedule.from_functions(
            lambda t: np.ones(1), lambda t: t).alpha(0.5), "ok_or_error",
            check=lambda v: close(v, 1.0)),
        Case(a, "from_functions_raises", lambda: Schedule.from_functions(
            _raise, lambda t: t).alpha(0.5), argument="alpha"),
        Case(a, "from_functions_sigma_raises", lambda: Schedule.from_functions(
            lambda t: 1 - t, _raise).sigma(0.5), argument="sigma"),
        Case(a, "from_functions_complex", lambda: Schedule.from_functions(
            lambda t: t * 1j, lambda t: t).alpha(0.5), argument="alpha"),
        Case(a, "from_functions_g2_raises", lambda: Schedule.from_functions(
            lambda t: 1 - t, lambda t: t, g2=_raise).g2(0.5), argument="g2"),
        Case(a, "named_list", lambda: Schedule.named(["vp_linear"]), argument="name"),
        Case(a, "named_bogus", lambda: Schedule.named("bogus"), argument="name"),
        Case(a, "named_bad_param", lambda: Schedule.named("ve", sigma_min="a"),
             argument="sigma_min"),
        Case(a, "vp_beta_nan", lambda: Schedule.vp_linear(beta_max=float("nan")),
             argument="beta_max"),
        Case(a, "t_complex_np", lambda: Schedule.vp_linear().alpha(np.complex128(0.5)),
             argument="t"),
        Case(a, "t_complex_array", lambda: Schedule.vp_linear().alpha(_complex_np((2,))),
             argument="t"),
        Case(a, "t_string", lambda: Schedule.vp_linear().alpha("a"), argument="t"),
        Case(a, "t_outside", lambda: Schedule.vp_linear().alpha(2.0), argument="t"),
        Case(a, "t_none", lambda: Schedule.vp_linear().alpha(None), argument="t"),
        Case(a, "table_complex_np", lambda: Schedule.from_alphas_cumprod(_complex_np((3,)) / 2),
             argument="alphas_cumprod"),
        Case(a, "ddpm_bad_kind", lambda: Schedule.ddpm(beta_schedule=5),
             argument="beta_schedule"),
        Case(a, "ddpm_2_steps_grid", lambda: Schedule.ddpm(num_train_timesteps=2).grid(8),
             argument="n"),
        Case(a, "grid_zero", lambda: Schedule.vp_linear().grid(0), argument="n"),
    ]


# ---- estimators -------------------------------------------------------------------------------
def _net(dim: int = 1, dtype: torch.dtype = F64) -> torch.nn.Module:
    return numeric.random_score_network(0, dim, width=8, dtype=dtype)


def _const(x: torch.Tensor, t: Any) -> torch.Tensor:
    return torch.zeros_like(x)


def _zero_is_zero(est: Any) -> bool:
    return finite(est.value) and float(est.value.abs()) == 0.0


def estimators_cases() -> list[Case]:
    a = "estimators"
    vp = Schedule.vp_linear()
    m = _mix2
    return [
        Case(a, "sm_exact_model_none", lambda: numeric.sm_exact(None, m(), vp, 0.5),
             argument="model"),
        Case(a, "sm_exact_model_str", lambda: numeric.sm_exact("net", m(), vp, 0.5),
             argument="model"),
        Case(a, "sm_exact_t_str", lambda: numeric.sm_exact(_net(), m(), vp, "a"),
             argument="t"),
        Case(a, "sm_exact_t_nan_pair", lambda: numeric.sm_exact(_net(), m(), (1.0, 0.5),
                                                                float("nan")), argument="t"),
        Case(a, "sm_exact_sigma_0", lambda: numeric.sm_exact(_net(), m(), (1.0, 0.0), 0.5),
             argument="sigma"),
        Case(a, "sm_exact_distribution_str", lambda: numeric.sm_exact(_net(), "mix", vp, 0.5),
             argument="distribution"),
        Case(a, "sm_exact_model_wrong_dim", lambda: numeric.sm_exact(_net(2), m(), vp, 0.5),
             argument="model"),
        Case(a, "sm_exact_model_float32", lambda: numeric.sm_exact(_net(1, F32), m(), vp, 0.5),
             argument="model"),
        Case(a, "sm_exact_xt_list", lambda: numeric.sm_exact(_net(), m(), vp, 0.5,
                                                             xt=[[0.0]]), argument="xt"),
        Case(a, "sm_exact_xt_nan", lambda: numeric.sm_exact(
            _net(), m(), vp, 0.5, xt=_z(1, 1) * float("nan")), argument="xt"),
        Case(a, "sm_exact_seed_2**64", lambda: numeric.sm_exact(_net(), m(), vp, 0.5,
                                                                generator=BIG_SEED),
             argument="generator"),
        Case(a, "sm_exact_model_nan", lambda: numeric.sm_exact(
            lambda x, t: x * float("nan"), m(), vp, 0.5), argument="model"),
        Case(a, "sm_exact_float16", lambda: numeric.sm_exact(_net(1, F16), m(F16), vp, 0.5,
                                                             n=16), "ok_or_error",
             check=lambda e: finite(e.value)),
        Case(a, "dsm_mc_schedule_str", lambda: numeric.dsm_mc(_net(), m(), "vp", 0.5),
             argument="schedule"),
        Case(a, "dsm_mc_seed_2**64", lambda: numeric.dsm_mc(_net(), m(), vp, 0.5,
                                                            generator=BIG_SEED),
             argument="generator"),
        Case(a, "implicit_constant_model", lambda: numeric.implicit_sm(_const, m(), vp, 0.5,
                                                                       n=8),
             "ok", check=_zero_is_zero),
        Case(a, "sliced_constant_model", lambda: numeric.sliced_sm(_const, m(), vp, 0.5, n=8),
             "ok", check=_zero_is_zero),
        Case(a, "sliced_bad_projection", lambda: numeric.sliced_sm(_net(), m(), vp, 0.5, n=8,
                                                                   projection="bogus"),
             argument="projection"),
        Case(a, "implicit_model_wrong_dim", lambda: numeric.implicit_sm(_net(2), m(), vp, 0.5,
                                                                        n=8),
             argument="model"),
        Case(a, "implicit_model_none", lambda: numeric.implicit_sm(None, m(), vp, 0.5, n=8),
             argument="model"),
        Case(a, "ratio_score_sigma_0", lambda: numeric.ratio_score(
            _z(1, 2, 1), _z(1, 3, 1), _z() + 1, _z()),
            argument="sigma"),
        Case(a, "ratio_score_nan", lambda: numeric.ratio_score(
            _z(1, 2, 1) * float("nan"), _z(1, 3, 1), _z() + 1,
            _z() + 1), argument="xt"),
        Case(a, "ratio_score_lists", lambda: numeric.ratio_score(
            [[[0.0]]], [[[0.0], [1.0]]], 1.0, 1.0), "ok_or_error", check=finite),
        Case(a, "ratio_score_float16", lambda: numeric.ratio_score(
            torch.zeros(1, 2, 1, dtype=F16), torch.zeros(1, 3, 1, dtype=F16), 1.0, 1.0),
            "ok_or_error", check=finite),
        Case(a, "ratio_score_mismatched_dim", lambda: numeric.ratio_score(
            _z(1, 2, 2), _z(1, 3, 1), 1.0, 1.0), argument="batch"),
        Case(a, "ratio_sm_batch_0", lambda: numeric.ratio_sm(_net(), m(), vp, 0.5,
                                                             batch_size=0),
             argument="batch_size"),
        Case(a, "coupled_seed_2**64", lambda: numeric.coupled_batch(m(), 1.0, 0.5, 4,
                                                                    generator=BIG_SEED),
             argument="generator"),
        Case(a, "coupled_distribution_str", lambda: numeric.coupled_batch("m", 1.0, 0.5, 4,
                                                                          generator=0),
             argument="distribution"),
        Case(a, "dsm_coupled_t_str", lambda: numeric.dsm_coupled(
            _net(), numeric.coupled_batch(m(), 1.0, 0.5, 4, generator=0), "a"), argument="t"),
        Case(a, "sm_coupled_batch_str", lambda: numeric.sm_coupled(_net(), "b", 0.5),
             argument="batch"),
        Case(a, "network_seed_2**64", lambda: numeric.random_score_network(BIG_SEED, 2),
             argument="seed"),
        Case(a, "network_bad_activation", lambda: numeric.random_score_network(
            0, 2, activation=["tanh"]), argument="activation"),
        Case(a, "network_device_cuda", lambda: numeric.random_score_network(
            0, 2, device=ABSENT), argument="device"),
        Case(a, "linear_score_float16_overflow", lambda: numeric.LinearScore(
            [[1e6]], [0.0], dtype=F16), argument="A"),
        Case(a, "linear_score_complex_np", lambda: numeric.LinearScore(
            _complex_np((1, 1)), [0.0]), argument="A"),
        Case(a, "polynomial_score_nan", lambda: numeric.PolynomialScore([float("nan")]),
             argument="coeffs"),
        Case(a, "tolerance_bad_device", lambda: numeric.tolerance(F64, "nope"),
             argument="device"),
        Case(a, "tolerance_float16", lambda: numeric.tolerance(F16), argument="dtype"),
    ]


# ---- guard ------------------------------------------------------------------------------------
VP = Schedule.vp_linear()


def eps_loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    a = VP.alpha(t).reshape(-1, 1).to(x0.dtype)
    s = VP.sigma(t).reshape(-1, 1).to(x0.dtype)
    return ((model(a * x0 + s * noise, t) - noise) ** 2).sum(1)


def eps_to_score(model: Any, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return -model(xt, t) / VP.sigma(t).reshape(-1, 1).to(xt.dtype)


def sigma_bug_loss(model: Any, x0: torch.Tensor, t: torch.Tensor,
                   noise: torch.Tensor) -> torch.Tensor:
    a = VP.alpha(t).reshape(-1, 1)
    s = VP.sigma(t).reshape(-1, 1)
    return ((model(a * x0 + s**2 * noise, t) - noise) ** 2).sum(1)


def _fast(**kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"n_samples": 16, "n_times": 3, "n_models": 2}
    out.update(kw)
    return out


def _check(loss: Any = eps_loss, to_score: Any = eps_to_score, schedule: Any = VP,
           **kw: Any) -> Any:
    return numeric.check_loss(loss, to_score, schedule, **_fast(**kw))


def _passes(report: Any) -> bool:
    return bool(report.ok)


def _fails(report: Any) -> bool:
    return not report.ok


def _inplace_finding(report: Any) -> bool:
    return not report.ok and any("in place" in f for f in report.findings)


def _mutating_to_score(model: Any, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    out = eps_to_score(model, xt, t)
    xt.mul_(1.5)
    return out


def _mutating_t_to_score(model: Any, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    out = eps_to_score(model, xt, t)
    t.mul_(0.5)
    return out


def _mutating_loss(model: Any, x0: torch.Tensor, t: torch.Tensor,
                   noise: torch.Tensor) -> torch.Tensor:
    out = eps_loss(model, x0, t, noise)
    noise.mul_(2.0)
    return out


def _complex_loss(model: Any, x0: torch.Tensor, t: torch.Tensor,
                  noise: torch.Tensor) -> torch.Tensor:
    return eps_loss(model, x0, t, noise).to(torch.complex128)


def _complex_to_score(model: Any, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return eps_to_score(model, xt, t).to(torch.complex128)


def _complex_add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    a = VP.alpha(t).reshape(-1, 1).to(x0.dtype)
    s = VP.sigma(t).reshape(-1, 1).to(x0.dtype)
    return (a * x0 + s * noise).to(torch.complex128)


def _raising_to_score(model: Any, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return model(x, t) / 0 if False else 1 / 0  # type: ignore[return-value]


def _implicit(model: Any, x: torch.Tensor) -> torch.Tensor:
    from numeric.guard._reference_losses import implicit_sm_loss

    return implicit_sm_loss(model, x)


def _sliced(model: Any, x: torch.Tensor) -> torch.Tensor:
    from numeric.guard._reference_losses import sliced_sm_loss

    return sliced_sm_loss(model, x)


def _score_identity(model: Any, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return model(x, t)


def _statistical(loss: Any = _sliced, **kw: Any) -> Any:
    return numeric.check_loss(loss, _score_identity, VP, statistical=True, n_samples=16,
                              n_models=3, **kw)


def _time_eps_loss(model: Any, x0: torch.Tensor) -> torch.Tensor:
    """A training step that draws t and ε itself from the global RNG (statistical='time')."""
    t = 0.02 + 0.96 * torch.rand(x0.shape[0], dtype=x0.dtype)
    a, s = VP.alpha(t)[:, None], VP.sigma(t)[:, None]
    eps = torch.randn_like(x0)
    return ((model(a * x0 + s * eps, t) - eps) ** 2).mean(-1)


def _time_mode() -> Any:
    return numeric.check_loss(_time_eps_loss, eps_to_score, VP, statistical="time",
                              n_samples=4, n_models=2)


def _same_in_threads(run: Callable[[], Any]) -> Callable[[], bool]:
    """Run ``run`` once alone, then 4 times at once in threads: every result must agree."""
    def call() -> bool:
        first = run()
        results: list[Any] = [None] * 4
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                results[i] = run()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if errors:
            raise errors[0]
        return all(r.residual == first.residual and r.weighting == first.weighting
                   for r in results)
    return call


def _edm_small_sigma() -> Any:
    from numeric.guard._reference_losses import reference_loss

    sched = Schedule.edm(sigma_min=1e-10, sigma_max=80.0)
    ref = reference_loss("edm", sched)
    return numeric.check_loss(ref.loss, ref.to_score, sched, times=[1e-10, 1e-6, 1e-2, 1.0, 80.0],
                              n_samples=32, n_models=3, expected_weighting="edm",
                              weighting_params={"sigma_data": 0.5})


def _edm_small_sigma_bug() -> Any:
    sched = Schedule.edm(sigma_min=1e-10, sigma_max=80.0)

    def loss(model: Any, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> Any:
        s = t.reshape(-1, 1)
        return ((model(x0 + s * noise, t) + noise / s**2) ** 2).sum(1) * t**2  # σ² for σ

    def to_score(model: Any, xt: torch.Tensor, t: torch.Tensor) -> Any:
        return model(xt, t)

    return numeric.check_loss(loss, to_score, sched, times=[1e-10, 1e-6, 1e-2, 1.0],
                              n_samples=32, n_models=3)


def guard_cases() -> list[Case]:
    a = "guard"
    return [
        Case(a, "correct_eps_passes", lambda: _check(), "ok", check=_passes),
        Case(a, "sigma_bug_fails", lambda: _check(sigma_bug_loss), "ok", check=_fails),
        Case(a, "rtol_nan", lambda: _check(sigma_bug_loss, rtol=float("nan")),
             argument="rtol"),
        Case(a, "rtol_negative", lambda: _check(rtol=-1.0), argument="rtol"),
        Case(a, "rtol_str", lambda: _check(rtol="1e-7"), argument="rtol"),
        Case(a, "rtol_inf", lambda: _check(sigma_bug_loss, rtol=float("inf")),
             argument="rtol"),
        Case(a, "rtol_zero", lambda: _check(rtol=0.0), argument="rtol"),
        Case(a, "complex_loss", lambda: _check(_complex_loss), argument="loss"),
        Case(a, "complex_to_score", lambda: _check(to_score=_complex_to_score),
             argument="to_score"),
        Case(a, "complex_add_noise", lambda: _check(schedule=_complex_add_noise),
             argument="schedule"),
        Case(a, "to_score_mutates_xt", lambda: _check(to_score=_mutating_to_score), "ok",
             check=_inplace_finding),
        Case(a, "to_score_mutates_t", lambda: _check(to_score=_mutating_t_to_score), "ok",
             check=_inplace_finding),
        Case(a, "loss_mutates_noise", lambda: _check(_mutating_loss), "ok",
             check=_inplace_finding),
        Case(a, "seed_2**64", lambda: _check(seed=BIG_SEED), argument="seed"),
        Case(a, "seed_negative", lambda: _check(seed=-1), argument="seed"),
        Case(a, "device_cuda_absent", lambda: _check(device=ABSENT), argument="device"),
        Case(a, "image_shape_str", lambda: _check(image_shape="abc"),
             argument="image_shape"),
        Case(a, "image_shape_float", lambda: _check(image_shape=(1.5, 2)),
             argument="image_shape"),
        Case(a, "expected_callable_raises", lambda: _check(expected_weighting=_raise),
             argument="expected_weighting"),
        Case(a, "expected_callable_wrong_shape", lambda: _check(
            expected_weighting=lambda t: torch.ones(7)), argument="expected_weighting"),
        Case(a, "expected_int", lambda: _check(expected_weighting=5),
             argument="expected_weighting"),
        Case(a, "weighting_params_bogus", lambda: _check(expected_weighting="edm",
                                                         weighting_params={"bogus": 1.0}),
             argument="weighting_params"),
        Case(a, "weighting_params_str", lambda: _check(weighting_params="x"),
             argument="weighting_params"),
        Case(a, "weighting_params_nan", lambda: _check(
            expected_weighting="edm", weighting_params={"sigma_data": float("nan")}),
            argument="weighting_params"),
        Case(a, "models_str", lambda: _check(models="ab"), argument="models"),
        Case(a, "models_none_items", lambda: _check(models=[None, None]), argument="models"),
        Case(a, "models_float32", lambda: _check(models=[_net(3, F32), _net(3, F32)]),
             argument="models"),
        Case(a, "models_wrong_dim", lambda: _check(models=[_net(4), _net(4)]),
             argument="models"),
        Case(a, "loss_none", lambda: _check(None), argument="loss"),
        Case(a, "schedule_int", lambda: _check(schedule=5), argument="schedule"),
        Case(a, "times_outside", lambda: _check(times=[2.0]), argument="times"),
        Case(a, "times_str", lambda: _check(times="abc"), argument="times"),
        Case(a, "times_complex_np", lambda: _check(times=_complex_np((2,)) / 4),
             argument="times"),
        Case(a, "n_samples_1", lambda: _check(n_samples=1), argument="n_samples"),
        Case(a, "n_times_0", lambda: _check(n_times=0), argument="n_times"),
        Case(a, "batch_size_0", lambda: _check(batch_size=0), argument="batch_size"),
        Case(a, "data_str", lambda: _check(data="x"), argument="data"),
        Case(a, "statistical_bogus", lambda: _check(statistical="x"), argument="statistical"),
        Case(a, "low_precision_bogus", lambda: _check(schedule=_plain_add_noise,
                                                      low_precision=("bf16",)),
             argument="low_precision"),
        Case(a, "dtype_int", lambda: _check(dtype=torch.int64), argument="dtype"),
        Case(a, "ddpm_2_steps_default_times", lambda: _check(
            schedule=Schedule.ddpm(num_train_timesteps=2)), argument="n_times"),
        Case(a, "statistical_to_score_raises", lambda: _statistical(
            to_score=None) if False else numeric.check_loss(
                _sliced, _raising_to_score, VP, statistical=True, n_samples=16, n_models=2),
             argument="to_score"),
        Case(a, "statistical_seed_2**64", lambda: _statistical(seed=BIG_SEED),
             argument="seed"),
        Case(a, "statistical_threads", _same_in_threads(_statistical), "ok",
             check=lambda same: same is True, timeout=240),
        Case(a, "time_threads", _same_in_threads(_time_mode), "ok",
             check=lambda same: same is True, timeout=240),
        Case(a, "coupled_threads", _same_in_threads(lambda: _check()), "ok",
             check=lambda same: same is True, timeout=240),
        Case(a, "edm_sigma_1e-10_correct", _edm_small_sigma, "ok", check=_passes,
             timeout=120),
        Case(a, "edm_sigma_1e-10_bug", _edm_small_sigma_bug, "ok", check=_fails,
             timeout=120),
    ]


def _plain_add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    a = VP.alpha(t).reshape(-1, 1).to(x0.dtype)
    s = VP.sigma(t).reshape(-1, 1).to(x0.dtype)
    return a * x0 + s * noise


# ---- cli --------------------------------------------------------------------------------------
_MODULE = '''
import torch
from numeric import Schedule
VP = Schedule.vp_linear()
def loss(model, x0, t, noise):
    a = VP.alpha(t).reshape(-1, 1); s = VP.sigma(t).reshape(-1, 1)
    return ((model(a * x0 + s * noise, t) - noise) ** 2).sum(1)
def to_score(model, xt, t):
    return -model(xt, t) / VP.sigma(t).reshape(-1, 1)
'''


def _workdir() -> str:
    path = tempfile.mkdtemp(prefix="smeq-fuzz-")
    with open(os.path.join(path, "fuzzmod.py"), "w", encoding="utf-8") as fh:
        fh.write(_MODULE)
    return path


def _guard(*extra: str) -> Callable[[], tuple[int, str, str]]:
    def run() -> tuple[int, str, str]:
        work = _workdir()
        argv = ["guard", "fuzzmod:loss", "--to-score", "fuzzmod:to_score", "--path", work,
                "--n-samples", "16", *[e.replace("{work}", work) for e in extra]]
        return cli(argv)
    return run


def _verify(*extra: str) -> Callable[[], tuple[int, str, str]]:
    def run() -> tuple[int, str, str]:
        work = tempfile.mkdtemp(prefix="smeq-fuzz-")
        open(os.path.join(work, "afile"), "w").close()
        argv = ["verify", "--quick", "--only", "sm_le_dsm",
                *[e.replace("{work}", work) for e in extra]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cli(argv)
    return run


def _prove(*extra: str) -> Callable[[], tuple[int, str, str]]:
    def run() -> tuple[int, str, str]:
        work = tempfile.mkdtemp(prefix="smeq-fuzz-")
        return cli(["prove", *[e.replace("{work}", work) for e in extra]])
    return run


def _plot_where_said(run: Callable[[], tuple[int, str, str]], name: str) -> Callable[[], bool]:
    def call() -> bool:
        work = _workdir()
        target = os.path.join(work, name)
        code, _, _ = cli(["guard", "fuzzmod:loss", "--to-score", "fuzzmod:to_score",
                              "--path", work, "--n-samples", "16", "--plot", target])
        return code == 0 and os.path.isfile(target) and sorted(os.listdir(work)) == sorted(
            ["fuzzmod.py", name, "__pycache__"] if os.path.isdir(
                os.path.join(work, "__pycache__")) else ["fuzzmod.py", name])
    return call


def cli_cases() -> list[Case]:
    a = "cli"
    return [
        Case(a, "verify_seed_negative", _verify("--seed", "-1"), "ok", check=usage_error),
        Case(a, "verify_seed_2**64", _verify("--seed", str(BIG_SEED)), "ok",
             check=usage_error),
        Case(a, "verify_out_existing_file", _verify("--out", "{work}/afile"), "ok",
             check=usage_error),
        Case(a, "verify_threads_0", _verify("--threads", "0"), "ok", check=usage_error),
        Case(a, "verify_only_bogus", _verify("--only", "bogus"), "ok", check=usage_error),
        Case(a, "verify_device_cuda", _verify("--device", ABSENT), "ok",
             check=usage_error),
        Case(a, "prove_only_bogus", _prove("--only", "bogus"), "ok", check=usage_error),
        Case(a, "prove_markdown_dir", _prove("--only", "sm_dsm[any-p0-1d]", "--markdown",
                                             "{work}"), "ok", check=usage_error),
        Case(a, "prove_markdown_missing_dir", _prove(
            "--only", "sm_dsm[any-p0-1d]", "--markdown", "{work}/no/such/x.md"), "ok",
            check=usage_error),
        Case(a, "guard_plot_dir", _guard("--plot", "{work}"), "ok", check=usage_error),
        Case(a, "guard_plot_bogus_ext", _guard("--plot", "{work}/x.bogusext"), "ok",
             check=usage_error),
        Case(a, "guard_plot_no_ext", _guard("--plot", "{work}/plot"), "ok",
             check=usage_error),
        Case(a, "guard_plot_png_exact", _plot_where_said(_guard(), "w.png"), "ok",
             check=lambda ok: ok is True),
        Case(a, "guard_seed_negative", _guard("--seed", "-1"), "ok", check=usage_error),
        Case(a, "guard_seed_2**64", _guard("--seed", str(BIG_SEED)), "ok", check=usage_error),
        Case(a, "guard_dim_0", _guard("--dim", "0"), "ok", check=usage_error),
        Case(a, "guard_image_shape_abc", _guard("--image-shape", "abc"), "ok",
             check=usage_error),
        Case(a, "guard_device_cuda", _guard("--device", ABSENT), "ok", check=usage_error),
        Case(a, "guard_times_abc", _guard("--times", "a,b"), "ok", check=usage_error),
        Case(a, "guard_n_samples_1", _guard("--n-samples", "1"), "ok", check=usage_error),
        Case(a, "guard_bogus_loss", lambda: cli(["guard", "nosuchmod:loss", "--to-score",
                                                 "x:y"]), "ok", check=usage_error),
        Case(a, "guard_passes", _guard(), "ok", check=lambda r: r[0] == 0),
    ]


# ---- plugin -----------------------------------------------------------------------------------
class _FakeConfig:
    def __init__(self, **options: str) -> None:
        self.options = options

    def getoption(self, name: str) -> Any:
        return self.options.get(name)

    def getini(self, name: str) -> Any:
        return None


def plugin_cases() -> list[Case]:
    import pytest

    import _smeq_pytestplugin as plugin

    a = "plugin"
    return [
        Case(a, "seed_2**64", lambda: plugin.read_config(_FakeConfig(smeq_seed=str(BIG_SEED))),
             error=pytest.UsageError),
        Case(a, "seed_negative", lambda: plugin.read_config(_FakeConfig(smeq_seed="-1")),
             error=pytest.UsageError),
        Case(a, "seed_text", lambda: plugin.read_config(_FakeConfig(smeq_seed="abc")),
             error=pytest.UsageError),
        Case(a, "device_bogus", lambda: plugin.read_config(_FakeConfig(smeq_device="tpu")),
             error=pytest.UsageError),
        Case(a, "seed_ok", lambda: plugin.read_config(_FakeConfig(smeq_seed=str(2**63 - 1))),
             "ok", check=lambda c: c.seed == 2**63 - 1),
    ]


# ---- strategies -------------------------------------------------------------------------------
def _draws(strategy: Any, n: int = 8) -> list[Any]:
    from hypothesis import HealthCheck, given, settings

    out: list[Any] = []

    @settings(max_examples=n, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(x: Any) -> None:
        out.append(x)

    draw()
    return out


def _strategy_error() -> type[BaseException]:
    from hypothesis.errors import InvalidArgument

    return InvalidArgument


def _valid_mixtures(mixtures: list[Any]) -> bool:
    for mix in mixtures:
        for v in (mix.weights, mix.means, mix.covs):
            if not bool(torch.isfinite(v).all()):
                return False
        if mix.cov_kind != "full" and not bool((mix.covs > 0).all()):
            return False
    return True


def strategies_cases() -> list[Case]:
    from numeric import strategies as sst

    a = "strategies"
    err = _strategy_error()
    return [
        Case(a, "tiny_std_float32", lambda: _valid_mixtures(_draws(sst.gaussian_mixtures(
            min_std=1e-30, max_std=1e-29, dtype=F32))), "ok_or_error", check=bool, error=err),
        Case(a, "tiny_std_float64", lambda: _valid_mixtures(_draws(sst.gaussian_mixtures(
            min_std=1e-200, max_std=1e-199))), "ok_or_error", check=bool, error=err),
        Case(a, "huge_std_float64", lambda: _valid_mixtures(_draws(sst.gaussian_mixtures(
            min_std=1.0, max_std=1e200))), "ok_or_error", check=bool, error=err),
        Case(a, "huge_mean_float32", lambda: _valid_mixtures(_draws(sst.gaussian_mixtures(
            max_mean=1e39, dtype=F32))), "ok_or_error", check=bool, error=err),
        Case(a, "ill_conditioned_full", lambda: _valid_mixtures(_draws(sst.gaussian_mixtures(
            min_std=1e-6, max_std=1e6, covariance="full"), 20)), "ok_or_error", check=bool,
            error=err),
        Case(a, "device_cuda_absent", lambda: _draws(sst.gaussian_mixtures(device=ABSENT)),
             error=err),
        Case(a, "kinds_unhashable", lambda: sst.noise_schedules(kinds=[["ve"]]), error=err),
        Case(a, "kinds_int", lambda: sst.noise_schedules(kinds=5), error=err),
        Case(a, "activations_unhashable", lambda: sst.score_networks(
            2, activations=[["tanh"]]), error=err),
        Case(a, "activations_int", lambda: sst.score_networks(2, activations=3), error=err),
        Case(a, "networks_device_cuda", lambda: _draws(sst.score_networks(2, device=ABSENT)),
             error=err),
        Case(a, "covariance_unhashable", lambda: sst.gaussian_mixtures(covariance=["full"]),
             error=err),
        Case(a, "times_not_schedule", lambda: sst.times("ve"), error=err),
        Case(a, "max_mean_nan", lambda: sst.gaussian_mixtures(max_mean=float("nan")),
             error=err),
        Case(a, "dim_huge", lambda: sst.gaussian_mixtures(min_dim=10**9, max_dim=10**9),
             error=err),
        Case(a, "sm_problems_draw", lambda: len(_draws(sst.sm_problems(), 3)) == 3, "ok",
             check=bool),
    ]


# ---- proofs -----------------------------------------------------------------------------------
def proofs_cases() -> list[Case]:
    import proofs

    a = "proofs"
    return [
        Case(a, "certify_int", lambda: proofs.certify(5), argument="names"),
        Case(a, "certify_str", lambda: proofs.certify("sm_dsm[any-p0-1d]"), argument="names"),
        Case(a, "certify_empty", lambda: proofs.certify([]), argument="names"),
        Case(a, "certify_unknown", lambda: proofs.certify(["bogus"]), argument="names"),
        Case(a, "certify_none_item", lambda: proofs.certify([None]), argument="names"),
        Case(a, "closed_form_int", lambda: proofs.closed_form(5), argument="name"),
        Case(a, "closed_form_sigma_zero",
             lambda: proofs.closed_form("gaussian_constant_1d")(alpha=1, sigma=0, tau=1),
             argument="sigma"),
        Case(a, "closed_form_nan",
             lambda: proofs.closed_form("gaussian_constant_1d")(alpha=np.nan, sigma=1, tau=1),
             argument="alpha"),
        Case(a, "closed_form_complex",
             lambda: proofs.closed_form("gaussian_constant_1d")(alpha=1j, sigma=1, tau=1),
             argument="alpha"),
        Case(a, "closed_form_string",
             lambda: proofs.closed_form("gaussian_constant_1d")(alpha="a", sigma=1, tau=1),
             argument="alpha"),
        Case(a, "closed_form_missing",
             lambda: proofs.closed_form("gaussian_constant_1d")(alpha=1, sigma=1),
             argument="values"),
        Case(a, "closed_form_overflow",
             lambda: proofs.closed_form("ve_sigma")(t=1.0, sigma_min=1e-300, sigma_max=1e300),
             argument="values"),
        Case(a, "closed_form_valid_array", expect="ok",
             call=lambda: proofs.closed_form("gaussian_constant_1d")(
                 alpha=np.array([0.5, 1.0]), sigma=0.3, tau=1.0),
             check=lambda v: bool(np.isfinite(v).all() and (v > 0).all())),
    ]


# ---- check_training_step ----------------------------------------------------------------------
def eps_step(model: Any, x0: torch.Tensor) -> torch.Tensor:
    """An unmodified ε-prediction training step: draws t and the noise itself."""
    t = torch.rand(x0.shape[0], dtype=x0.dtype) * 0.9 + 0.05
    noise = torch.randn_like(x0)
    a, s = VP.alpha(t).reshape(-1, 1), VP.sigma(t).reshape(-1, 1)
    return ((model(a * x0 + s * noise, t) - noise) ** 2).sum(1)


def _step(step: Any = eps_step, **kw: Any) -> Any:
    return numeric.check_training_step(step, eps_to_score, **_fast(**kw))


def _numpy_step(model: Any, x0: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(np.random.default_rng().uniform(0.05, 0.95, x0.shape[0]))
    noise = torch.randn_like(x0)
    a, s = VP.alpha(t).reshape(-1, 1), VP.sigma(t).reshape(-1, 1)
    return ((model(a * x0 + s * noise, t) - noise) ** 2).sum(1)


def _drawless_step(model: Any, x0: torch.Tensor) -> torch.Tensor:
    t = torch.full((x0.shape[0],), 0.5, dtype=x0.dtype)
    return (model(x0, t) ** 2).sum(1)


def step_cases() -> list[Case]:
    a = "step"
    return [
        Case(a, "correct_step_passes", lambda: _step(), "ok", check=_passes),
        Case(a, "seed_2_64", lambda: _step(seed=2**64), argument="seed"),
        Case(a, "seed_negative", lambda: _step(seed=-1), argument="seed"),
        Case(a, "rtol_nan", lambda: _step(rtol=float("nan")), argument="rtol"),
        Case(a, "rtol_negative", lambda: _step(rtol=-1.0), argument="rtol"),
        Case(a, "rtol_string", lambda: _step(rtol="1e-7"), argument="rtol"),
        Case(a, "step_not_callable", lambda: numeric.check_training_step(
            42, eps_to_score, **_fast()), argument="step"),
        Case(a, "to_score_not_callable", lambda: numeric.check_training_step(
            eps_step, None, **_fast()), argument="to_score"),
        Case(a, "numpy_draw_named", lambda: _step(_numpy_step), argument="step"),
        Case(a, "no_draw", lambda: _step(_drawless_step), argument="step"),
        Case(a, "n_samples_one", lambda: _step(n_samples=1), argument="n_samples"),
        Case(a, "device_absent", lambda: _step(device=_absent_device()), argument="device"),
    ]


AREAS: dict[str, Callable[[], list[Case]]] = {
    "cli": cli_cases,
    "empirical": empirical_cases,
    "estimators": estimators_cases,
    "guard": guard_cases,
    "mixture": mixture_cases,
    "plugin": plugin_cases,
    "proofs": proofs_cases,
    "schedules": schedules_cases,
    "step": step_cases,
    "strategies": strategies_cases,
}


def all_cases() -> list[Case]:
    return [case for build in AREAS.values() for case in build()]
