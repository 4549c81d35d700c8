"""proofs.mixture_constant: C(t) of a Gaussian mixture in mpmath, against exact special cases,
an independent quadrature of d/σ² − J(p_t), symmetries and limits."""

from __future__ import annotations

import re

import mpmath
import pytest

import proofs
from proofs import InvalidArgument, SmeqError, mixture_constant

DPS = 15
TOL = mpmath.mpf(10) ** (-DPS + 4)   # relative; quadrature at DPS + 10 working digits


def _close(got: mpmath.mpf, expected: mpmath.mpf, tol: mpmath.mpf = TOL) -> None:
    __tracebackhide__ = True
    err = abs(got - expected)
    assert err <= tol * max(abs(expected), 1), (
        f"got {mpmath.nstr(got, 25)}, expected {mpmath.nstr(expected, 25)}, largest error "
        f"{mpmath.nstr(err, 5)}")


def _gaussian(d: int, alpha: float, sigma: float, tau2: float) -> mpmath.mpf:
    form = proofs.closed_form("gaussian_constant_isotropic")
    with mpmath.workdps(DPS + 10):
        return form(backend="mpmath", alpha=mpmath.mpf(alpha), sigma=mpmath.mpf(sigma),
                    s=mpmath.sqrt(mpmath.mpf(tau2)), d=d)


