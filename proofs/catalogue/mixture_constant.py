"""C(t) of a Gaussian mixture in high precision (mpmath), for the numeric side to compare with.

C(t) = (α²/σ⁴) E_{x_t} tr Cov(x_0|x_t) (docs/design.md §1; proved for mixtures in
``sm_dsm[mixture-K-1d]``). For p_0 = Σ_k π_k N(μ_k, τ_k² I) the posterior is Σ_k w_k N(m_k, c_k I)
with c_k = σ²τ_k²/v_k, v_k = α²τ_k² + σ², so

    C = (α²/σ⁴) [ d Σ_k π_k c_k + ∫ p_t(x) Σ_k w_k(x) ‖m_k(x) − m(x)‖² dx ],

a sum of nonnegative terms (no cancellation, unlike d/σ² − J(p_t) at small σ). The integral is
reduced exactly to the span of {μ_k − μ_1} (dimension r) plus, when the v_k differ, the radius of
the orthogonal part; mpmath's tanh-sinh quadrature evaluates it when that leaves one dimension
(every 1-D mixture; in d dimensions, collinear means with equal τ_k², or equal means). Larger
reductions are refused: tanh-sinh in two dimensions at 30 digits takes minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import mpmath

from .._errors import invalid

__all__ = ["mixture_constant"]

_MAX_REDUCED_DIM = 1
_WEIGHT_TOL = 1e-9


def _positive(name: str, value: Any, *, zero: bool = False) -> mpmath.mpf:
    if isinstance(value, bool) or not isinstance(value, Real | mpmath.mpf):
        raise invalid(name, f"got {value!r} of type {type(value).__name__}",
                      "pass a real number (float, int or mpmath.mpf)")
    out = mpmath.mpf(value)
    if not mpmath.isfinite(out) or out < 0 or (out == 0 and not zero):
        raise invalid(name, f"got {value!r}", "pass a finite number " + (">= 0" if zero
                                                                          else "> 0"))
    return out


def _vector(name: str, value: Any, dim: int | None) -> list[mpmath.mpf]:
    items = [value] if isinstance(value, Real | mpmath.mpf) and not isinstance(value, bool) \
        else value
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise invalid(name, f"got {value!r}", "pass a number (1-D) or a sequence of numbers")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, Real | mpmath.mpf):
            raise invalid(name, f"entry {item!r} is not a real number", "pass real numbers")
        entry = mpmath.mpf(item)
        if not mpmath.isfinite(entry):
            raise invalid(name, f"entry {item!r} is not finite", "pass finite numbers")
        out.append(entry)
    if dim is not None and len(out) != dim:
        raise invalid(name, f"has length {len(out)} but the first mean has length {dim}",
                      "give every mean the same dimension d")
    if not out:
        raise invalid(name, "is empty", "give each mean at least one coordinate")
    return out


def _validate(weights: Any, means: Any, variances: Any, alpha: Any, sigma: Any
              ) -> tuple[list[mpmath.mpf], list[list[mpmath.mpf]], list[mpmath.mpf],
                         mpmath.mpf, mpmath.mpf]:
    for name, value in (("weights", weights), ("means", means), ("variances", variances)):
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) == 0:
            raise invalid(name, f"got {value!r}", "pass a non-empty sequence, one entry per "
                          "component")
    count = len(weights)
    for name, value in (("means", means), ("variances", variances)):
        if len(value) != count:
            raise invalid(name, f"has {len(value)} entries but weights has {count}",
                          "give one entry per component")
    w = [_positive(f"weights[{k}]", v) for k, v in enumerate(weights)]
    total = mpmath.fsum(w)
    if abs(total - 1) > _WEIGHT_TOL:
        raise invalid("weights", f"sum to {mpmath.nstr(total, 12)}, not 1",
                      "normalise the weights (divide by their sum)")
    w = [wk / total for wk in w]   # exactly 1 in working precision (0.3 + 0.7 ≠ 1 in binary)
    first = _vector("means", means[0], None)
    mu = [_vector("means", m, len(first)) for m in means]
    tau2 = [_positive(f"variances[{k}]", v, zero=True) for k, v in enumerate(variances)]
    return w, mu, tau2, _positive("alpha", alpha), _positive("sigma", sigma)


def _span_basis(mu: list[list[mpmath.mpf]]) -> list[list[mpmath.mpf]]:
    """An orthonormal basis of span{μ_k − μ_1} (modified Gram-Schmidt with a relative cut)."""
    basis: list[list[mpmath.mpf]] = []
    scale = max([mpmath.norm(m) for m in mu] + [mpmath.mpf(1)])
    for m in mu[1:]:
        r = [a - b for a, b in zip(m, mu[0], strict=True)]
        for e in basis:
            dot = mpmath.fsum(a * b for a, b in zip(r, e, strict=True))
            r = [a - dot * b for a, b in zip(r, e, strict=True)]
        n = mpmath.norm(r)
        if n > scale * mpmath.mpf(10) ** (-mpmath.mp.dps + 5):
            basis.append([a / n for a in r])
    return basis


def mixture_constant(weights: Sequence[float], means: Sequence[Any], variances: Sequence[float],
                     alpha: float, sigma: float, dps: int = 30) -> mpmath.mpf:
    """C(t) = DSM − SM for p_0 = Σ_k π_k N(μ_k, τ_k² I) under x_t = α x_0 + σ ε, in mpmath.

    ``weights`` π_k (positive, summing to 1 within 1e-9; renormalised exactly), ``means`` μ_k
    (numbers in 1-D, or sequences of length d), ``variances`` τ_k² ≥ 0 (one isotropic variance
    per component; 0 is a point mass, so a finite data set is the case of all zeros). Evaluates
    (α²/σ⁴) E tr Cov(x_0|x_t) (docs/design.md §1; Vincent 2011, §4.2) by tanh-sinh quadrature
    at ``dps`` digits. Supported when the integral reduces to one dimension: every 1-D mixture;
    in d dimensions, means on one line with equal τ_k², or equal means with any τ_k².
    With K = 1 it is d/σ² − d/(α²τ² + σ²). Raises :class:`~proofs.InvalidArgument` naming the
    argument for bad input.
    """
    if isinstance(dps, bool) or not isinstance(dps, int) or dps < 15:
        raise invalid("dps", f"got {dps!r}", "pass an integer number of digits >= 15")
    with mpmath.workdps(dps + 10):
        w, mu, tau2, a, s = _validate(weights, means, variances, alpha, sigma)
        value = _constant(w, mu, tau2, a, s)
    with mpmath.workdps(dps):
        return +value


def _constant(w: list[mpmath.mpf], mu: list[list[mpmath.mpf]], tau2: list[mpmath.mpf],
              a: mpmath.mpf, s: mpmath.mpf) -> mpmath.mpf:
    d = len(mu[0])
    s2 = s * s
    v = [a * a * t + s2 for t in tau2]
    c = [s2 * t / vk for t, vk in zip(tau2, v, strict=True)]
    within = d * mpmath.fsum(p * ck for p, ck in zip(w, c, strict=True))
    basis = _span_basis(mu)
    r = len(basis)
    b = [[mpmath.fsum((m_i - f_i) * e_i for m_i, f_i, e_i in zip(m, mu[0], e, strict=True))
          for e in basis] for m in mu]                       # μ_k − μ_1 in the basis
    beta = [a * t / vk for t, vk in zip(tau2, v, strict=True)]  # z-part of m_k is β_k z
    equal_v = all(vk == v[0] for vk in v)
    n_perp = d - r
    radial = n_perp > 0 and not equal_v
    if r + radial == 0:
        return a * a / (s2 * s2) * within
    if r + radial > _MAX_REDUCED_DIM:
        raise invalid("means", f"the between-component integral has {r + radial} dimensions "
                      f"after reduction (span of the means: {r}; unequal variances add the "
                      "radius of the orthogonal part)", "use a 1-D mixture, collinear means with "
                      "equal variances, or equal means; otherwise the numeric side's "
                      "numeric.GaussianMixture.constant")
    log_norm = [mpmath.log(p) - mpmath.mpf(d) / 2 * mpmath.log(2 * mpmath.pi * vk)
                for p, vk in zip(w, v, strict=True)]
    if not radial:  # the orthogonal part factorises out and integrates to 1
        log_norm = [mpmath.log(p) - mpmath.mpf(r) / 2 * mpmath.log(2 * mpmath.pi * vk)
                    for p, vk in zip(w, v, strict=True)]

    def integrand(*coords: mpmath.mpf) -> mpmath.mpf:
        y, rho = (coords[:-1], coords[-1]) if radial else (coords, mpmath.mpf(0))
        logs = [ln - (mpmath.fsum((yi - a * bi) ** 2 for yi, bi in zip(y, bk, strict=True))
                      + rho * rho) / (2 * vk)
                for ln, bk, vk in zip(log_norm, b, v, strict=True)]
        top = max(logs)
        terms = [mpmath.exp(lg - top) for lg in logs]
        total = mpmath.fsum(terms)
        wk = [t / total for t in terms]
        q = [[(a * t * yi + s2 * bi) / vk for yi, bi in zip(y, bk, strict=True)]
             for t, bk, vk in zip(tau2, b, v, strict=True)]
        qbar = [mpmath.fsum(wj * qj[i] for wj, qj in zip(wk, q, strict=True))
                for i in range(len(y))]
        bbar = mpmath.fsum(wj * bj for wj, bj in zip(wk, beta, strict=True))
        spread = mpmath.fsum(
            wj * (mpmath.fsum((qi - qb) ** 2 for qi, qb in zip(qj, qbar, strict=True))
                  + rho * rho * (bj - bbar) ** 2)
            for wj, qj, bj in zip(wk, q, beta, strict=True))
        density = total * mpmath.exp(top)
        if radial:  # surface of the unit sphere in R^{d-r} times rho^{d-r-1}
            density *= 2 * mpmath.pi ** (mpmath.mpf(n_perp) / 2) / mpmath.gamma(
                mpmath.mpf(n_perp) / 2) * rho ** (n_perp - 1)
        return density * spread

    centres = [[a * bi for bi in bk] for bk in b]
    limits = [_breakpoints([cen[i] for cen in centres], v) for i in range(r)]
    if radial:
        limits.append([mpmath.mpf(0)] + [mpmath.sqrt(vk) * j for vk in v for j in (2, 6)]
                      + [mpmath.inf])
        limits[-1] = [*sorted(set(limits[-1][:-1])), mpmath.inf]
    between = mpmath.quad(integrand, *limits)
    return a * a / (s2 * s2) * (within + between)


def _breakpoints(centres: list[mpmath.mpf], v: list[mpmath.mpf]) -> list[mpmath.mpf]:
    points = sorted({cen + j * mpmath.sqrt(vk) for cen, vk in zip(centres, v, strict=True)
                     for j in (-6, 0, 6)})
    return [-mpmath.inf, *points, mpmath.inf]
