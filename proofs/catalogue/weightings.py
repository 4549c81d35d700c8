"""Parametrisations as weighted DSM: the score-space weight λ(t) of each loss.

With x_t = α x_0 + σ ε and kernel score h = −(x_t − α x_0)/σ² = −ε/σ (docs/design.md §1), every
parametrisation maps a score estimate s to its output by an affine map ``out = a x_t + b s``, and
its regression target is the same map applied to h. So ``‖out − target‖² = b²‖s − h‖²`` and the
score-space weight is λ = b². Each derivation states the map, its inverse (model output to score)
and the weighted loss, per sample, for a 3-vector.

Relation to Kingma & Gao (2023), who write every loss as ½ w(λ_snr)·(−dλ_snr/dt)·‖ε̂ − ε‖² with
λ_snr = log(α²/σ²): at a fixed t our per-sample loss is ω·‖ε̂ − ε‖² with ω = λ(t)/σ² (the ε-space
weight), and with t drawn from U(0, 1) the λ_snr-density is p(λ_snr) = 1/(−dλ_snr/dt). Hence their
w(λ_snr) = ω·p(λ_snr) up to the constant factor that Kingma & Gao also drop
(derivation ``weighting[kingma-gao]``).
"""

from __future__ import annotations

import sympy as sp

from .._notation import alpha, sigma, t
from .._registry import derivation, register_closed_form
from .._step import Step

__all__: list[str] = []

_x0 = sp.Matrix(sp.symbols("x_0_1:3", real=True))
_eps = sp.Matrix(sp.symbols("epsilon_1:3", real=True))
_s = sp.Matrix(sp.symbols("s_1:3", real=True))       # the model's score estimate at x_t
_out = sp.Matrix(sp.symbols("o_1:3", real=True))     # a raw model output (ε̂, x̂_0, v̂, F, û)
_xt = alpha * _x0 + sigma * _eps
_h = -(_xt - alpha * _x0) / sigma**2                 # kernel score, from the Gaussian kernel

gamma = sp.Symbol("gamma", positive=True)
sigma_data = sp.Symbol("sigma_data", positive=True)
g2 = sp.Symbol("g2", positive=True)
dalpha = sp.Symbol("dalpha", real=True)               # dα/dt at t
dsigma = sp.Symbol("dsigma", real=True)               # dσ/dt at t
log_snr = sp.Symbol("lambda", real=True)              # λ_snr = log(α²/σ²)
_snr = alpha**2 / sigma**2

_KG = "Kingma & Gao (2023), Table 1"
_DSM = "Vincent (2011); docs/design.md §2"


def _sq(vec: sp.Matrix) -> sp.Expr:
    """‖vec‖² as the sum of squared entries."""
    return sp.Add(*[entry**2 for entry in vec])


_dsm = _sq(_s - _h)

# ----------------------------------------------------------------------------- closed forms
W_SCORE = register_closed_form("weighting_score", sp.Integer(1), (alpha, sigma),
                               citation=_DSM)
W_EPS = register_closed_form("weighting_eps", sigma**2, (alpha, sigma),
                             citation="Ho et al. (2020), eq. 14")
W_X0 = register_closed_form("weighting_x0", sigma**4 / alpha**2, (alpha, sigma),
                            citation="Kingma et al. (2021)")
W_V = register_closed_form("weighting_v", sigma**2 * (alpha**2 + sigma**2)**2 / alpha**2,
                           (alpha, sigma), citation="Salimans & Ho (2022), §4 and App. D")
W_FM = register_closed_form("weighting_flow_matching", sigma**2 / alpha**2, (alpha, sigma),
                            citation="Lipman et al. (2023); Liu et al. (2023): α = 1 − t, σ = t")
W_VELOCITY = register_closed_form(
    "weighting_velocity", sigma**2 * (dalpha * sigma - dsigma * alpha)**2 / alpha**2,
    (alpha, sigma, dalpha, dsigma), citation="velocity u = α'x_0 + σ'ε (Lipman et al. 2023)")