def _fisher_route_1d(weights: list[float], means: list[float], variances: list[float],
                     alpha: float, sigma: float) -> mpmath.mpf:
    """1/σ² − ∫ p_t (p_t'/p_t)² dx by direct quadrature: independent of the posterior route."""
    with mpmath.workdps(DPS + 15):
        total = mpmath.fsum(mpmath.mpf(w) for w in weights)
        weights = [mpmath.mpf(w) / total for w in weights]   # 0.3 + 0.7 ≠ 1 in binary
        a, s = mpmath.mpf(alpha), mpmath.mpf(sigma)
        v = [a * a * mpmath.mpf(t) + s * s for t in variances]
        mu = [a * mpmath.mpf(m) for m in means]

        def parts(x: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
            g = [mpmath.mpf(w) * mpmath.npdf(x, m, mpmath.sqrt(vk))
                 for w, m, vk in zip(weights, mu, v, strict=True)]
            return mpmath.fsum(g), mpmath.fsum(gk * -(x - m) / vk
                                               for gk, m, vk in zip(g, mu, v, strict=True))

        def integrand(x: mpmath.mpf) -> mpmath.mpf:
            p, dp = parts(x)
            return dp * dp / p

        points = sorted({m + j * mpmath.sqrt(vk) for m, vk in zip(mu, v, strict=True)
                         for j in (-4, 0, 4)})
        return 1 / (s * s) - mpmath.quad(integrand, [-mpmath.inf, *points, mpmath.inf])


@pytest.mark.parametrize("d", [1, 3])
def test_one_component_is_the_gaussian_closed_form(d: int) -> None:
    mean = [0.3] if d == 1 else [[0.3, -1.0, 2.0]]
    _close(mixture_constant([1.0], mean, [0.7], 0.8, 0.5, dps=DPS), _gaussian(d, 0.8, 0.5, 0.7))


def test_two_identical_components_are_one() -> None:
    _close(mixture_constant([0.25, 0.75], [1.5, 1.5], [0.4, 0.4], 0.6, 0.9, dps=DPS),
           _gaussian(1, 0.6, 0.9, 0.4))


def test_agrees_with_the_fisher_information_route_1d() -> None:
    args = ([0.3, 0.7], [-1.0, 2.0], [0.5, 0.2], 0.9, 0.4)
    _close(mixture_constant(*args, dps=DPS), _fisher_route_1d(*args))


def test_equal_means_unequal_variances_agrees_with_the_fisher_route() -> None:
    # a scale mixture: the reduction is purely radial
    args = ([0.4, 0.6], [0.5, 0.5], [2.0, 0.1], 1.0, 0.7)
    _close(mixture_constant(*args, dps=DPS), _fisher_route_1d(*args))


def test_order_of_components_and_translation_do_not_matter() -> None:
    base = mixture_constant([0.2, 0.5, 0.3], [-1.0, 0.5, 3.0], [0.3, 0.6, 0.2], 0.7, 0.6,
                            dps=DPS)
    swapped = mixture_constant([0.3, 0.2, 0.5], [3.0, -1.0, 0.5], [0.2, 0.3, 0.6], 0.7, 0.6,
                               dps=DPS)
    shifted = mixture_constant([0.2, 0.5, 0.3], [9.0, 10.5, 13.0], [0.3, 0.6, 0.2], 0.7, 0.6,
                               dps=DPS)
    _close(swapped, base)
    _close(shifted, base)


def test_collinear_means_in_d_dimensions_reduce_to_one_dimension() -> None:
    # means on the line μ_0 + t e, ‖e‖ = 1: the orthogonal d − 1 coordinates are Gaussian
    e = [mpmath.mpf(3) / 5, mpmath.mpf(4) / 5, mpmath.mpf(0)]
    ts, mu0 = [-0.5, 1.5], [0.1, -0.2, 0.3]
    means = [[float(m + t * ei) for m, ei in zip(mu0, e, strict=True)] for t in ts]
    d_dim = mixture_constant([0.35, 0.65], means, [0.3, 0.3], 0.8, 0.5, dps=DPS)
    one_dim = mixture_constant([0.35, 0.65], ts, [0.3, 0.3], 0.8, 0.5, dps=DPS)
    _close(d_dim, one_dim + _gaussian(2, 0.8, 0.5, 0.3), tol=mpmath.mpf(10) ** -14)


def test_bounds_and_far_apart_limit() -> None:
    weights, variances, alpha, sigma = [0.4, 0.6], [0.5, 0.2], 0.9, 0.4
    within = mpmath.fsum(w * _gaussian(1, alpha, sigma, t)
                         for w, t in zip(weights, variances, strict=True))
    near = mixture_constant(weights, [0.0, 0.3], variances, alpha, sigma, dps=DPS)
    far = mixture_constant(weights, [0.0, 1e3], variances, alpha, sigma, dps=DPS)
    assert within < near < 1 / mpmath.mpf(sigma) ** 2
    _close(far, within)   # the between-component term is ~exp(−10⁵): far below the tolerance


def test_agrees_with_the_fisher_information_route_to_high_precision() -> None:
    # the two routes agree to the working precision, not merely to float64
    args = ([0.3, 0.7], [-1.0, 2.0], [0.5, 0.2], 0.9, 0.4)
    got = mixture_constant(*args, dps=30)
    with mpmath.workdps(30):
        _close(got, _fisher_route_1d(*args), tol=mpmath.mpf(10) ** -26)


def test_returns_requested_precision() -> None:
    value = mixture_constant([1.0], [0.0], [1.0], 1.0, 1.0, dps=40)
    assert isinstance(value, mpmath.mpf)
    with mpmath.workdps(40):
        _close(value, mpmath.mpf(1) / 2, tol=mpmath.mpf(10) ** -38)


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"weights": [0.5, 0.5], "means": [0.0], "variances": [1.0, 1.0]}, "means"),
    ({"weights": [0.5, 0.5], "means": [0.0, 1.0], "variances": [1.0]}, "variances"),
    ({"weights": [0.5, 0.6], "means": [0.0, 1.0], "variances": [1.0, 1.0]}, "weights"),
    ({"weights": [1.5, -0.5], "means": [0.0, 1.0], "variances": [1.0, 1.0]}, "weights[1]"),
    ({"weights": [], "means": [], "variances": []}, "weights"),
    ({"weights": [1.0], "means": [0.0], "variances": [-1.0]}, "variances[0]"),
    ({"sigma": 0.0}, "sigma"),
    ({"sigma": -1.0}, "sigma"),
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": float("nan")}, "alpha"),
    ({"sigma": "1"}, "sigma"),
    ({"dps": 5}, "dps"),
    ({"weights": [0.5, 0.5], "means": [[0.0, 1.0], [1.0]], "variances": [1.0, 1.0]}, "means"),
    ({"weights": [0.5, 0.5], "means": [[0.0, 1.0], [1.0, float("inf")]],
      "variances": [1.0, 1.0]}, "means"),
    # means spanning two directions: a 2-D integral, refused with the fix
    ({"weights": [0.3, 0.3, 0.4], "means": [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
      "variances": [1.0, 1.0, 1.0]}, "means"),
])
def test_bad_input_names_the_argument(kwargs: dict, argument: str) -> None:
    call = {"weights": [1.0], "means": [0.0], "variances": [1.0], "alpha": 1.0, "sigma": 1.0,
            "dps": 15, **kwargs}
    with pytest.raises(InvalidArgument, match="argument `" + re.escape(argument) + "`") as info:
        mixture_constant(**call)
    assert isinstance(info.value, SmeqError)
    assert "Fix:" in str(info.value)
