"""The posterior p(x0 | x_t) of a Gaussian mixture (or of a finite data set) under the kernel
x_t = α x0 + σ ε: a mixture of Gaussians with weights, means and covariances per x_t
(docs/design.md §3; Bishop 2006, §2.3.3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ._errors import invalid
from ._validate import as_generator, finite_result

__all__ = ["Posterior"]

Tensor = torch.Tensor


@dataclass(frozen=True, eq=False)
class Posterior:
    """The posterior p(x0|x_t) = Σ_k w_k(x_t) N(m_k(x_t), C_k) of a mixture (or a data set).

    ``weights``/``log_weights`` are [n, K] (rows sum to 1), ``means`` [n, K, d]; ``covs`` is
    [K, d, d] for full covariances and [K, d] (the diagonal) otherwise. ``cov_eigvals`` [K, d] and
    ``cov_eigvecs`` [K, d, d] (None when diagonal) factor C_k = U diag(eigvals) Uᵀ. Component k:
    precision Σ_k⁻¹ + (α²/σ²)I, mean C_k(Σ_k⁻¹μ_k + (α/σ²)x_t) (Bishop 2006, eq. 2.116),
    evaluated as μ_k + αΣ_k(α²Σ_k + σ²I)⁻¹(x_t − αμ_k). ``noise_means`` gives E[ε|x_t, k].
    """

    weights: Tensor
    log_weights: Tensor
    means: Tensor
    covs: Tensor
    cov_eigvals: Tensor
    cov_eigvecs: Tensor | None
    _noise: Tensor | Callable[[], Tensor] | None = field(repr=False, default=None)

    @property
    def noise_means(self) -> Tensor:
        """E[ε | x_t, component k] = (x_t − α m_k)/σ, [n, K, d], computed without the
        cancellation of that difference: for a Gaussian component it is σ(α²Σ_k + σ²I)⁻¹
        (x_t − αμ_k). A posterior draw x0 = m_k + C_k^{1/2} z has ε = noise_means_k −
        (α/σ) C_k^{1/2} z."""
        if self._noise is None:
            raise invalid("posterior", "was built without its noise means",
                          "build it with GaussianMixture.posterior or "
                          "EmpiricalDistribution.posterior")
        value = self._noise() if callable(self._noise) else self._noise
        return finite_result(value, "xt", "E[ε | x_t] = (x_t − α m_k)/σ")

    @property
    def mean(self) -> Tensor:
        """E[x0|x_t] = Σ_k w_k m_k, shape [n, d] (the ideal denoiser)."""
        return torch.einsum("...k,...kd->...d", self.weights, self.means)

    @property
    def trace_cov(self) -> Tensor:
        """tr Cov(x0|x_t) = Σ_k w_k (tr C_k + ‖m_k − m̄‖²), shape [n] (law of total variance,
        centred so that far-apart means do not cancel)."""
        centred = self.means - self.mean.unsqueeze(-2)
        between = (self.weights * (centred * centred).sum(-1)).sum(-1)
        return self.weights @ self.cov_eigvals.sum(-1) + between

    def cov_sqrt_mul(self, z: Tensor) -> Tensor:
        """C_k^{1/2} z_k for z of shape [..., K, d] (the symmetric square root)."""
        scaled = torch.sqrt(self.cov_eigvals) * z
        if self.cov_eigvecs is None:
            return scaled
        return torch.einsum("kde,...ke->...kd", self.cov_eigvecs, scaled)

    def sample(self, *, generator: torch.Generator | int) -> Tensor:
        """One draw x0 ~ p(x0|x_t) per row, shape [n, d]."""
        g = as_generator(generator, self.weights.device)
        flat_w = self.weights.reshape(-1, self.weights.shape[-1])
        k = torch.multinomial(flat_w, 1, replacement=True, generator=g).squeeze(-1)
        means = self.means.reshape(-1, *self.means.shape[-2:])
        d = means.shape[-1]
        z = torch.randn(k.numel(), d, generator=g, dtype=means.dtype, device=means.device)
        noise = torch.sqrt(self.cov_eigvals[k]) * z
        if self.cov_eigvecs is not None:
            noise = torch.einsum("nde,ne->nd", self.cov_eigvecs[k], noise)
        x0 = means[torch.arange(k.numel(), device=k.device), k] + noise
        return x0.reshape(*self.means.shape[:-2], d)
