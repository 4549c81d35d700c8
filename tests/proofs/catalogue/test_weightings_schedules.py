"""Closed forms of proofs/_weightings.py and proofs/_schedules.py against independent NumPy.

Every registered step is checked by tests/proofs/test_steps.py; here the lambdified closed forms
are compared with re-computations that share no code with them (quadrature of β, the papers'
formulas, losses computed in each parametrisation's own space), and planted errors in the
derivations must be refuted by the checker.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import sympy as sp

import proofs

RTOL = 1e-12
# (name, parameter names) exactly as CONTRIBUTING.md's table of closed forms.
CONTRACT = {
    "weighting_score": ("alpha", "sigma"), "weighting_eps": ("alpha", "sigma"),
    "weighting_x0": ("alpha", "sigma"), "weighting_v": ("alpha", "sigma"),
    "weighting_flow_matching": ("alpha", "sigma"), "weighting_edm": ("sigma", "sigma_data"),
    "weighting_min_snr_eps": ("alpha", "sigma", "gamma"),
    "vp_linear_alpha": ("t", "beta_min", "beta_max"),
    "vp_linear_sigma": ("t", "beta_min", "beta_max"),
    "vp_linear_g2": ("t", "beta_min", "beta_max"),
    "vp_cosine_alpha": ("t", "s"), "vp_cosine_sigma": ("t", "s"),
    "ve_sigma": ("t", "sigma_min", "sigma_max"), "ve_g2": ("t", "sigma_min", "sigma_max"),
    "subvp_alpha": ("t", "beta_min", "beta_max"), "subvp_sigma": ("t", "beta_min", "beta_max"),
    "subvp_g2": ("t", "beta_min", "beta_max"), "edm_sigma": ("t",),
    "rectified_flow_alpha": ("t",), "rectified_flow_sigma": ("t",),
}
TIMES = np.array([0.013, 0.2, 0.5, 0.77, 0.96])
LIN = {"beta_min": 0.1, "beta_max": 20.0}


def cf(name: str, **values: Any) -> np.ndarray:
    return np.asarray(proofs.closed_form(name)(**values), dtype=np.float64)


def close(got: object, expected: object, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=rtol, atol=0)


def gauss_legendre_integral(f, upper: np.ndarray, nodes: int = 32) -> np.ndarray:
    """∫_0^upper f by Gauss-Legendre (exact for polynomials of degree < 2·nodes)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    r = (x[:, None] + 1) / 2 * upper[None, :]
    return (w[:, None] * f(r)).sum(axis=0) * upper / 2