W_NCSN = register_closed_form("weighting_ncsn", sigma**2, (sigma,),
                              citation="Song & Ermon (2019)")
W_LIKELIHOOD = register_closed_form("weighting_likelihood", g2, (g2,),
                                    citation="Song et al. (2021b), Theorem 1")
W_MIN_SNR = register_closed_form("weighting_min_snr_eps", sigma**2 * sp.Min(_snr, gamma) / _snr,
                                 (alpha, sigma, gamma), citation="Hang et al. (2023)")
W_MIN_SNR_V = register_closed_form(
    "weighting_min_snr_v", W_V.expr * sp.Min(_snr, gamma) / (_snr + 1), (alpha, sigma, gamma),
    citation="Hang et al. (2023) (v-prediction weight min(SNR, γ)/(SNR + 1))")
W_EDM = register_closed_form("weighting_edm", sigma**2 * (sigma**2 + sigma_data**2) / sigma_data**2,
                             (sigma, sigma_data), citation="Karras et al. (2022), Table 1")
C_SKIP = register_closed_form("edm_c_skip", sigma_data**2 / (sigma**2 + sigma_data**2),
                              (sigma, sigma_data), citation="Karras et al. (2022), Table 1")
C_OUT = register_closed_form("edm_c_out", sigma * sigma_data / sp.sqrt(sigma**2 + sigma_data**2),
                             (sigma, sigma_data), citation="Karras et al. (2022), Table 1")
C_IN = register_closed_form("edm_c_in", 1 / sp.sqrt(sigma**2 + sigma_data**2),
                            (sigma, sigma_data), citation="Karras et al. (2022), Table 1")
EDM_LOSS_WEIGHT = register_closed_form(
    "edm_loss_weight", (sigma**2 + sigma_data**2) / (sigma * sigma_data)**2, (sigma, sigma_data),
    citation="Karras et al. (2022), Table 1, λ(σ)")
LOG_SNR = register_closed_form("log_snr", sp.log(alpha**2 / sigma**2), (alpha, sigma),
                               citation="Kingma et al. (2021)")


def _kernel_step() -> Step:
    return Step("kernel_score", _h, -_eps / sigma,
                justification="∇ log N(x_t; αx_0, σ²I) = −(x_t − αx_0)/σ² — " + _DSM)


def _affine_steps(a: sp.Expr, b: sp.Expr, target: sp.Matrix, weight: sp.Expr, what: str,
                  citation: str) -> tuple[Step, ...]:
    """Steps for a parametrisation out = a x_t + b s: target, inverse map and weighted loss."""
    to_out = a * _xt + b * _s
    to_score = (_out - a * _xt) / b
    return (
        _kernel_step(),
        Step("target_from_score", target, a * _xt + b * _h,
             justification=f"the {what} target is the same affine map of the kernel score — "
             + citation),
        Step("output_to_score", (to_score * 1).subs(dict(zip(_out, to_out, strict=True))), _s,
             justification="s = (out − a·x_t)/b inverts out = a·x_t + b·s — " + citation),
        Step("loss", _sq(to_out - target), weight * _dsm,
             justification=f"‖{what}-loss‖² = λ(t)‖s − h‖², λ = b² — " + citation),
    )


@derivation("weighting[score]", claim="plain DSM has score-space weight λ = 1",
            citation=_DSM, data="any p_0")
def _score() -> tuple[Step, ...]:
    return _affine_steps(sp.Integer(0), sp.Integer(1), _h, W_SCORE.expr, "score", _DSM)


@derivation("weighting[ncsn]", claim="NCSN's σ²-weighted DSM equals the ε-loss: λ = σ²",
            citation="Song & Ermon (2019)", data="any p_0")
def _ncsn() -> tuple[Step, ...]:
    return (
        _kernel_step(),
        Step("loss", W_NCSN.expr * _dsm, _sq(sigma * _s + _eps),
             justification="σ²‖s − h‖² = ‖σ s + ε‖²: λ(σ) = σ² makes the loss O(1) — "
             "Song & Ermon (2019)"),
        Step("equals_eps_weight", W_NCSN.expr, W_EPS.expr,
             justification="the NCSN weighting is the ε-prediction weighting — "
             "Song & Ermon (2019)"),
    )


