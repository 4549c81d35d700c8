"""Overflow-safe pieces shared by the mixture and empirical oracles: quadratic forms scaled by a
power of two, evaluation in blocks, covariances resolved to eigen-decompositions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from ._errors import ShapeError, invalid
from ._validate import check_finite, check_positive

__all__ = ["relative_quadratic"]

Tensor = torch.Tensor


#: Work in blocks of at most this many elements of the [rows, K, d] intermediates.
_BLOCK = 1 << 22


def relative_quadratic(u: Tensor, offset: Tensor) -> tuple[Tensor, Tensor]:
    """(offset_k − ½(‖u_k‖² − m), −½ m) with m = min_k ‖u_k‖², for u [..., K, d].

    u is divided by a power of two near its largest entry before squaring (an exact scaling), so
    the sums never overflow; the differences are scaled back and may become +inf (weight 0) but
    never NaN.
    """
    finite = torch.isfinite(u.detach()).all(-1)                         # [..., K]
    if not bool(finite.all()):
        # x is more than ~1e308 standard deviations from a component: its weight is then only
        # decidable if it is the only component (weight 1); otherwise refuse, never guess.
        if u.shape[-2] > 1:
            raise invalid("xt", "is further than float64 can measure from the components "
                          "(distances beyond 1e308 standard deviations): the posterior weights "
                          "are not representable", "use a larger σ or points closer to the data")
        u = torch.nan_to_num(u, posinf=torch.finfo(u.dtype).max,
                             neginf=-torch.finfo(u.dtype).max)
        inf_base = ~finite[..., 0]
    else:
        inf_base = None
    top = u.detach().abs().amax(dim=(-2, -1))
    _, exponent = torch.frexp(top)  # top < 2**exponent; 2**(exponent − 1) is always finite
    scale = torch.ldexp(torch.ones_like(top), exponent - 1).clamp_min(
        torch.finfo(u.dtype).tiny)[..., None]
    q = ((u / scale[..., None]) ** 2).sum(-1)                        # [..., K], each <= 4d
    q_min = q.amin(-1, keepdim=True)
    rel = offset - 0.5 * ((q - q_min) * scale) * scale
    base = (-0.5 * (q_min * scale) * scale).squeeze(-1)
    if inf_base is not None:
        base = torch.where(inf_base, torch.full_like(base, -math.inf), base)
    return rel, base


def _cat(parts: list[Tensor], lead: tuple[int, ...]) -> Tensor:
    """Concatenate per-block results and restore the leading shape of the input."""
    out = torch.cat(parts) if len(parts) > 1 else parts[0]
    return out.reshape(*lead, *out.shape[1:])


def _blocks(x: Tensor, per_row: int) -> Iterator[Tensor]:
    rows = max(1, _BLOCK // max(1, per_row))
    if x.shape[0] == 0:
        yield x
        return
    yield from torch.split(x, rows)


def _covariances(cov: Tensor, k: int, d: int) -> tuple[str, Tensor, Tensor, Tensor | None]:
    """Check Σ and return (kind, Σ, eigenvalues [K, d], eigenvectors [K, d, d] or None)."""
    check_finite("covs", cov)
    if cov.dim() == 1 and cov.shape[0] == k:
        check_positive("covs", cov)
        return "isotropic", cov, cov.unsqueeze(-1).expand(k, d).clone(), None
    if cov.dim() == 2 and tuple(cov.shape) == (k, d):
        check_positive("covs", cov)
        return "diagonal", cov, cov.clone(), None
    if cov.dim() == 3 and tuple(cov.shape) == (k, d, d):
        scale = float(cov.abs().amax())
        asym = float((cov - cov.transpose(-1, -2)).abs().amax())
        if asym > 1e-6 * scale:
            raise invalid("covs", f"is not symmetric (largest |Σ − Σᵀ| = {asym:.3g})",
                          "pass symmetric matrices, e.g. (A + A.mT) / 2")
        cov = 0.5 * (cov + cov.transpose(-1, -2))
        eigvals, eigvecs = torch.linalg.eigh(cov)
        smallest, largest = eigvals.amin(-1), eigvals.amax(-1)
        bad = smallest <= d * torch.finfo(torch.float64).eps * largest.abs()
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise invalid("covs", f"component {i} is not positive definite (eigenvalues in "
                          f"[{float(smallest[i]):.3g}, {float(largest[i]):.3g}])",
                          "pass positive definite matrices, e.g. A @ A.mT + eps * I")
        return "full", cov, eigvals, eigvecs
    raise invalid("covs", f"has shape {list(cov.shape)} for K={k}, d={d}",
                  f"pass [{k}] (isotropic), [{k}, {d}] (diagonal) or [{k}, {d}, {d}] (full)",
                  ShapeError)
