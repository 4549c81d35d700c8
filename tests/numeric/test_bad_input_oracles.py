"""Bad input to the oracles (issue item 9): every mistake raises a SmeqError subclass whose
message names the argument and proposes the fix. Fuzzed with Hypothesis where it helps."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from numeric import (
    DtypeError,
    EmpiricalDistribution,
    GaussianMixture,
    InvalidArgument,
    Schedule,
    ShapeError,
    SmeqError,
)

F64 = torch.float64


def raises(argument: str, call: Callable[[], Any], cls: type[SmeqError] = InvalidArgument) -> None:
    """``call()`` raises ``cls`` naming `argument` and giving a fix."""
    with pytest.raises(cls) as info:
        call()
    message = str(info.value)
    assert f"`{argument}`" in message, message
    assert re.search(r"Fix: \S", message), message


def mixture(k: int = 2, d: int = 2) -> GaussianMixture:
    return GaussianMixture(torch.full((k,), 1.0 / k), torch.zeros(k, d), torch.ones(k, d))


finite = st.floats(-10, 10, allow_nan=False)
positive_lists = st.lists(st.floats(0.01, 10.0), min_size=1, max_size=5)


# ---- the constructor ---------------------------------------------------------------------
@given(positive_lists, st.floats(0.0, 3.0))
def test_weights_not_summing_to_one(ws: list[float], scale: float) -> None:
    w = torch.tensor(ws, dtype=F64)
    w = scale * w / w.sum()
    assume(abs(float(w.sum()) - 1.0) > 1e-5)
    raises("weights", lambda: GaussianMixture(w, torch.zeros(len(ws), 1), torch.ones(len(ws))))


@given(positive_lists, st.integers(0, 4), st.floats(1e-3, 5.0))
def test_negative_weights(ws: list[float], where: int, minus: float) -> None:
    w = torch.tensor(ws, dtype=F64)
    w[where % len(ws)] = -minus
    k = len(ws)
    raises("weights", lambda: GaussianMixture(w, torch.zeros(k, 1), torch.ones(k)))


@given(st.sampled_from(["weights", "means", "covs"]), st.sampled_from([math.nan, math.inf]),
       st.sampled_from(["isotropic", "diagonal", "full"]))
def test_non_finite_parameters(argument: str, bad: float, kind: str) -> None:
    k, d = 2, 3
    params: dict[str, Any] = {
        "weights": torch.tensor([0.5, 0.5], dtype=F64), "means": torch.zeros(k, d),
        "covs": {"isotropic": torch.ones(k), "diagonal": torch.ones(k, d),
                 "full": torch.eye(d).expand(k, d, d).clone()}[kind]}
    params[argument] = params[argument].clone().to(F64)
    params[argument].view(-1)[0] = bad
    raises(argument, lambda: GaussianMixture(**params))


@given(st.sampled_from(["isotropic", "diagonal"]), st.floats(-5.0, 0.0))
def test_non_positive_variances(kind: str, bad: float) -> None:
    covs = torch.ones(2) if kind == "isotropic" else torch.ones(2, 3)
    covs.view(-1)[-1] = bad
    raises("covs", lambda: GaussianMixture([0.5, 0.5], torch.zeros(2, 3), covs))


@given(st.integers(0, 2**31 - 1), st.integers(2, 5), st.floats(1e-3, 1.0))
def test_asymmetric_covariance(seed: int, d: int, size: float) -> None:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=F64)
    cov = a @ a.T + torch.eye(d, dtype=F64)
    cov[0, 1] += size * float(cov.abs().max())
    raises("covs", lambda: GaussianMixture([1.0], torch.zeros(1, d), cov.unsqueeze(0)))


@given(st.integers(0, 2**31 - 1), st.integers(1, 5), st.floats(0.0, 5.0))
def test_covariance_not_positive_definite(seed: int, d: int, bad: float) -> None:
    """Σ = Q diag(λ) Qᵀ with one eigenvalue −bad ≤ 0 (0 included: singular)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=F64))
    lam = torch.rand(d, generator=g, dtype=F64) + 0.5
    lam[0] = -bad
    cov = q @ torch.diag(lam) @ q.T
    cov = 0.5 * (cov + cov.T)
    raises("covs", lambda: GaussianMixture([1.0], torch.zeros(1, d), cov.unsqueeze(0)))


@pytest.mark.parametrize("weights,means,covs,argument", [
    (torch.ones(2, 1) / 2, torch.zeros(2, 3), torch.ones(2), "weights"),
    ([], torch.zeros(0, 3), torch.ones(0), "weights"),
    ([0.5, 0.5], torch.zeros(3, 3), torch.ones(3), "means"),
    ([0.5, 0.5], torch.zeros(2), torch.ones(2), "means"),
    ([0.5, 0.5], torch.zeros(2, 3), torch.ones(3), "covs"),
    ([0.5, 0.5], torch.zeros(2, 3), torch.ones(2, 4), "covs"),
    ([0.5, 0.5], torch.zeros(2, 3), torch.ones(2, 3, 4), "covs"),
    ([0.5, 0.5], torch.zeros(2, 3), torch.ones(2, 3, 3, 1), "covs"),
])
def test_mismatched_shapes(weights: Any, means: Any, covs: Any, argument: str) -> None:
    raises(argument, lambda: GaussianMixture(weights, means, covs), ShapeError)