@derivation("weighting[eps]", claim="ε-prediction ‖ε̂ − ε‖² = σ²‖s − h‖², ε̂ = −σ s",
            citation="Ho et al. (2020), eq. 14", data="any p_0")
def _eps_pred() -> tuple[Step, ...]:
    return _affine_steps(sp.Integer(0), -sigma, _eps, W_EPS.expr, "ε",
                         "Ho et al. (2020), eq. 14")


@derivation("weighting[x0]", claim="x_0-prediction ‖x̂_0 − x_0‖² = (σ⁴/α²)‖s − h‖²",
            citation="Kingma et al. (2021); Tweedie map x̂_0 = (x_t + σ² s)/α",
            data="any p_0")
def _x0_pred() -> tuple[Step, ...]:
    return _affine_steps(1 / alpha, sigma**2 / alpha, _x0, W_X0.expr, "x_0",
                         "Tweedie map, Efron (2011); Kingma et al. (2021)")


@derivation("weighting[v]", claim="v-prediction ‖v̂ − v‖² = σ²(α² + σ²)²/α² ‖s − h‖²",
            citation="Salimans & Ho (2022), §4 and App. D", data="any p_0")
def _v_pred() -> tuple[Step, ...]:
    v = alpha * _eps - sigma * _x0
    vp = {sigma: sp.sqrt(1 - alpha**2)}
    return (
        *_affine_steps(-sigma / alpha, -sigma * (alpha**2 + sigma**2) / alpha, v, W_V.expr,
                       "v", "Salimans & Ho (2022), v = αε − σx_0"),
        Step("eps_from_v", (alpha * v + sigma * _xt) / (alpha**2 + sigma**2), _eps,
             justification="ε = (αv + σx_t)/(α² + σ²); for VP the familiar αv + σx_t — "
             "Salimans & Ho (2022), App. D"),
        Step("x0_from_v", (alpha * _xt - sigma * v) / (alpha**2 + sigma**2), _x0,
             justification="x_0 = (αx_t − σv)/(α² + σ²) — Salimans & Ho (2022), App. D"),
        Step("variance_preserving", W_V.expr.subs(vp), W_FM.expr.subs(vp),
             justification="for VP (α² + σ² = 1) λ_v = σ²/α², i.e. ε-space weight 1 + SNR⁻¹ — "
             + _KG, assumptions=(alpha < 1,)),
    )


@derivation("weighting[edm]",
            claim="EDM λ(σ)‖D − x_0‖² = σ²(σ² + σ_d²)/σ_d² ‖s − h‖², λ·c_out² = 1",
            citation="Karras et al. (2022), Table 1 and App. B.6", data="any p_0, α = 1")
