"""Gaussian-mixture data p_0 = Σ_k π_k N(μ_k, Σ_k): the exact oracle for p_t, its score and
the posterior p(x0|x_t) under the kernel x_t = α x0 + σ ε (docs/design.md §1, §3).

Every covariance is held through its eigendecomposition Σ_k = U_k diag(λ_k) U_kᵀ (computed once,
in float64). Then α²Σ_k + σ²I = U_k diag(α²λ_k + σ²) U_kᵀ for every kernel, so no matrix is ever
inverted or re-factorised, and all sums over components go through log-sum-exp."""

from __future__ import annotations

import math
from typing import Any, Literal, overload

import torch

from ._errors import ShapeError, invalid
from ._frozen import FrozenDistribution
from ._posterior import Posterior
from ._quadratic import _blocks, _cat, _covariances, relative_quadratic
from ._validate import (
    as_float_tensor,
    as_generator,
    check_finite,
    check_fits,
    check_points,
    check_weights,
    finite_result,
    positive_int,
    resolve_device,
    resolve_dtype,
    sample_count,
)

__all__ = ["GaussianMixture", "Posterior", "relative_quadratic"]

Tensor = torch.Tensor


class GaussianMixture(FrozenDistribution):
    """p_0 = Σ_k π_k N(μ_k, Σ_k) in R^d, with exact p_t, ∇log p_t and p(x0|x_t).

    ``covs`` is [K] (isotropic Σ_k = c_k I), [K, d] (diagonal) or [K, d, d] (full, symmetric
    positive definite). K = 1 is a single Gaussian. Parameters are stored in ``dtype`` on
    ``device``; methods taking x_t require x_t in the same dtype and on the same device.
    """

    __slots__ = ("_cov_kind", "_covs", "_device", "_dtype", "_eig_sd", "_eigvals", "_eigvecs",
                 "_log_weights", "_means", "_weights")
    _cov_kind: str
    _covs: Tensor
    _device: torch.device
    _dtype: torch.dtype
    _eig_sd: Tensor
    _eigvals: Tensor
    _eigvecs: Tensor | None
    _log_weights: Tensor
    _means: Tensor
    _weights: Tensor

    def __init__(self, weights: Any, means: Any, covs: Any, *,
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> None:
        dtype = resolve_dtype(dtype)
        dev = resolve_device(device)
        w = check_weights("weights", weights, dev)
        k = w.numel()
        # Private float64 copies: a caller's tensor changed later cannot change the mixture.
        mu = check_finite("means", as_float_tensor("means", means, dtype=torch.float64,
                                                   device=dev).detach().clone())
        if mu.dim() != 2 or mu.shape[0] != k or mu.shape[1] < 1:
            raise invalid("means", f"has shape {list(mu.shape)} for {k} weights",
                          f"pass means of shape [{k}, d] (for 1-D data [{k}, 1])", ShapeError)
        kind, cov, eigvals, eigvecs = _covariances(as_float_tensor(
            "covs", covs, dtype=torch.float64, device=dev).detach().clone(), k, mu.shape[1])
        put = object.__setattr__
        put(self, "_dtype", dtype)
        put(self, "_device", dev)
        put(self, "_cov_kind", kind)
        put(self, "_weights", w.to(dtype))
        put(self, "_log_weights", torch.log(w).to(dtype))
        # Values checked in float64 must survive the cast: refuse what ``dtype`` cannot hold.
        put(self, "_means", check_fits("means", mu, dtype))
        put(self, "_covs", check_fits("covs", cov, dtype))
        put(self, "_eigvals", check_fits("covs", eigvals, dtype))
        put(self, "_eig_sd", torch.sqrt(eigvals).to(dtype))
        put(self, "_eigvecs", None if eigvecs is None else eigvecs.to(dtype))

    # ---- parameters ---------------------------------------------------------------------
    @property
    def weights(self) -> Tensor:
        """π, shape [K] (a copy: the mixture is immutable)."""
        return self._weights.clone()

    @property
    def means(self) -> Tensor:
        """μ, shape [K, d] (a copy)."""
        return self._means.clone()

    @property
    def covs(self) -> Tensor:
        """Σ as given: [K] (isotropic), [K, d] (diagonal) or [K, d, d] (full, symmetrised); a
        copy."""
        return self._covs.clone()

    @property
    def cov_kind(self) -> str:
        """"isotropic", "diagonal" or "full"."""
        return self._cov_kind

    @property
    def dim(self) -> int:
        return int(self._means.shape[1])

    @property
    def n_components(self) -> int:
        return int(self._means.shape[0])

    def __repr__(self) -> str:
        return (f"GaussianMixture(n_components={self.n_components}, dim={self.dim}, "
                f"cov_kind={self.cov_kind!r}, dtype={self.dtype}, device='{self.device}')")

    def to(self, *, dtype: torch.dtype | None = None,
           device: str | torch.device | None = None) -> GaussianMixture:
        """The same mixture in another dtype and/or on another device."""
        return GaussianMixture(self._weights, self._means, self._covs,
                               dtype=self._dtype if dtype is None else dtype,
                               device=self._device if device is None else device)

    # ---- sampling -----------------------------------------------------------------------
    def sample(self, n: int, *, generator: torch.Generator | int) -> Tensor:
        """x0 ~ p_0, shape [n, d] (component by ``torch.multinomial``, then μ_k + Σ_k^{1/2} z)."""
        n = sample_count("n", n, row_bytes=(3 * self.dim + 1) * self._means.element_size())
        g = as_generator(generator, self._device)
        k = torch.multinomial(self._weights, n, replacement=True, generator=g)
        z = torch.randn(n, self.dim, generator=g, dtype=self._dtype, device=self._device)
        z = torch.sqrt(self._eigvals[k]) * z
        if self._eigvecs is not None:
            z = torch.einsum("nde,ne->nd", self._eigvecs[k], z)
        return self._means[k] + z

    def marginal(self, alpha: Any, sigma: Any) -> GaussianMixture:
        """p_t = Σ_k π_k N(αμ_k, α²Σ_k + σ²I) as a GaussianMixture."""
        a, s = self._kernel(alpha, sigma)
        if self._cov_kind == "full":
            eye = torch.eye(self.dim, dtype=self._dtype, device=self._device)
            covs = a * a * self._covs + s * s * eye
        else:
            covs = a * a * self._covs + s * s
        finite_result(covs, "sigma", "the marginal's covariance α²Σ + σ²I")
        return GaussianMixture(self._weights, a * self._means, covs, dtype=self._dtype,
                               device=self._device)

    # ---- exact oracles ------------------------------------------------------------------
    def log_prob(self, x0: Tensor) -> Tensor:
        """log p_0(x0), shape [...] for x0 of shape [..., d]."""
        out = self._logp_and_score(self._points("x0", x0), None, None)[0]
        return finite_result(out, "x0", "log p_0(x0)")

    def log_prob_t(self, xt: Tensor, alpha: Any, sigma: Any) -> Tensor:
        """log p_t(x_t) by log-sum-exp over components, shape [...] for x_t of shape [..., d]."""
        a, s = self._kernel(alpha, sigma)
        out = self._logp_and_score(self._points("xt", xt), a, s)[0]
        return finite_result(out, "xt", "log p_t(x_t)")

    def score_t(self, xt: Tensor, alpha: Any, sigma: Any) -> Tensor:
        """∇log p_t(x_t) = Σ_k w_k(x_t)·(−(α²Σ_k + σ²I)⁻¹(x_t − αμ_k)), shape like x_t."""
        a, s = self._kernel(alpha, sigma)
        out = self._logp_and_score(self._points("xt", xt), a, s)[1]
        return finite_result(out, "xt", "the score ∇log p_t(x_t)")

    def posterior(self, xt: Tensor, alpha: Any, sigma: Any) -> Posterior:
        """The exact posterior p(x0|x_t): weights ∝ π_k N(x_t; αμ_k, α²Σ_k + σ²I), component
        means μ_k + αΣ_k(α²Σ_k + σ²I)⁻¹(x_t − αμ_k) and covariances (Σ_k⁻¹ + (α²/σ²)I)⁻¹."""
        a, s = self._kernel(alpha, sigma)
        x, lead = self._points("xt", xt)
        sd = self._sd(a, s)                                       # [K, d] √eigenvalues of S_k
        shrink = a * self._eig_sd / sd                            # α√λ/√(α²λ + σ²) ≤ 1
        post_eig = self._eigvals * (s / sd) ** 2                  # eigenvalues of C_k
        logws, means, noise = [], [], []
        for block in _blocks(x, self.n_components * self.dim):
            z = self._rotate_in(block.unsqueeze(-2) - a * self._means)       # Uᵀ(x − αμ)
            u = z / sd                                                       # whitened
            logws.append(self._log_joint(u, sd)[0])
            # αλ/(α²λ + σ²)·z, as (shrink·√λ/sd)·z: finite even where z/sd overflows.
            means.append(self._means + self._rotate_out((shrink * self._eig_sd / sd) * z))
            noise.append(self._rotate_out((s / sd) * u))
        log_w = torch.log_softmax(_cat(logws, lead), -1)
        if self._eigvecs is None:
            covs = post_eig
        else:
            covs = torch.einsum("kde,ke,kfe->kdf", self._eigvecs, post_eig, self._eigvecs)
        return Posterior(torch.softmax(_cat(logws, lead), -1), log_w, _cat(means, lead), covs,
                         post_eig, self._eigvecs, _cat(noise, lead))

    def denoise(self, xt: Tensor, alpha: Any, sigma: Any) -> Tensor:
        """E[x0|x_t], shape like x_t (Tweedie: (x_t + σ²∇log p_t)/α; Efron 2011, eq. 2.8)."""
        return self.posterior(xt, alpha, sigma).mean

    @overload
    def constant(self, alpha: Any, sigma: Any, *, n: int = ...,
               generator: torch.Generator | int | None = ...,
               return_stderr: Literal[False] = ...) -> Tensor: ...

    @overload
    def constant(self, alpha: Any, sigma: Any, *, n: int = ...,
               generator: torch.Generator | int | None = ...,
               return_stderr: Literal[True]) -> tuple[Tensor, Tensor]: ...

    def constant(self, alpha: Any, sigma: Any, *, n: int = 4096,
               generator: torch.Generator | int | None = None,
               return_stderr: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """C(t) = DSM − SM = (α²/σ⁴) E_{x_t} tr Cov(x0|x_t) (Vincent 2011; docs/design.md §1).

        Exact in x0. The within-component part Σ_k π_k (α²/σ⁴) tr C_k is integrated exactly
        (E_{x_t}[w_k(x_t)] = π_k); the between-component part (α²/σ⁴) E Σ_k w_k‖m_k − m̄‖² is a
        Monte Carlo mean over ``n`` draws x_t ~ p_t (``generator``, default seed 0). K = 1 is the
        closed form d/σ² − tr((α²Σ + σ²I)⁻¹), with stderr 0. With ``return_stderr`` also
        returns the Monte Carlo standard error.
        """
        a, s = self._kernel(alpha, sigma)
        sd = self._sd(a, s)
        # d/σ² − tr S_k⁻¹ summed term by term as α²λ/(σ²(α²λ + σ²)): no cancellation, and
        # formed from ratios of standard deviations so that no σ² over- or underflows.
        within = self._weights @ ((a * self._eig_sd / sd) / s).pow(2).sum(-1)
        between, err = self._between(a, s, n, generator)
        value = finite_result(within + between, "sigma", "C(t)")
        return (value, err) if return_stderr else value

    @overload
    def fisher_information(self, alpha: Any, sigma: Any, *, n: int = ...,
               generator: torch.Generator | int | None = ...,
               return_stderr: Literal[False] = ...) -> Tensor: ...

    @overload
    def fisher_information(self, alpha: Any, sigma: Any, *, n: int = ...,
               generator: torch.Generator | int | None = ...,
               return_stderr: Literal[True]) -> tuple[Tensor, Tensor]: ...

    def fisher_information(self, alpha: Any, sigma: Any, *, n: int = 4096,
               generator: torch.Generator | int | None = None,
               return_stderr: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """J(p_t) = E‖∇log p_t‖² = d/σ² − C(t), on the same draws as :meth:`constant`.

        Written as Σ_k π_k tr((α²Σ_k + σ²I)⁻¹) − E Σ_k w_k‖s_k − s̄‖² (s_k the component
        scores), so J + C = d/σ² holds to rounding; K = 1 is exact.
        """
        a, s = self._kernel(alpha, sigma)
        total = self._weights @ (1.0 / self._sd(a, s)).pow(2).sum(-1)
        between, err = self._between(a, s, n, generator)
        value = finite_result(total - between, "sigma", "J(p_t)")
        return (value, err) if return_stderr else value

    # ---- internals ----------------------------------------------------------------------
    def _between(self, a: Tensor, s: Tensor, n: int,
                 generator: torch.Generator | int | None) -> tuple[Tensor, Tensor]:
        """Monte Carlo of E_{x_t} Σ_k w_k‖s_k − s̄‖² and its standard error."""
        zero = torch.zeros((), dtype=self._dtype, device=self._device)
        n = positive_int("n", n, minimum=2)
        g = as_generator(0 if generator is None else generator, self._device)
        if self.n_components == 1:
            return zero, zero
        _, _, xt = self.sample_xt(n, a, s, generator=g)
        sd = self._sd(a, s)
        parts = []
        for block in _blocks(xt, self.n_components * self.dim):
            u = self._rotate_in(block.unsqueeze(-2) - a * self._means) / sd
            w = torch.softmax(self._log_joint(u, sd)[0], -1)
            comp = -self._rotate_out(u / sd)                         # s_k, [b, K, d]
            centred = comp - (w.unsqueeze(-1) * comp).sum(-2, keepdim=True)
            parts.append((w * (centred * centred).sum(-1)).sum(-1))
        samples = torch.cat(parts)
        return samples.mean(), samples.std() / math.sqrt(n)

    def _logp_and_score(self, xl: tuple[Tensor, tuple[int, ...]], a: Tensor | None,
                        s: Tensor | None) -> tuple[Tensor, Tensor]:
        x, lead = xl
        if a is None or s is None:
            a = torch.ones((), dtype=self._dtype, device=self._device)
            sd = self._eig_sd
        else:
            sd = self._sd(a, s)
        logps, scores = [], []
        for block in _blocks(x, self.n_components * self.dim):
            u = self._rotate_in(block.unsqueeze(-2) - a * self._means) / sd
            rel, base = self._log_joint(u, sd)
            logps.append(torch.logsumexp(rel, -1) + base + self._log_norm(sd))
            w = torch.softmax(rel, -1)
            scores.append(-(w.unsqueeze(-1) * self._rotate_out(u / sd)).sum(-2))
        return _cat(logps, lead), _cat(scores, lead)

    def _sd(self, a: Tensor, s: Tensor) -> Tensor:
        """√eigenvalues of S_k = α²Σ_k + σ²I, [K, d], as hypot(α√λ, σ): finite for every finite
        kernel (α²λ + σ² itself overflows beyond σ ≈ 1e154 and underflows below 1e-162)."""
        return torch.hypot(a * self._eig_sd, s)

    def _log_joint(self, u: Tensor, sd: Tensor) -> tuple[Tensor, Tensor]:
        """log π_k + log N(x; αμ_k, S_k) − :meth:`_log_norm` from the whitened residual
        u = S_k^{-1/2}U_kᵀ(x − αμ_k), split as (relative part [..., K], common part [...]).

        The log-determinants enter relative to component 0's, Σ_j log(var_kj / var_0j), so the
        values stay O(quadratic form) even when d·log σ² is huge (d = 1024, σ = 1e4 in float32).
        The quadratic forms ‖u_k‖² are formed after scaling u by a power of two (exact), and
        only their differences from the smallest enter the relative part: component weights
        stay exact when ‖u‖² itself overflows (means 1e160 away, σ = 1e-160). The common part
        −½ min_k‖u_k‖² is −inf only when log p_t really is beyond float64.
        """
        return relative_quadratic(u, self._log_weights - torch.log(sd / sd[0]).sum(-1))

    def _log_norm(self, sd: Tensor) -> Tensor:
        """The part of log N shared by all components: −(Σ_j log sd_0j + ½ d log 2π)."""
        return -(torch.log(sd[0]).sum() + 0.5 * self.dim * math.log(2 * math.pi))

    def _rotate_in(self, v: Tensor) -> Tensor:
        if self._eigvecs is None:
            return v
        return torch.einsum("kde,nkd->nke", self._eigvecs, v)

    def _rotate_out(self, v: Tensor) -> Tensor:
        if self._eigvecs is None:
            return v
        return torch.einsum("kde,nke->nkd", self._eigvecs, v)

    def _points(self, name: str, x: Any) -> tuple[Tensor, tuple[int, ...]]:
        return check_points(name, x, self.dim, self._dtype, self._device)
