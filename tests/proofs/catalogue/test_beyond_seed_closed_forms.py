"""The closed forms registered by the mixture, finite-data, Tweedie and implicit/sliced modules,
evaluated numerically (lambdify) against independent computations; and the steps that rest on an
assumption or a limit are not proved without it."""

from __future__ import annotations

from dataclasses import replace

import mpmath
import numpy as np
import pytest
import sympy as sp

from proofs import DERIVATIONS, Step, check, closed_form, mixture_constant
from proofs._notation import alpha as ALPHA
from proofs._notation import sigma as SIGMA

# (alpha, sigma, tau, mu, x) points away from any special value
POINTS = [(0.8, 0.5, 0.7, 0.3, -1.2), (0.05, 2.0, 1.5, -3.0, 0.4), (0.999, 0.045, 0.2, 1.0, 1.1)]


@pytest.mark.parametrize(("alpha", "sigma", "tau", "mu", "x"), POINTS)
def test_tweedie_mean_is_the_gaussian_posterior_mean(alpha: float, sigma: float, tau: float,
                                                     mu: float, x: float) -> None:
    score = -(x - alpha * mu) / (alpha**2 * tau**2 + sigma**2)
    got = closed_form("tweedie_mean")(alpha=alpha, sigma=sigma, x=x, score=score)
    expected = closed_form("gaussian_posterior_mean_1d")(alpha=alpha, sigma=sigma, tau=tau,
                                                         mu=mu, x=x)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_ideal_denoiser_is_the_softmax_average_and_snaps_to_the_nearest_point() -> None:
    denoise = closed_form("ideal_denoiser_b2")
    alpha, sigma, y1, y2 = 0.9, 0.6, -1.0, 2.5
    xs = np.linspace(-3.0, 4.0, 15)
    logits = np.stack([-(xs - alpha * y) ** 2 / (2 * sigma**2) for y in (y1, y2)])
    weights = np.exp(logits - logits.max(axis=0))
    weights /= weights.sum(axis=0)
    np.testing.assert_allclose(denoise(alpha=alpha, sigma=sigma, x=xs, y1=y1, y2=y2),
                               weights[0] * y1 + weights[1] * y2, rtol=1e-12)
    # σ → 0: the point whose αy_i is nearest (mpmath: no overflow in the softmax)
    near = denoise(backend="mpmath", alpha=1.0, sigma=mpmath.mpf("1e-3"), x=0.2, y1=y1, y2=y2)
    assert abs(near - y1) < 1e-12


def test_implicit_sm_gaussian_quadratic_matches_quadrature() -> None:
    mu, tau, theta = 0.4, 0.8, (0.3, -1.1, 0.25)
    got = closed_form("implicit_sm_gaussian_quadratic")(
        backend="mpmath", mu=mu, tau=tau, theta0=theta[0], theta1=theta[1], theta2=theta[2])
    with mpmath.workdps(30):
        def integrand(x: mpmath.mpf) -> mpmath.mpf:
            s = theta[0] + theta[1] * x + theta[2] * x**2
            return mpmath.npdf(x, mu, tau) * (s * s + 2 * (theta[1] + 2 * theta[2] * x))

        expected = mpmath.quad(integrand, [-mpmath.inf, mu, mpmath.inf])
    assert abs(got - expected) < 1e-12


def test_sliced_sm_scale_is_the_unit_sphere_second_moment_in_3d() -> None:
    a = (0.7, -1.3, 2.1)
    with mpmath.workdps(20):
        def integrand(theta: mpmath.mpf, phi: mpmath.mpf) -> mpmath.mpf:
            v = (mpmath.sin(theta) * mpmath.cos(phi), mpmath.sin(theta) * mpmath.sin(phi),
                 mpmath.cos(theta))
            return (sum(vi * ai for vi, ai in zip(v, a, strict=True))) ** 2 * mpmath.sin(theta)

        mean = mpmath.quad(integrand, [0, mpmath.pi], [0, 2 * mpmath.pi],
                           method="gauss-legendre") / (4 * mpmath.pi)
    scale = closed_form("sliced_sm_scale")(d=3)
    assert abs(mean - scale * sum(ai * ai for ai in a)) < 1e-14


@pytest.mark.parametrize("sigma", [0.2, 0.5, 1.0, 3.0])
def test_two_point_constant_is_below_the_bound(sigma: float) -> None:
    alpha, y1, y2 = 0.9, -0.5, 1.5
    got = mixture_constant([0.5, 0.5], [y1, y2], [0.0, 0.0], alpha, sigma, dps=15)
    bound = closed_form("finite_data_constant_bound_b2")(backend="mpmath", alpha=alpha,
                                                         sigma=sigma, delta=abs(y1 - y2))
    assert 0 < got <= bound


def test_two_point_constant_matches_the_expected_weight_product() -> None:
    alpha, sigma, y1, y2 = 0.9, 0.5, -0.5, 1.5
    with mpmath.workdps(30):
        g = [lambda x, y=y: mpmath.npdf(x, alpha * y, sigma) for y in (y1, y2)]
        product = mpmath.quad(lambda x: g[0](x) * g[1](x) / (2 * (g[0](x) + g[1](x))),
                              [-mpmath.inf, alpha * y1, alpha * y2, mpmath.inf])
        expected = alpha**2 / sigma**4 * (y1 - y2) ** 2 * product
    got = mixture_constant([0.5, 0.5], [y1, y2], [0.0, 0.0], alpha, sigma, dps=15)
    assert abs(got - expected) <= 1e-15 * expected


def test_two_point_constant_vanishes_as_sigma_goes_to_zero() -> None:
    small = mixture_constant([0.5, 0.5], [0.0, 1.0], [0.0, 0.0], 1.0, 0.05, dps=15)
    bound = closed_form("finite_data_constant_bound_b2")(backend="mpmath", alpha=1.0,
                                                         sigma=0.05, delta=1.0)
    assert 0 < small <= bound < 1e-15


def test_limit_route_proves_only_true_limits() -> None:
    sigma = sp.Symbol("sigma", positive=True)
    assert check(Step("ok", sp.Limit(sigma * sp.exp(-1 / sigma), sigma, 0, "+"),
                      sp.Integer(0))).ok
    assert not check(Step("wrong", sp.Limit(1 / sigma, sigma, 0, "+"), sp.Integer(0))).ok
    assert not check(Step("wrong", sp.Limit(sp.exp(-sigma), sigma, 0, "+"), sp.Integer(0))).ok


@pytest.mark.parametrize("name", ["implicit_sm[any-p-1d]", "sliced_sm[any-p-2d]"])
def test_boundary_step_needs_the_boundary_assumption(name: str) -> None:
    step = next(s for s in DERIVATIONS[name].steps if s.name == "boundary-term")
    assert check(step).ok
    assert not check(replace(step, assumptions=())).ok


def test_pointwise_identity_fails_for_a_wrong_covariance() -> None:
    step = next(s for s in DERIVATIONS["sm_dsm[mixture-K2-1d]"].steps
                if s.name == "pointwise-identity")
    assert check(step).ok
    assert not check(replace(step, rhs=step.rhs * ALPHA**2 / SIGMA**2)).ok