def _edm() -> tuple[Step, ...]:
    edm = {alpha: sp.Integer(1)}
    x = _xt.subs(edm)
    h = _h.subs(edm)
    c_skip, c_out, c_in, lam = C_SKIP.expr, C_OUT.expr, C_IN.expr, EDM_LOSS_WEIGHT.expr
    denoiser = x + sigma**2 * _s                       # D(x) = x + σ² s  (Tweedie, α = 1)
    F = (denoiser - c_skip * x) / c_out                # the raw network output
    F_target = (_x0 - c_skip * x) / c_out
    c = sp.Symbol("c", real=True)
    target_variance = (1 - c)**2 * sigma_data**2 + c**2 * sigma**2   # c_out² · Var(F_target)
    cite = "Karras et al. (2022), Table 1"
    return (
        _kernel_step(),
        Step("score_from_denoiser", ((denoiser - x) / sigma**2), _s,
             justification="s = (D − x)/σ² inverts D = x + σ² s (Tweedie, α = 1) — " + cite),
        Step("denoiser_residual", denoiser - _x0, sigma**2 * (_s - h),
             justification="D − x_0 = σ²(s − h) — Karras et al. (2022), eq. 3"),
        Step("loss", lam * _sq(denoiser - _x0), W_EDM.expr * _sq(_s - h),
             justification="λ(σ)‖D − x_0‖² = σ⁴λ(σ)‖s − h‖² = σ²(σ² + σ_d²)/σ_d² ‖s − h‖² — "
             + cite),
        Step("unit_weight", lam * c_out**2, sp.Integer(1),
             justification="λ(σ) = 1/c_out(σ)² — Karras et al. (2022), App. B.6"),
        Step("f_space_loss", lam * _sq(c_skip * x + c_out * F - _x0), _sq(F - F_target),
             justification="the effective F-loss has unit weight: ‖F − (x_0 − c_skip x)/c_out‖² — "
             "Karras et al. (2022), eq. 8"),
        Step("unit_input_variance", c_in**2 * (sigma**2 + sigma_data**2), sp.Integer(1),
             justification="Var(c_in x) = 1 for Var(x_0) = σ_d² — Karras et al. (2022), App. B.6"),
        Step("unit_target_variance", target_variance.subs(c, c_skip) / c_out**2, sp.Integer(1),
             justification="Var(F_target) = 1 — Karras et al. (2022), App. B.6"),
        Step("c_skip_minimises_c_out", sp.Subs(sp.Derivative(target_variance, c), c, c_skip),
             sp.Integer(0),
             justification="c_skip is the stationary point of the target variance — "
             "Karras et al. (2022), App. B.6"),
    )


@derivation("weighting[flow-matching]",
            claim="velocity loss ‖û − u‖² = σ²(α'σ − σ'α)²/α² ‖s − h‖² = σ⁴(dλ/dt)²/4 ‖s − h‖²",
            citation="Lipman et al. (2023); Liu et al. (2023)", data="any p_0")
def _flow_matching() -> tuple[Step, ...]:
    u = dalpha * _x0 + dsigma * _eps
    a = dalpha / alpha
    b = sigma * (dalpha * sigma - dsigma * alpha) / alpha
    A, S = sp.Function("alpha")(t), sp.Function("sigma")(t)
    general = {alpha: A, sigma: S, dalpha: sp.Derivative(A, t), dsigma: sp.Derivative(S, t)}
    rf = {alpha: 1 - t, sigma: t, dalpha: sp.Derivative(1 - t, t), dsigma: sp.Derivative(t, t)}
    rf_score = -(_xt.subs(rf) + (1 - t) * _out) / t
    cite = "Lipman et al. (2023), §4.1; Liu et al. (2023)"
    return (
        *_affine_steps(a, b, u, W_VELOCITY.expr, "velocity", cite),
        Step("log_snr_form", W_VELOCITY.expr.xreplace(general),
             S**4 * sp.Derivative(sp.log(A**2 / S**2), t)**2 / 4,
             justification="α'σ − σ'α = ασ·½ dλ/dt, so λ_u = σ⁴(dλ/dt)²/4 — " + _KG),
        Step("rectified_flow", W_VELOCITY.expr.xreplace(rf), W_FM.expr.xreplace(rf),
             justification="α = 1 − t, σ = t: α'σ − σ'α = −1, λ = σ²/α² = t²/(1 − t)² — " + cite,
             assumptions=(t < 1,)),
        Step("rectified_flow_target", u.xreplace(rf).doit(), _eps - _x0,
             justification="u = ε − x_0 — Liu et al. (2023)"),
        Step("rectified_flow_score", rf_score.subs(dict(zip(_out, (a * _xt + b * _s).xreplace(
            rf).doit(), strict=True))), _s,
             justification="s = −(x_t + (1 − t)û)/t inverts the velocity map — " + cite,
             assumptions=(t < 1,)),
    )


@derivation("weighting[min-snr]", claim="min-SNR-γ ε-loss has λ = σ² min(SNR, γ)/SNR",
            citation="Hang et al. (2023)", data="any p_0")
