"""Gaussian-mixture data p_0 = Σ_k π_k N(μ_k, Σ_k): the exact oracle for p_t, its score and
the posterior p(x0|x_t) under the kernel x_t = α x0 + σ ε (docs/design.md §1, §3).

Every covariance is held through its eigendecomposition Σ_k = U_k diag(λ_k) U_kᵀ (computed once,
in float64). Then α²Σ_k + σ²I = U_k diag(α²λ_k + σ²) U_kᵀ for every kernel, so no matrix is ever
inverted or re-factorised, and all sums over components go through log-sum-exp.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import torch

from ._errors import ShapeError, invalid
from ._frozen import FrozenDistribution
from ._validate import (
    as_float_tensor,
    as_generator,
    check_finite,
    check_fits,
    check_points,
    check_positive,
    check_weights,
    finite_result,
    positive_int,
    resolve_device,
    resolve_dtype,
    sample_count,
)

__all__ = ["GaussianMixture", "Posterior", "relative_quadratic"]

Tensor = torch.Tensor

#: Work in blocks of at most this many elements of the [rows, K, d] intermediates.
_BLOCK = 1 << 22


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