def derivative(f, t: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Five-point central difference (error O(h⁴))."""
    return (-f(t + 2 * h) + 8 * f(t + h) - 8 * f(t - h) + f(t - 2 * h)) / (12 * h)


# ----------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_closed_form_names_and_params_match_contributing(name: str) -> None:
    form = proofs.closed_form(name)
    assert tuple(p.name for p in form.params) == CONTRACT[name]
    assert form.citation


def test_every_closed_form_of_these_modules_appears_in_a_step() -> None:
    names = [n for n in proofs.DERIVATIONS if n.startswith(("weighting[", "schedule["))]
    sides = [side for n in names for step in proofs.DERIVATIONS[n].steps
             for side in (step.lhs, step.rhs)]
    for name in CONTRACT:
        expr = proofs.closed_form(name).expr
        if isinstance(expr, sp.Symbol):     # σ = t: the edm and rectified-flow schedule steps
            continue
        forms = (expr, expr**2)    # a standard deviation may appear squared, as a variance
        assert any(side.has(f) for side in sides for f in forms), name


# ----------------------------------------------------------------------------- schedules
def test_vp_linear_alpha_is_exp_of_half_integrated_beta_by_quadrature() -> None:
    b0, b1 = LIN["beta_min"], LIN["beta_max"]
    integral = gauss_legendre_integral(lambda r: b0 + r * (b1 - b0), TIMES)
    alpha = np.exp(-0.5 * integral)
    close(cf("vp_linear_alpha", t=TIMES, **LIN), alpha)
    close(cf("vp_linear_sigma", t=TIMES, **LIN), np.sqrt(1 - alpha**2))
    close(cf("vp_linear_g2", t=TIMES, **LIN), b0 + TIMES * (b1 - b0))
    close(cf("subvp_alpha", t=TIMES, **LIN), alpha)
    close(cf("subvp_sigma", t=TIMES, **LIN), 1 - alpha**2)
    close(cf("subvp_g2", t=TIMES, **LIN), (b0 + TIMES * (b1 - b0)) * (1 - np.exp(-2 * integral)))


def test_vp_cosine_matches_nichol_dhariwal_alpha_bar_square_root() -> None:
    s = 0.008

    def f(t: np.ndarray) -> np.ndarray:
        return np.cos((t + s) / (1 + s) * np.pi / 2) ** 2

    alpha_bar = f(TIMES) / f(np.zeros(1))
    close(cf("vp_cosine_alpha", t=TIMES, s=s), np.sqrt(alpha_bar))
    close(cf("vp_cosine_sigma", t=TIMES, s=s), np.sqrt(1 - alpha_bar))
    beta = -derivative(lambda t: np.log(f(t) / f(np.zeros(1))), TIMES)
    close(cf("vp_cosine_g2", t=TIMES, s=s), beta, rtol=1e-8)


def test_ve_edm_rectified_flow_and_ddpm_values() -> None:
    lo, hi = 0.01, 50.0
    sigma = lo * (hi / lo) ** TIMES
    close(cf("ve_sigma", t=TIMES, sigma_min=lo, sigma_max=hi), sigma)
    close(cf("ve_g2", t=TIMES, sigma_min=lo, sigma_max=hi),
          derivative(lambda t: (lo * (hi / lo) ** t) ** 2, TIMES), rtol=1e-8)
    close(cf("edm_sigma", t=TIMES) * np.ones_like(TIMES), TIMES)
    close(cf("rectified_flow_alpha", t=TIMES), 1 - TIMES)
    close(cf("rectified_flow_sigma", t=TIMES) * np.ones_like(TIMES), TIMES)
    betas = np.linspace(1e-4, 0.02, 1000)
    alpha_bar = np.cumprod(1 - betas)
    close(cf("ddpm_alpha", alpha_bar=alpha_bar), np.sqrt(alpha_bar))
    close(cf("ddpm_sigma", alpha_bar=alpha_bar) ** 2 + alpha_bar, np.ones_like(alpha_bar))


SDE_SCHEDULES = {
    # name: (alpha(t), sigma(t), g2(t)) from the closed forms
    "vp_linear": (lambda t: cf("vp_linear_alpha", t=t, **LIN),
                  lambda t: cf("vp_linear_sigma", t=t, **LIN),
                  lambda t: cf("vp_linear_g2", t=t, **LIN)),
    "subvp": (lambda t: cf("subvp_alpha", t=t, **LIN), lambda t: cf("subvp_sigma", t=t, **LIN),
              lambda t: cf("subvp_g2", t=t, **LIN)),
    "vp_cosine": (lambda t: cf("vp_cosine_alpha", t=t, s=0.008),
                  lambda t: cf("vp_cosine_sigma", t=t, s=0.008),
                  lambda t: cf("vp_cosine_g2", t=t, s=0.008)),
    "ve": (lambda t: np.ones_like(t), lambda t: cf("ve_sigma", t=t, sigma_min=0.01, sigma_max=50.0),
           lambda t: cf("ve_g2", t=t, sigma_min=0.01, sigma_max=50.0)),
    "edm": (lambda t: np.ones_like(t), lambda t: t, lambda t: cf("edm_g2", t=t)),
    "rectified_flow": (lambda t: 1 - t, lambda t: t, lambda t: cf("rectified_flow_g2", t=t)),
}


@pytest.mark.parametrize("name", sorted(SDE_SCHEDULES))
def test_g2_equals_minus_sigma2_dlogsnr_by_finite_differences(name: str) -> None:
    alpha, sigma, g2 = SDE_SCHEDULES[name]
    t = TIMES[1:-1]
    dlam = derivative(lambda u: np.log(alpha(u) ** 2 / sigma(u) ** 2), t)
    close(g2(t), -sigma(t) ** 2 * dlam, rtol=1e-7)
    # and the variance ODE dσ²/dt = 2 (d log α/dt) σ² + g²
    dsig2 = derivative(lambda u: sigma(u) ** 2, t)
    dlog_alpha = derivative(lambda u: np.log(alpha(u)), t)
    close(dsig2, 2 * dlog_alpha * sigma(t) ** 2 + g2(t), rtol=1e-7)


def test_vp_beta_is_not_the_subvp_likelihood_weighting() -> None:
    alpha, _, g2 = SDE_SCHEDULES["subvp"]
    beta = cf("vp_linear_g2", t=TIMES, **LIN)
    close(g2(TIMES) + beta * alpha(TIMES) ** 4, beta)
    assert np.all(beta - g2(TIMES) > 0)


# ----------------------------------------------------------------------------- weightings
def draws(seed: int, n: int = 5, d: int = 4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d))


ALPHA = np.array([0.9, 0.6, 0.3, 0.05, 1.2])
SIGMA = np.array([0.2, 0.7, 1.5, 0.99, 0.4])     # not VP on purpose: α² + σ² ≠ 1


def dsm(s: np.ndarray, eps: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return ((s + eps / sigma[:, None]) ** 2).sum(axis=1)


def test_eps_x0_v_losses_computed_in_their_own_space() -> None:
    x0, eps, s = draws(1)
    a, sg = ALPHA[:, None], SIGMA[:, None]
    xt = a * x0 + sg * eps
    eps_hat = -sg * s                                   # ε̂ from the score
    x0_hat = (xt - sg * eps_hat) / a                     # x̂_0 from ε̂ (the kernel inverted)
    v, v_hat = a * eps - sg * x0, a * eps_hat - sg * x0_hat   # Salimans & Ho (2022), §4
    base = dsm(s, eps, SIGMA)
    close(((s + eps / sg) ** 2).sum(1), cf("weighting_score", alpha=ALPHA, sigma=SIGMA) * base)
    close(((eps_hat - eps) ** 2).sum(1), cf("weighting_eps", alpha=ALPHA, sigma=SIGMA) * base,
          rtol=1e-10)
    close(((x0_hat - x0) ** 2).sum(1), cf("weighting_x0", alpha=ALPHA, sigma=SIGMA) * base,
          rtol=1e-10)
    close(((v_hat - v) ** 2).sum(1), cf("weighting_v", alpha=ALPHA, sigma=SIGMA) * base,
          rtol=1e-10)


def test_edm_preconditioning_from_karras_table_1() -> None:
    x0, eps, F = draws(2)
    sd = 0.5
    sig = np.array([0.002, 0.1, 1.0, 7.0, 80.0])
    c_skip = sd**2 / (sig**2 + sd**2)
    c_out = sig * sd / np.sqrt(sig**2 + sd**2)
    c_in = 1 / np.sqrt(sig**2 + sd**2)
    lam = (sig**2 + sd**2) / (sig * sd) ** 2
    close(cf("edm_c_skip", sigma=sig, sigma_data=sd), c_skip)
    close(cf("edm_c_out", sigma=sig, sigma_data=sd), c_out)
    close(cf("edm_c_in", sigma=sig, sigma_data=sd), c_in)
    close(cf("edm_loss_weight", sigma=sig, sigma_data=sd), lam)
    close(lam * c_out**2, np.ones_like(sig))
    x = x0 + sig[:, None] * eps
    D = c_skip[:, None] * x + c_out[:, None] * F
    s = (D - x) / sig[:, None] ** 2
    loss = lam * ((D - x0) ** 2).sum(1)
    close(loss, cf("weighting_edm", sigma=sig, sigma_data=sd) * dsm(s, eps, sig), rtol=1e-9)
    target = (x0 - c_skip[:, None] * x) / c_out[:, None]
    close(loss, ((F - target) ** 2).sum(1), rtol=1e-9)


def test_flow_matching_velocity_loss() -> None:
    x0, eps, u_hat = draws(3)
    t = np.array([0.05, 0.3, 0.5, 0.8, 0.97])
    xt = (1 - t[:, None]) * x0 + t[:, None] * eps
    s = -(xt + (1 - t[:, None]) * u_hat) / t[:, None]    # score from velocity
    loss = ((u_hat - (eps - x0)) ** 2).sum(1)
    close(loss, cf("weighting_flow_matching", alpha=1 - t, sigma=t) * dsm(s, eps, t), rtol=1e-9)
    # the general velocity weight at α = 1 − t, σ = t, and as σ⁴(dλ/dt)²/4 on the cosine schedule
    close(proofs.closed_form("weighting_velocity")(alpha=1 - t, sigma=t, dalpha=-1.0, dsigma=1.0),
          cf("weighting_flow_matching", alpha=1 - t, sigma=t))
    alpha, sigma, _ = SDE_SCHEDULES["vp_cosine"]
    tt = TIMES[1:-1]
    dlam = derivative(lambda u: np.log(alpha(u) ** 2 / sigma(u) ** 2), tt)
    w = proofs.closed_form("weighting_velocity")(
        alpha=alpha(tt), sigma=sigma(tt), dalpha=derivative(alpha, tt),
        dsigma=derivative(sigma, tt))
    close(w, sigma(tt) ** 4 * dlam**2 / 4, rtol=1e-7)


def test_min_snr_clamps_the_eps_weight() -> None:
    snr = ALPHA**2 / SIGMA**2
    for gamma in (0.5, 5.0):
        expected = SIGMA**2 * np.minimum(snr, gamma) / snr
        close(cf("weighting_min_snr_eps", alpha=ALPHA, sigma=SIGMA, gamma=gamma), expected)
    vp_sigma = np.sqrt(1 - np.array([0.9, 0.6, 0.3, 0.05]) ** 2)
    vp_alpha = np.array([0.9, 0.6, 0.3, 0.05])
    close(cf("weighting_min_snr_v", alpha=vp_alpha, sigma=vp_sigma, gamma=5.0),
          cf("weighting_min_snr_eps", alpha=vp_alpha, sigma=vp_sigma, gamma=5.0), rtol=1e-10)


def test_mpmath_backend_agrees() -> None:
    got = proofs.closed_form("weighting_v").lambdified("mpmath")(0.6, 0.7)
    close(float(got), cf("weighting_v", alpha=0.6, sigma=0.7))


# ----------------------------------------------------------------------------- planted errors
ALPHA_SYMBOL = sp.Symbol("alpha", positive=True)
W = {n: proofs.closed_form(n).expr for n in ("weighting_v", "weighting_flow_matching",
                                            "weighting_eps", "weighting_x0")}
PLANTED = [
    # (derivation, step, field, replacement): each is a real bug class
    ("weighting[x0]", "loss", "rhs", lambda st: st.rhs * ALPHA_SYMBOL**2),          # missing 1/α²
    ("weighting[v]", "loss", "rhs",                                   # the VP-only form σ²/α²
     lambda st: st.rhs / W["weighting_v"] * W["weighting_flow_matching"]),
    ("weighting[eps]", "loss", "rhs",
     lambda st: st.rhs / W["weighting_eps"] * sp.Symbol("sigma", positive=True)),   # σ vs σ²
    ("schedule[vp-cosine]", "alpha_bar_ratio", "lhs", lambda st: st.lhs**2),       # α = ᾱ
    ("schedule[sub-vp]", "variance_ode", "rhs",
     lambda st: st.rhs.subs(proofs.closed_form("subvp_g2").expr,
                            proofs.closed_form("vp_linear_g2").expr)),            # VP's g²
    ("weighting[edm]", "unit_weight", "lhs",
     lambda st: st.lhs / proofs.closed_form("edm_c_out").expr),                     # λ·c_out
]


@pytest.mark.parametrize(("name", "step_name", "side", "plant"), PLANTED,
                         ids=[f"{n}::{s}" for n, s, _, _ in PLANTED])
def test_planted_error_is_refuted(name: str, step_name: str, side: str, plant) -> None:
    (step,) = [s for s in proofs.DERIVATIONS[name].steps if s.name == step_name]
    assert proofs.check(step).ok
    wrong = dataclasses.replace(step, **{side: plant(step)})
    assert sp.srepr(getattr(wrong, side)) != sp.srepr(getattr(step, side))
    verdict = proofs.check(wrong)
    assert not verdict.ok
    assert verdict.status == "refuted", verdict.detail