def _min_snr() -> tuple[Step, ...]:
    delta = sp.Symbol("delta", positive=True)
    eps_hat = -sigma * _s
    omega = sp.Min(_snr, gamma) / _snr
    vp = {sigma: sp.sqrt(1 - alpha**2)}
    cite = "Hang et al. (2023)"
    return (
        _kernel_step(),
        Step("loss", omega * _sq(eps_hat - _eps), W_MIN_SNR.expr * _dsm,
             justification="ε-loss weight min(SNR, γ)/SNR times the ε weight σ² — " + cite),
        Step("below_gamma", W_MIN_SNR.expr, W_EPS.expr, assumptions=(sp.Eq(gamma, _snr + delta),),
             justification="SNR ≤ γ: the plain ε-prediction weight — " + cite),
        Step("above_gamma", W_MIN_SNR.expr, gamma * W_X0.expr,
             assumptions=(sp.Eq(gamma, _snr - delta), _snr > delta),
             justification="SNR ≥ γ: γ times the x_0-prediction weight (clamped SNR) — " + cite),
        Step("v_variant_on_vp", W_MIN_SNR_V.expr.subs(vp), W_MIN_SNR.expr.subs(vp),
             assumptions=(alpha < 1,),
             justification="for VP the v-loss weight min(SNR, γ)/(SNR + 1) is the same λ — "
             "Hang et al. (2023)"),
    )


@derivation("weighting[likelihood]",
            claim="likelihood weighting λ = g² is the ELBO: ε-space weight −dλ_snr/dt",
            citation="Song et al. (2021b), Theorem 1; Kingma et al. (2021)",
            data="any p_0, SDE schedules with g² = −σ² dλ_snr/dt")
def _likelihood() -> tuple[Step, ...]:
    dlam = sp.Symbol("dlambda_dt", negative=True)
    cite = "Song et al. (2021b), Theorem 1"
    return (
        _kernel_step(),
        Step("loss", W_LIKELIHOOD.expr * _dsm, g2 / sigma**2 * _sq(-sigma * _s - _eps),
             justification="g²‖s − h‖² = (g²/σ²)‖ε̂ − ε‖² — " + cite),
        Step("elbo_weight", (W_LIKELIHOOD.expr / sigma**2) / (-dlam), sp.Integer(1),
             assumptions=(sp.Eq(g2, -sigma**2 * dlam),),
             justification="with g² = −σ² dλ/dt (proved per schedule in schedule[*]) the "
             "Kingma–Gao weight is w = 1, the ELBO — " + _KG),
    )


@derivation("weighting[kingma-gao]",
            claim="each λ(t) gives Kingma & Gao's w(λ) = (λ(t)/σ²)·p(λ), p(λ) = 1/(−dλ/dt)",
            citation=_KG, data="VP in log-SNR; cosine, EDM and rectified-flow t-densities")