@pytest.mark.parametrize("kwargs,argument", [
    ({"dtype": torch.int64}, "dtype"), ({"dtype": "float64"}, "dtype"),
    ({"device": "no-such-device"}, "device"),
])
def test_bad_dtype_and_device(kwargs: dict[str, Any], argument: str) -> None:
    raises(argument, lambda: GaussianMixture([1.0], [[0.0]], [1.0], **kwargs), DtypeError)


@pytest.mark.parametrize("argument,value", [
    ("weights", "abc"), ("means", [[1.0], [2.0, 3.0]]), ("covs", None),
    ("weights", torch.tensor([1.0 + 0j])),
])
def test_unreadable_parameters(argument: str, value: Any) -> None:
    params: dict[str, Any] = {"weights": [1.0], "means": [[0.0]], "covs": [1.0]}
    params[argument] = value
    raises(argument, lambda: GaussianMixture(**params))


# ---- the kernel methods ------------------------------------------------------------------
KERNEL_METHODS = ["log_prob_t", "score_t", "posterior", "denoise", "marginal", "constant",
                  "fisher_information", "sample_xt"]


def call(target: Any, method: str, alpha: Any, sigma: Any, x: Any = None) -> Any:
    if method in ("marginal", "constant", "fisher_information"):
        return getattr(target, method)(alpha, sigma)
    if method == "sample_xt":
        return target.sample_xt(3, alpha, sigma, generator=0)
    x = torch.zeros(3, target.dim, dtype=F64) if x is None else x
    return getattr(target, method)(x, alpha, sigma)


@given(st.sampled_from(KERNEL_METHODS), st.sampled_from(["alpha", "sigma"]),
       st.one_of(st.floats(-1e6, 0.0), st.sampled_from([math.nan, math.inf, -math.inf])))
def test_non_positive_or_non_finite_kernel(method: str, which: str, bad: float) -> None:
    ker = {"alpha": 0.7, "sigma": 0.4, which: bad}
    for target in (mixture(), EmpiricalDistribution(torch.zeros(2, 2))):
        if not hasattr(target, method):
            continue
        raises(which, lambda: call(target, method, ker["alpha"], ker["sigma"]))  # noqa: B023


@pytest.mark.parametrize("bad", [torch.ones(2), "0.5", None, True])
def test_kernel_must_be_a_real_scalar(bad: Any) -> None:
    raises("sigma", lambda: mixture().score_t(torch.zeros(1, 2, dtype=F64), 0.5, bad))


@given(st.sampled_from(["log_prob_t", "score_t", "posterior", "denoise"]),
       st.integers(1, 5).filter(lambda d: d != 2))
def test_points_of_the_wrong_dimension(method: str, d: int) -> None:
    for target in (mixture(), EmpiricalDistribution(torch.zeros(2, 2))):
        raises("xt", lambda: getattr(target, method)(torch.zeros(3, d, dtype=F64), 1.0, 1.0),  # noqa: B023
               ShapeError)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_points_of_another_dtype(dtype: torch.dtype) -> None:
    for target in (mixture(), EmpiricalDistribution(torch.zeros(2, 2))):
        raises("xt", lambda: target.score_t(torch.zeros(3, 2, dtype=dtype), 1.0, 1.0),  # noqa: B023
               DtypeError)


def test_non_finite_points() -> None:
    x = torch.tensor([[0.0, math.nan]], dtype=F64)
    for target in (mixture(), EmpiricalDistribution(torch.zeros(2, 2))):
        raises("xt", lambda: target.log_prob_t(x, 1.0, 1.0))  # noqa: B023
    raises("x0", lambda: mixture().log_prob(x))


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "4"])
def test_bad_sample_sizes(n: Any) -> None:
    raises("n", lambda: mixture().sample(n, generator=0))
    raises("n", lambda: EmpiricalDistribution(torch.zeros(2, 2)).sample(n, generator=0))


def test_constant_needs_two_draws() -> None:
    raises("n", lambda: mixture().constant(1.0, 1.0, n=1))


@pytest.mark.parametrize("generator", [None, "seed", 1.5, torch.zeros(1)])
def test_bad_generators(generator: Any) -> None:
    raises("generator", lambda: mixture().sample(2, generator=generator))
    raises("generator", lambda: mixture().sample_xt(2, 1.0, 1.0, generator=generator))


def test_generator_on_another_device(device: str) -> None:
    if device == "cpu":
        pytest.skip("needs a second device type")
    raises("generator", lambda: mixture().to(device=device).sample(2, generator=torch.Generator()),
           DtypeError)


# ---- schedules ---------------------------------------------------------------------------
@given(st.sampled_from(["vp_linear", "vp_cosine", "ve", "sub_vp", "edm", "rectified_flow"]),
       st.one_of(st.floats(-1e3, -1e-3), st.floats(1.001, 1e3), st.just(math.nan)),
       st.sampled_from(["alpha", "sigma", "log_snr", "g2"]))
def test_schedule_times_outside_the_domain(name: str, bad: float, method: str) -> None:
    sched = Schedule.named(name)
    t = sched.t_min + bad * (sched.t_max - sched.t_min) if not math.isnan(bad) else bad
    raises("t", lambda: getattr(sched, method)(t))
    raises("t", lambda: getattr(sched, method)(torch.tensor([t], dtype=F64)))


@given(st.integers(1, 998), st.floats(0.01, 0.99))
def test_discrete_times_must_be_integers(i: int, frac: float) -> None:
    sched = Schedule.ddpm()
    raises("t", lambda: sched.alpha(i + frac))
    raises("t", lambda: sched.g2(i))
