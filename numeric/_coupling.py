"""Posterior-coupled evaluation sets (docs/design.md §3).

Draw x_t ~ p_t first. For a Gaussian mixture the posterior p(x_0|x_t) is a mixture of Gaussians
with weights w_k(x_t), means m_k(x_t) and covariances C_k. For each component we place antithetic
pairs x_0 = m_k ± C_k^{1/2} z, each with weight w_k/(2·pairs), and pass ε = (x_t − α x_0)/σ to the
loss. The joint law of (x_0, x_t) is unchanged, and the weighted set reproduces E[f(x_0)|x_t]
*exactly* (up to rounding) for every f affine in x_0: the antithetic pairs average to m_k and the
weights are the posterior's. Every DSM-type loss has a θ-dependent part affine in x_0, so on the
same x_t the difference loss(θ) − λ(t)·SM(θ) is identical for every θ (Vincent 2011, eq. 11 holds
pointwise in x_t). Dirac components (an :class:`EmpiricalDistribution`, C_k = 0) need no pairs:
x_0 = y_k with weight w_k(x_t), which is already the exact posterior.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ._errors import ShapeError, invalid
from ._validate import as_generator, kernel_scalars, positive_int

__all__ = ["CoupledBatch", "coupled_batch"]


@dataclass(frozen=True)
class CoupledBatch:
    """A posterior-coupled evaluation set: ``M`` weighted x_0 per x_t.

    ``xt[n,d]``, ``x0[n,M,d]``, ``eps[n,M,d]`` with ``xt = alpha*x0 + sigma*eps`` for every m, and
    ``weights[n,M]`` (each row sums to 1). ``alpha``, ``sigma`` are the kernel's 0-dim tensors.
    """

    xt: torch.Tensor
    x0: torch.Tensor
    eps: torch.Tensor
    weights: torch.Tensor
    alpha: torch.Tensor
    sigma: torch.Tensor

    @property
    def n(self) -> int:
        """Number of x_t samples."""
        return int(self.xt.shape[0])

    @property
    def m(self) -> int:
        """Number of weighted x_0 per x_t."""
        return int(self.x0.shape[1])

    def to(self, *, dtype: torch.dtype | None = None,
           device: str | torch.device | None = None) -> CoupledBatch:
        """The same set in another dtype and/or on another device (same draws)."""
        def move(x: torch.Tensor) -> torch.Tensor:
            return x.to(dtype=dtype or x.dtype, device=device or x.device)

        return CoupledBatch(*(move(x) for x in (self.xt, self.x0, self.eps, self.weights,
                                                 self.alpha, self.sigma)))

    def expect(self, values: torch.Tensor) -> torch.Tensor:
        """The posterior expectation Σ_m w_m f_m for ``values[n,M,...]`` -> ``[n,...]``."""
        if values.shape[:2] != self.weights.shape:
            raise invalid("values", f"has shape {list(values.shape)}, expected [n={self.n}, "
                          f"M={self.m}, ...]", "pass one value per (x_t, x_0) pair", ShapeError)
        w = self.weights.reshape(*self.weights.shape, *([1] * (values.dim() - 2)))
        return (w.to(values.dtype) * values).sum(dim=1)

    @property
    def target(self) -> torch.Tensor:
        """The conditional score h = −ε/σ for every pair, ``[n,M,d]`` (docs/design.md §1)."""
        return -self.eps / self.sigma

    @property
    def score(self) -> torch.Tensor:
        """∇log p_t(x_t) = E[h|x_t] from the weighted set (the seed's eq. score-2), ``[n,d]``."""
        return self.expect(self.target)


def _sample_xt(distribution: Any, n: int, alpha: torch.Tensor, sigma: torch.Tensor,
               generator: torch.Generator) -> torch.Tensor:
    if hasattr(distribution, "sample_xt"):
        return distribution.sample_xt(n, alpha, sigma, generator=generator)[2]
    x0 = distribution.sample(n, generator=generator)
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    return alpha * x0 + sigma * noise


def _sqrt_psd(covs: torch.Tensor) -> torch.Tensor:
    """A square root L with L Lᵀ = C for diagonal ``[K,d]`` or full ``[K,d,d]`` covariances."""
    if covs.dim() == 3:
        evals, evecs = torch.linalg.eigh(covs)
        return evecs * evals.clamp_min(0).sqrt().unsqueeze(-2)
    return covs.clamp_min(0).sqrt()


def coupled_batch(distribution: Any, alpha: Any, sigma: Any, n: int, *,
                  generator: torch.Generator | int, pairs: int = 1) -> CoupledBatch:
    """Draw ``n`` x_t ~ p_t and the posterior-coupled x_0 set for each (docs/design.md §3).

    ``distribution`` is a :class:`numeric.GaussianMixture` (``M = 2·pairs·K`` points per x_t) or
    an :class:`numeric.EmpiricalDistribution` (Dirac components, ``M = B``). ``generator`` draws
    x_t and then the antithetic directions z, so one seed replays the whole set.
    """
    n = positive_int("n", n)
    pairs = positive_int("pairs", pairs)
    if not all(hasattr(distribution, a) for a in ("posterior", "dtype", "device")):
        raise invalid("distribution", f"got {type(distribution).__name__}, which has no "
                      "posterior()", "pass a numeric.GaussianMixture or EmpiricalDistribution")
    dtype, device = distribution.dtype, torch.device(distribution.device)
    a, s = kernel_scalars(alpha, sigma, dtype=dtype, device=device)
    g = as_generator(generator, device)
    xt = _sample_xt(distribution, n, a, s, g)
    post = distribution.posterior(xt, a, s)
    w, means = post.weights, post.means  # [n,K], [n,K,d]
    covs = getattr(post, "covs", None)
    d = xt.shape[-1]
    if means.dim() == 2:  # components shared by every x_t (Dirac points y_k)
        means = means.unsqueeze(0).expand(n, -1, -1)
    if covs is None or not bool((covs != 0).any()):
        x0, weights = means, w
    else:
        k = means.shape[1]
        z = torch.randn((n, pairs, k, d), generator=g, dtype=dtype, device=device)
        if hasattr(post, "cov_sqrt_mul"):  # numeric.Posterior: the symmetric square root
            dev = post.cov_sqrt_mul(z)
        else:
            if covs.dim() == 1:  # isotropic variances [K]
                covs = covs.unsqueeze(-1).expand(k, d)
            root = _sqrt_psd(covs)
            dev = (torch.einsum("kij,npkj->npki", root, z) if root.dim() == 3
                   else root * z)
        dev = dev.transpose(1, 2)  # [n, K, P, d]
        centre = means.unsqueeze(2)
        x0 = torch.stack((centre + dev, centre - dev), dim=2)  # [n,K,2,P,d]
        x0 = x0.reshape(n, k * 2 * pairs, d)
        weights = (w / (2 * pairs)).repeat_interleave(2 * pairs, dim=1)
    eps = (xt.unsqueeze(1) - a * x0) / s
    return CoupledBatch(xt=xt, x0=x0, eps=eps, weights=weights, alpha=a, sigma=s)
