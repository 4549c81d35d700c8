"""The catalogue of known score-space weightings λ(t), and matching a measured λ(t) against it.

A DSM-type loss with per-sample value ‖u_θ(x_t) − (a x0 + b)‖² equals λ(t)‖s_θ − h‖² + const, with
λ(t) fixed by the parametrisation (Kingma & Gao 2023, Table 1; Karras et al. 2022, Table 1;
docs/design.md §2). The formulas are declared once in ``proofs`` (``weighting_*`` closed forms)
and evaluated here through ``lambdify``.

Any (α, σ) path, general formulas. With h = −ε/σ and x0 = (x_t − σε)/α, a per-sample loss
‖û − u‖² against a target u affine in (x0, ε) is λ‖s − h‖² + const with
  * ε-prediction, u = ε:                     λ = σ²;
  * x0-prediction, u = x0:                   λ = σ⁴/α²;
  * velocity, u = α̇ x0 + σ̇ ε (any scheduler: rectified flow, cosine, VP, polynomial paths of
    flow matching; dots are d/dt in the schedule's units):
        u = (α̇/α) x_t + σ(σ̇ − α̇σ/α)·(−h)  ⇒  λ = σ²(α̇σ − ασ̇)²/α²
    (``weighting_velocity`` in ``proofs``). Rectified flow (α = 1 − t, σ = t) gives σ²/α², the
    trigonometric VP path (α̇ = −σφ̇, σ̇ = αφ̇) the v-prediction weighting times φ̇².
The rates α̇, σ̇ come from the schedule by autograd (:func:`path_rates`).

When no scalar λ(t) fits, :func:`fit_metric` fits a diagonal metric Λ(t): a per-sample loss
(s − h)ᵀΛ(t)(s − h) with Λ(t) ≻ 0 independent of x0 averages to Σ_d Λ_d(t)·(s − ∇log p_t)_d² + c,
a weighted SM (docs/design.md §3b, "Metric weightings").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import proofs

__all__ = ["VELOCITY", "WEIGHTINGS", "Match", "MetricFit", "Weighting", "describe_power_law",
           "fit_metric", "match_weighting", "path_rates", "scale_text"]

Tensor = torch.Tensor


@dataclass(frozen=True)
class Weighting:
    """One named weighting λ in score space, evaluated from its ``proofs`` closed form.

    ``formula`` is the text used in messages; ``params`` are the closed form's parameters beyond
    α and σ (e.g. ``sigma_data`` for EDM) that a match fits or the caller supplies.
    """

    name: str
    formula: str
    closed_form: str
    params: tuple[str, ...] = ()

    def __call__(self, alpha: Tensor, sigma: Tensor, **params: float) -> Tensor:
        """λ at the kernels (α, σ), float64."""
        form = proofs.closed_form(self.closed_form)
        values: dict[str, Any] = {"alpha": alpha.detach().double().cpu().numpy(),
                  "sigma": sigma.detach().double().cpu().numpy(), **params}
        out = form.lambdified("numpy")(*(values[p.name] for p in form.params))
        shape = values["sigma"].shape
        return torch.as_tensor(np.broadcast_to(np.asarray(out, dtype=np.float64), shape).copy())


WEIGHTINGS: dict[str, Weighting] = {w.name: w for w in (
    Weighting("score", "1", "weighting_score"),
    Weighting("eps", "σ²", "weighting_eps"),
    Weighting("x0", "σ⁴/α²", "weighting_x0"),
    Weighting("v", "σ²(α²+σ²)²/α²", "weighting_v"),
    Weighting("flow_matching", "σ²/α²", "weighting_flow_matching"),
    Weighting("edm", "σ²(σ²+σ_data²)/σ_data²", "weighting_edm", ("sigma_data",)),
    Weighting("min_snr_eps", "σ²·min(α²/σ², γ)/(α²/σ²)", "weighting_min_snr_eps", ("gamma",)),
    Weighting("velocity", "σ²(α̇σ − ασ̇)²/α² (velocity u = α̇x0 + σ̇ε on this path)",
              "weighting_velocity", ("dalpha", "dsigma")),
)}
#: λ = g²(t), the likelihood (ELBO) weighting of Song et al. (2021a), needs the schedule's g².
LIKELIHOOD = "likelihood"
#: A velocity target u = α̇ x0 + σ̇ ε on the schedule's own path; needs α̇, σ̇ (path_rates).
VELOCITY = "velocity"
_VELOCITY_FORMULA = WEIGHTINGS[VELOCITY].formula


def path_rates(kernel: Any, t: Tensor) -> tuple[Tensor, Tensor] | None:
    """(α̇(t), σ̇(t)) by autograd through the schedule's α and σ, float64; None for discrete
    tables and for schedules that are not differentiable in t (e.g. a probed add_noise)."""
    if getattr(kernel, "discrete", False) or not t.is_floating_point():
        return None
    try:
        with torch.enable_grad():
            tt = t.detach().to(torch.float64).clone().requires_grad_(True)
            a = kernel.alpha(tt).reshape(-1)
            s = kernel.sigma(tt).reshape(-1)
            if not (a.requires_grad and s.requires_grad):
                return None
            (da,) = torch.autograd.grad(a.sum(), tt, retain_graph=True)
            (ds,) = torch.autograd.grad(s.sum(), tt)
    except Exception:  # a schedule autograd cannot see through: no velocity matching
        return None
    da, ds = da.detach().double().cpu(), ds.detach().double().cpu()
    if not (bool(torch.isfinite(da).all()) and bool(torch.isfinite(ds).all())):
        return None
    return da, ds


def velocity_weighting(alpha: Tensor, sigma: Tensor, dalpha: Tensor, dsigma: Tensor) -> Tensor:
    """λ = σ²(α̇σ − ασ̇)²/α², from the ``weighting_velocity`` closed form."""
    form = proofs.closed_form("weighting_velocity")
    values = {"alpha": alpha.double().cpu().numpy(), "sigma": sigma.double().cpu().numpy(),
              "dalpha": dalpha.double().cpu().numpy(), "dsigma": dsigma.double().cpu().numpy()}
    out = form.lambdified("numpy")(*(values[p.name] for p in form.params))
    return torch.as_tensor(np.broadcast_to(np.asarray(out, dtype=np.float64),
                                           values["sigma"].shape).copy())


@dataclass(frozen=True)
class Match:
    """A measured λ(t) explained as ``scale`` × a known weighting (with fitted ``params``)."""

    name: str
    scale: float
    params: tuple[tuple[str, float], ...]
    formula: str

    def text(self, dim: int) -> str:
        """E.g. ``eps: λ = σ²/D with D=3``."""
        extra = "".join(f", {k}={v:.4g}" for k, v in self.params)
        return f"{self.name}: λ = {scale_text(self.scale, self.formula, dim)}{extra}"


def scale_text(scale: float, formula: str, dim: int) -> str:
    """``formula`` times a positive constant, named when it is 1/D, 1/2, 1/(2D), D, 2 or 2D."""
    named = {1.0: "", 1.0 / dim: "/D", 0.5: "/2", 0.5 / dim: "/(2D)", float(dim): "·D", 2.0: "·2",
             2.0 * dim: "·2D"}
    for value, suffix in named.items():
        if math.isclose(scale, value, rel_tol=1e-6):
            if not suffix:
                return formula
            return f"{formula}{suffix} with D={dim}" if "D" in suffix else f"{formula}{suffix}"
    return f"{scale:.6g}·{formula}"


def _constant_ratio(lam: Tensor, ref: Tensor, rtol: float) -> float | None:
    """The factor c with lam = c·ref on every point (c > 0), or None."""
    if not bool((ref > 0).all()) or not bool(torch.isfinite(ref).all()):
        return None
    r = lam / ref
    c = float(r.mean())
    if c <= 0 or float((r - c).abs().max()) > rtol * c:
        return None
    return c


def _fit_edm(lam: Tensor, alpha: Tensor, sigma: Tensor, rtol: float) -> Match | None:
    """λ/σ² = c + (c/σ_d²)σ² is linear in σ²: fit c > 0 and σ_data by least squares."""
    if sigma.numel() < 3 or float((alpha - 1).abs().max()) > 1e-12:
        return None
    y, s2 = lam / sigma**2, sigma**2
    design = torch.stack([torch.ones_like(s2), s2], dim=1)
    coef = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1)
    c, b = float(coef[0]), float(coef[1])
    # b·σ²/c = σ²/σ_data² must matter somewhere on the checked range: a b at rounding level
    # (σ_data ≫ σ_max) is the plain σ² shape, not a fitted EDM weighting.
    if c <= 0 or b <= 0 or b * float(s2.max()) < 1e3 * rtol * c:
        return None
    sd = math.sqrt(c / b)
    ref = WEIGHTINGS["edm"](alpha, sigma, sigma_data=sd)
    scale = _constant_ratio(lam, ref, rtol)
    if scale is None:
        return None
    return Match("edm", scale, (("sigma_data", sd),), WEIGHTINGS["edm"].formula)


def _fit_min_snr(lam: Tensor, alpha: Tensor, sigma: Tensor, rtol: float) -> Match | None:
    """λ/σ² = c·min(1, γ/snr): c is the plateau, γ comes from the clamped points."""
    q, snr = lam / sigma**2, alpha**2 / sigma**2
    c = float(q.max())
    clamped = q < c * (1 - 10 * rtol)
    if c <= 0 or not bool(clamped.any()) or bool(clamped.all()):
        return None
    gamma = float((q[clamped] * snr[clamped] / c).median())
    ref = WEIGHTINGS["min_snr_eps"](alpha, sigma, gamma=gamma)
    scale = _constant_ratio(lam, ref, rtol)
    if scale is None:
        return None
    return Match("min_snr_eps", scale, (("gamma", gamma),), WEIGHTINGS["min_snr_eps"].formula)


def match_weighting(lam: Tensor, alpha: Tensor, sigma: Tensor, *, g2: Tensor | None = None,
                    rtol: float = 1e-6, prefer: str | None = None,
                    params: dict[str, float] | None = None,
                    rates: tuple[Tensor, Tensor] | None = None) -> Match | None:
    """The first known weighting whose shape equals the measured ``lam`` up to a constant.

    Shapes can coincide (with α = 1, eps, flow matching and NCSN are all σ²); ``prefer`` names the
    one to report first when it fits. ``params`` fixes σ_data / γ instead of fitting them.
    """
    lam, alpha, sigma = (v.detach().double().cpu() for v in (lam, alpha, sigma))
    params = params or {}
    names = [*WEIGHTINGS, LIKELIHOOD]
    if prefer in names:
        names.remove(prefer)
        names.insert(0, prefer)
    for name in names:
        found = _try(name, lam, alpha, sigma, g2, rtol, params, rates)
        if found is not None:
            return found
    return None


def _try(name: str, lam: Tensor, alpha: Tensor, sigma: Tensor, g2: Tensor | None, rtol: float,
         params: dict[str, float], rates: tuple[Tensor, Tensor] | None = None) -> Match | None:
    if name == VELOCITY:
        if rates is None:
            return None
        c = _constant_ratio(lam, velocity_weighting(alpha, sigma, *rates), rtol)
        return None if c is None else Match(VELOCITY, c, (), _VELOCITY_FORMULA)
    if name == LIKELIHOOD:
        if g2 is None:
            return None
        c = _constant_ratio(lam, g2.detach().double().cpu(), rtol)
        return None if c is None else Match(LIKELIHOOD, c, (), "g²")
    w = WEIGHTINGS[name]
    if w.params and not all(p in params for p in w.params):
        if name == "edm":
            return _fit_edm(lam, alpha, sigma, rtol)
        return _fit_min_snr(lam, alpha, sigma, rtol)
    fixed = {p: params[p] for p in w.params}
    c = _constant_ratio(lam, w(alpha, sigma, **fixed), rtol)
    return None if c is None else Match(name, c, tuple(fixed.items()), w.formula)


def _power(name: str, p: float) -> str:
    if p == 0:
        return ""
    if p == 1:
        return name
    return f"{name}^{p:g}"


def describe_power_law(lam: Tensor, alpha: Tensor, sigma: Tensor, *,
                       rtol: float = 1e-6) -> str | None:
    """``λ = c·σ^p·α^q`` when the measured λ(t) is exactly such a power law (p, q in halves)."""
    lam, alpha, sigma = (v.detach().double().cpu() for v in (lam, alpha, sigma))
    if not bool((lam > 0).all()) or lam.numel() < 3:
        return None
    cols = [torch.ones_like(lam), sigma.log()]
    if float(alpha.log().std()) > 1e-9:
        cols.append(alpha.log())
    design = torch.stack(cols, 1)
    coef = torch.linalg.lstsq(design, lam.log().unsqueeze(1)).solution.squeeze(1)
    powers = [round(2 * float(c)) / 2 for c in coef[1:]]
    if any(abs(2 * float(c) - 2 * p) > 1e-4 for c, p in zip(coef[1:], powers, strict=True)):
        return None
    rest = lam.log() - design[:, 1:] @ torch.tensor(powers, dtype=torch.float64)
    c = float(rest.mean().exp())
    if float((rest - rest.mean()).abs().max()) > rtol:
        return None
    shape = "·".join(x for x in (_power("σ", powers[0]),
                                 _power("α", powers[1]) if len(powers) > 1 else "") if x) or "1"
    return f"λ = {c:.4g}·{shape}"


@dataclass(frozen=True)
class MetricFit:
    """A diagonal metric Λ(t) fitted per group of dimensions (each dimension, or each channel of
    an image shape): ``diag`` [T, G], ``groups`` the group of every flat dimension, ``residual``
    [T] relative, ``per`` "dimension" or "channel"."""

    diag: Tensor
    groups: Tensor
    residual: Tensor
    per: str

    def per_dim(self) -> Tensor:
        """Λ(t) expanded to every flat dimension: [T, D]."""
        return self.diag[:, self.groups]


def fit_metric(ls: list[Tensor], est: list[Tensor], score: Tensor,
               shape: tuple[int, ...]) -> MetricFit | None:
    """Least squares per t of L̄_j − L̄_0 on the per-group terms Σ_{d∈g}(S_jd − S_0d), with
    S_jd = (∇log p_t − s_j)_d²; None when there are too few equations for the unknowns."""
    flat = math.prod(shape)
    if len(shape) >= 2 and shape[0] > 1 and flat > 1:
        groups, per = torch.arange(shape[0]).repeat_interleave(flat // shape[0]), "channel"
        n_g = shape[0]
    else:
        groups, per, n_g = torch.arange(flat), "dimension", flat
    if n_g < 2:
        return None
    dl = torch.stack([v - ls[0] for v in ls[1:]])                          # [J, T, n]
    sq = [(score - e) ** 2 for e in est]                                  # [T, n, D]
    dsd = torch.stack([v - sq[0] for v in sq[1:]])                        # [J, T, n, D]
    feats = torch.zeros(*dsd.shape[:-1], n_g, dtype=torch.float64)
    feats.index_add_(-1, groups, dsd)
    rows = dl.shape[0] * dl.shape[2]
    if rows < 4 * n_g:
        return None
    diag, res = [], []
    for i in range(dl.shape[1]):
        design = feats[:, i].reshape(rows, n_g)
        y = dl[:, i].reshape(rows)
        scale = design.abs().amax(0).clamp_min(1e-300)
        coef = torch.linalg.lstsq(design / scale, y.unsqueeze(1)).solution.squeeze(1) / scale
        diag.append(coef)
        res.append(float((y - design @ coef).norm() / y.norm().clamp_min(1e-300)))
    return MetricFit(torch.stack(diag), groups, torch.tensor(res, dtype=torch.float64), per)
