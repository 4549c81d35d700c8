"""Property 5: implicit and sliced SM differ from SM by θ-free constants.

Hyvärinen (2005), Theorem 1, in our convention (no ½): E‖∇log p − s‖² = E‖s‖² + 2E tr∇s + J(p),
so SM − ISM = J(p_t), the Fisher information. Sliced SM (Song et al. 2019, eq. 7, 8) has the same
expectation as ISM for projections with E vvᵀ = I, and ISM/d on the unit sphere.
Closed forms: p_0 Gaussian, x_t ~ N(m, S); s = Ax + b gives SM = tr((S⁻¹+A)S(S⁻¹+A)ᵀ) + ‖Am+b‖²,
ISM = tr(ASAᵀ) + ‖Am+b‖² + 2 tr A; a coordinate-wise polynomial gives sums of Gaussian moments.
Statistical checks are two-sided z-tests at |z| ≤ 5.3 (false-alarm rate ≤ 1.2e-7 each).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numeric
from numeric import strategies as sst

Z = 5.3


def _assert_mean(per_sample: torch.Tensor, expected: float, what: str) -> None:
    per = per_sample.detach()
    se = float(per.std()) / math.sqrt(per.numel())
    got = float(per.mean())
    assert abs(got - expected) <= Z * se + 1e-12 * abs(expected), (
        f"got {what} = {got!r}, expected {expected!r}, error {got - expected:.3e} "
        f"(> {Z} standard errors, se={se:.3e})")


def _gaussian_moments(m: float, v: float, order: int) -> list[float]:
    """E[x^k] for x ~ N(m, v), k = 0..order: M_k = m M_{k-1} + (k-1) v M_{k-2}."""
    moments = [1.0, m]
    for k in range(2, order + 1):
        moments.append(m * moments[k - 1] + (k - 1) * v * moments[k - 2])
    return moments[:order + 1]


def _poly_closed_forms(coeffs: list[float], m: float, v: float) -> tuple[float, float]:
    """(SM, ISM) of one coordinate: s(x) = Σ c_k x^k, x ~ N(m, v), true score −(x − m)/v."""
    deg = len(coeffs) - 1
    mom = _gaussian_moments(m, v, 2 * max(deg, 1))
    resid = [-c for c in coeffs] + [0.0] * max(0, 2 - len(coeffs))
    resid[0] += m / v
    resid[1] -= 1.0 / v
    sm = sum(rj * rk * mom[j + k] for j, rj in enumerate(resid) for k, rk in enumerate(resid))
    ism = sum(cj * ck * mom[j + k] for j, cj in enumerate(coeffs) for k, ck in enumerate(coeffs))
    ism += 2 * sum(k * c * mom[k - 1] for k, c in enumerate(coeffs) if k)
    return sm, ism


# degree 3 or 4; three decimals keep coefficients away from the subnormal range
_COEFFS = st.lists(st.floats(-0.5, 0.5).map(lambda c: round(c, 3)), min_size=4, max_size=5)
_KERNELS = st.tuples(st.floats(0.3, 1.0), st.floats(0.4, 1.5))


@given(_COEFFS, _KERNELS, st.floats(-1.0, 1.0), st.floats(0.5, 1.5))
def test_polynomial_model_matches_gaussian_closed_forms(
        coeffs: list[float], kernel: tuple[float, float], mu: float, std: float) -> None:
    a, s = kernel
    d = 2
    mix = numeric.GaussianMixture([1.0], [[mu, -mu]], [std * std])
    model = numeric.PolynomialScore(coeffs)
    v = a * a * std * std + s * s
    sm = ism = 0.0
    for m in (a * mu, -a * mu):
        sm_i, ism_i = _poly_closed_forms(coeffs, m, v)
        sm, ism = sm + sm_i, ism + ism_i
    assert math.isclose(sm - ism, d / v, rel_tol=1e-9, abs_tol=1e-9)  # Hyvärinen's identity
    est_sm = numeric.sm_exact(model, mix, (a, s), 0.0, n=2048, generator=1)
    _assert_mean(est_sm.per_sample, sm, "SM")
    est_ism = numeric.implicit_sm(model, mix, (a, s), 0.0, xt=est_sm.xt)
    _assert_mean(est_ism.per_sample, ism, "implicit SM")
    dsm = numeric.dsm_mc(model, mix, (a, s), 0.0, n=2048, generator=2)
    _assert_mean(dsm.per_sample, sm + d / s**2 - d / v, "DSM = SM + C")


@given(st.integers(0, 2**31 - 1), _KERNELS)
def test_linear_model_matches_closed_forms_for_all_estimators(
        seed: int, kernel: tuple[float, float]) -> None:
    a, s = kernel
    g = torch.Generator().manual_seed(seed)
    d = 3
    root = torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    cov0 = root @ root.T + 0.3 * torch.eye(d, dtype=torch.float64)
    mu = torch.randn(d, generator=g, dtype=torch.float64)
    mix = numeric.GaussianMixture([1.0], mu[None], cov0[None])
    model = numeric.LinearScore(0.5 * torch.randn(d, d, generator=g, dtype=torch.float64),
                                torch.randn(d, generator=g, dtype=torch.float64))
    A, b = model.A.detach(), model.b.detach()
    cov = a * a * cov0 + s * s * torch.eye(d, dtype=torch.float64)
    prec, m = torch.linalg.inv(cov), a * mu
    r = A @ m + b
    sm = float(torch.trace((prec + A) @ cov @ (prec + A).T) + r @ r)
    ism = float(torch.trace(A @ cov @ A.T) + r @ r + 2 * torch.trace(A))
    assert math.isclose(sm - ism, float(torch.trace(prec)), rel_tol=1e-9)
    args = (model, mix, (a, s), 0.0)
    _assert_mean(numeric.sm_exact(*args, n=2048, generator=seed).per_sample, sm, "SM")
    _assert_mean(numeric.implicit_sm(*args, n=2048, generator=seed).per_sample, ism, "ISM")
    for probe in ("rademacher", "gaussian"):
        est = numeric.implicit_sm(*args, n=2048, generator=seed, divergence="hutchinson",
                                  probe=probe, probes=2)
        _assert_mean(est.per_sample, ism, f"ISM (Hutchinson, {probe})")
    for projection in ("gaussian", "rademacher", "sphere"):
        scale = 1.0 / d if projection == "sphere" else 1.0
        for vr in (False, True):
            est = numeric.sliced_sm(*args, n=2048, generator=seed, projection=projection,
                                    variance_reduced=vr)
            _assert_mean(est.per_sample, ism * scale, f"sliced SM ({projection}, vr={vr})")


@given(sst.sm_problems(min_networks=2, max_networks=2, max_dim=2))
def test_sm_minus_implicit_sm_is_theta_free(problem: sst.SMProblem) -> None:
    """Paired across θ on the same x_t: (SM − ISM)(θ₁) − (SM − ISM)(θ₂) has mean 0, and
    SM − ISM estimates J(p_t)."""
    args = (problem.mixture, problem.schedule, problem.t)
    diffs = []
    for net in problem.networks:
        sm = numeric.sm_exact(net, *args, n=1024, generator=problem.seed)
        ism = numeric.implicit_sm(net, *args, xt=sm.xt)
        diffs.append((sm.per_sample - ism.per_sample).detach())
    _assert_mean(diffs[0] - diffs[1], 0.0, "(SM − ISM)(θ₁) − (SM − ISM)(θ₂)")
    j, j_se = problem.mixture.fisher_information(problem.alpha, problem.sigma, n=1024,
                                                 generator=problem.seed + 1, return_stderr=True)
    se = math.hypot(float(diffs[0].std()) / math.sqrt(1024), float(j_se))
    assert abs(float(diffs[0].mean()) - float(j)) <= Z * se + 1e-9 * float(j), (
        f"got SM − ISM = {float(diffs[0].mean())!r}, expected J = {float(j)!r} (se={se:.3e})")


@given(sst.sm_problems(min_networks=1, max_networks=1, max_dim=3))
def test_hutchinson_and_sliced_agree_with_exact_divergence(problem: sst.SMProblem) -> None:
    net, args = problem.networks[0], (problem.mixture, problem.schedule, problem.t)
    exact = numeric.implicit_sm(net, *args, n=512, generator=problem.seed)
    hutch = numeric.implicit_sm(net, *args, xt=exact.xt, generator=problem.seed + 1,
                                divergence="hutchinson")
    _assert_mean(hutch.per_sample - exact.per_sample, 0.0, "Hutchinson − exact ISM")
    sliced = numeric.sliced_sm(net, *args, xt=exact.xt, generator=problem.seed + 2,
                               variance_reduced=True)
    _assert_mean(sliced.per_sample - exact.per_sample, 0.0, "sliced VR − ISM")


def test_bad_divergence_and_probe_arguments_are_named() -> None:
    mix = numeric.GaussianMixture([1.0], [[0.0]], [1.0])
    net = numeric.random_score_network(0, 1)
    with pytest.raises(numeric.InvalidArgument, match="argument `divergence`"):
        numeric.implicit_sm(net, mix, (0.5, 0.5), 0.1, divergence="approx")
    with pytest.raises(numeric.InvalidArgument, match="argument `probe`"):
        numeric.implicit_sm(net, mix, (0.5, 0.5), 0.1, divergence="hutchinson", probe="sphere")
    with pytest.raises(numeric.InvalidArgument, match="argument `projection`"):
        numeric.sliced_sm(net, mix, (0.5, 0.5), 0.1, projection="cube")
    with pytest.raises(numeric.InvalidArgument, match="argument `probes`"):
        numeric.implicit_sm(net, mix, (0.5, 0.5), 0.1, divergence="hutchinson", probes=0)


def test_auto_divergence_is_exact_for_small_d_and_hutchinson_above() -> None:
    for d, same_as in ((3, "exact"), (20, "hutchinson")):
        mix = numeric.GaussianMixture([1.0], [[0.0] * d], [1.0])
        net = numeric.random_score_network(0, d, width=8)
        auto = numeric.implicit_sm(net, mix, (0.5, 0.5), 0.1, n=16, generator=4)
        other = numeric.implicit_sm(net, mix, (0.5, 0.5), 0.1, n=16, generator=4,
                                    divergence=same_as)
        torch.testing.assert_close(auto.per_sample, other.per_sample, rtol=0, atol=0)