def _kingma_gao() -> tuple[Step, ...]:
    L = log_snr
    vp = {alpha: sp.sqrt(sp.exp(L) / (1 + sp.exp(L))), sigma: sp.sqrt(1 / (1 + sp.exp(L)))}
    ve = {alpha: sp.Integer(1), sigma: sp.exp(-L / 2)}

    def omega(form: sp.Expr, sub: dict) -> sp.Expr:
        return (form / sigma**2).subs(sub)

    def sech(z: sp.Expr) -> sp.Expr:
        return 2 / (sp.exp(z) + sp.exp(-z))

    def normal(z: sp.Expr, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
        return sp.exp(-(z - mean)**2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)

    u = sp.pi * t / 2
    lam_cos = sp.log(sp.cos(u)**2 / (1 - sp.cos(u)**2))      # cosine schedule, s = 0
    lam_kg = -2 * sp.log(sp.tan(u))                          # Kingma & Gao's form of it
    p_cos = 1 / (-sp.Derivative(lam_kg, t))
    lam_rf = 2 * sp.log(1 - t) - 2 * sp.log(t)
    p_rf = 1 / (-sp.Derivative(lam_rf, t))
    p_mean, p_std = sp.Symbol("P_mean", real=True), sp.Symbol("P_std", positive=True)
    in_range = (t < 1,)
    return (
        Step("vp_log_snr", sp.exp(LOG_SNR.expr.subs(vp)), sp.exp(L),
             justification="VP: α² = sigmoid(λ), σ² = sigmoid(−λ) — Kingma et al. (2021)"),
        Step("omega_eps", omega(W_EPS.expr, vp), sp.Integer(1),
             justification="ε-prediction: ω = 1 (the ELBO for w = 1 under −dλ/dt) — " + _KG),
        Step("omega_x0", omega(W_X0.expr, vp), sp.exp(-L),
             justification="x_0-prediction: ω = e^{−λ} — Kingma et al. (2021); " + _KG),
        Step("omega_v", omega(W_V.expr, vp), sp.exp(-L) + 1,
             justification="v-prediction on VP: ω = e^{−λ} + 1 — " + _KG),
        Step("omega_score", omega(W_SCORE.expr, vp), sp.exp(L) + 1,
             justification="plain DSM on VP: ω = 1/σ² = e^{λ} + 1 — " + _DSM),
        Step("omega_edm", omega(W_EDM.expr, ve), (sp.exp(-L) + sigma_data**2) / sigma_data**2,
             justification="EDM: ω = (e^{−λ} + σ_d²)/σ_d² (α = 1, σ = e^{−λ/2}) — " + _KG),
        Step("omega_min_snr", omega(W_MIN_SNR.expr, vp), sp.Min(sp.exp(L), gamma) / sp.exp(L),
             justification="min-SNR-γ: ω = min(e^{λ}, γ)/e^{λ} — Hang et al. (2023)"),
        Step("cosine_log_snr", sp.exp(-lam_cos), sp.exp(-lam_kg),
             justification="cosine schedule with s = 0: SNR = cot²(πt/2), λ = −2 log tan(πt/2) — "
             "Nichol & Dhariwal (2021), eq. 17; " + _KG),
        Step("cosine_density", p_cos, sech(lam_kg / 2) / (2 * sp.pi),
             justification="t ~ U(0, 1) on the cosine schedule: p(λ) = sech(λ/2)/(2π) — " + _KG),
        Step("iddpm_w", omega(W_EPS.expr, vp) * sech(L / 2) / (2 * sp.pi),
             sech(L / 2) / (2 * sp.pi),
             justification="ε-prediction, cosine (IDDPM): w ∝ sech(λ/2) — agrees with " + _KG),
        Step("v_cosine_w", omega(W_V.expr, vp) * sech(L / 2) / (2 * sp.pi), sp.exp(-L / 2) / sp.pi,
             justification="v-prediction, cosine: w ∝ e^{−λ/2} — agrees with " + _KG),
        Step("edm_density", normal(-L / 2, p_mean, p_std**2) / 2,
             normal(L, -2 * p_mean, 4 * p_std**2),
             justification="ln σ ~ N(P_mean, P_std²) and λ = −2 ln σ: p(λ) = N(λ; −2P_mean, "
             "4P_std²) — Karras et al. (2022), Table 1"),
        Step("edm_w", omega(W_EDM.expr, ve).subs(sigma_data, sp.Rational(1, 2))
             * normal(-L / 2, sp.Rational(-6, 5), sp.Rational(36, 25)) / 2,
             normal(L, sp.Rational(12, 5), sp.Rational(144, 25)) * (sp.exp(-L) + sp.Rational(1, 4))
             / sp.Rational(1, 4),
             justification="EDM: w = N(λ; 2.4, 2.4²)(e^{−λ} + 0.5²)/0.5² — agrees with " + _KG),
        Step("flow_matching_w", omega(W_FM.expr, {alpha: 1 - t, sigma: t}) * p_rf,
             sp.exp(-lam_rf / 2) / 2, assumptions=in_range,
             justification="rectified flow, t ~ U(0, 1): w = e^{−λ/2}/2 ∝ e^{−λ/2} — agrees with "
             "FM-OT in " + _KG),
    )
