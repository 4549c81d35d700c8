"""A finite data set as a Dirac mixture p_0 = Σ_i w_i δ(x0 − x_i): exact p_t, score and the
ideal denoiser (Karras et al. 2022, eq. 57; docs/design.md §2 "finite data set").

With the points a training batch, :meth:`EmpiricalDistribution.score_t` is exactly the ratio-form
("direct SM") estimator of the score, E_batch[∇p_t(x_t|x_0)] / E_batch[p_t(x_t|x_0)] (the seed's
eq. "score-1"), which is why that estimator is biased for p_0 at finite batch size.
"""

from __future__ import annotations

import math
from typing import Any, Literal, overload

import torch

from ._errors import ShapeError, invalid
from ._frozen import FrozenDistribution
from ._posterior import Posterior
from ._quadratic import _blocks, _cat, relative_quadratic
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

__all__ = ["EmpiricalDistribution"]

Tensor = torch.Tensor


class EmpiricalDistribution(FrozenDistribution):
    """The data set ``points`` [B, d] (optional ``weights`` [B], default uniform) as p_0.

    p_t = Σ_i w_i N(α x_i, σ²I); every sum over points goes through log-sum-exp, and distances
    ‖x_t − α x_i‖² are formed from differences (no ‖x‖² − 2x·y + ‖y‖² cancellation).
    """

    __slots__ = ("_device", "_dtype", "_log_weights", "_points", "_weights")
    _device: torch.device
    _dtype: torch.dtype
    _log_weights: Tensor
    _points: Tensor
    _weights: Tensor

    def __init__(self, points: Any, *, weights: Any = None, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu") -> None:
        dtype = resolve_dtype(dtype)
        dev = resolve_device(device)
        pts = check_finite("points", as_float_tensor("points", points, dtype=torch.float64,
                                                     device=dev).detach().clone())
        if pts.dim() != 2 or pts.shape[0] < 1 or pts.shape[1] < 1:
            raise invalid("points", f"has shape {list(pts.shape)}",
                          "pass a [B, d] tensor with B >= 1 (for 1-D data [B, 1])", ShapeError)
        b = pts.shape[0]
        w = (torch.full((b,), 1.0 / b, dtype=torch.float64, device=dev) if weights is None
             else check_weights("weights", weights, dev))
        if w.numel() != b:
            raise invalid("weights", f"has {w.numel()} entries for {b} points",
                          f"pass weights of shape [{b}]", ShapeError)
        put = object.__setattr__
        put(self, "_dtype", dtype)
        put(self, "_device", dev)
        put(self, "_points", check_fits("points", pts, dtype))
        put(self, "_weights", w.to(dtype))
        put(self, "_log_weights", torch.log(w).to(dtype))

    @property
    def points(self) -> Tensor:
        """x_i, shape [B, d] (a copy: the distribution is immutable)."""
        return self._points.clone()

    @property
    def weights(self) -> Tensor:
        """w_i, shape [B] (uniform unless given; a copy)."""
        return self._weights.clone()

    @property
    def dim(self) -> int:
        return int(self._points.shape[1])

    @property
    def n_points(self) -> int:
        return int(self._points.shape[0])

    def __repr__(self) -> str:
        return (f"EmpiricalDistribution(n_points={self.n_points}, dim={self.dim}, "
                f"dtype={self.dtype}, device='{self.device}')")

    def sample(self, n: int, *, generator: torch.Generator | int) -> Tensor:
        """x0 ~ p_0 (points drawn with replacement by weight), shape [n, d]."""
        n = sample_count("n", n, row_bytes=(self.dim + 1) * self._points.element_size())
        g = as_generator(generator, self._device)
        return self._points[torch.multinomial(self._weights, n, replacement=True, generator=g)]

    def log_prob_t(self, xt: Tensor, alpha: Any, sigma: Any) -> Tensor:
        """log p_t(x_t) = logsumexp_i(log w_i − ‖x_t − αx_i‖²/(2σ²)) − (d/2) log(2πσ²)."""
        return finite_result(self._terms(xt, alpha, sigma)[0], "xt", "log p_t(x_t)")

    def score_t(self, xt: Tensor, alpha: Any, sigma: Any) -> Tensor:
        """∇log p_t(x_t) = Σ_i r_i(x_t)(αx_i − x_t)/σ², r = softmax of the log kernel
        (the ratio-form score, eq. "score-1"); shape like x_t."""
        return finite_result(self._terms(xt, alpha, sigma)[1], "xt",
                             "the score ∇log p_t(x_t)")

    def posterior(self, xt: Tensor, alpha: Any, sigma: Any) -> Posterior:
        """p(x0|x_t) = Σ_i r_i(x_t) δ(x0 − x_i): weights [n, B], means the points (expanded to
        [n, B, d], a view), zero covariances [B, d]."""
        log_r = self._terms(xt, alpha, sigma)[2]
        means = self._points.expand(*log_r.shape, self.dim)
        zeros = torch.zeros_like(self._points)
        a, s = self._kernel(alpha, sigma)
        x = torch.as_tensor(xt, dtype=self._dtype, device=self._device)

        def noise() -> Tensor:  # (x_t − α x_i)/σ, [n, B, d]: built only when asked for
            return (x.unsqueeze(-2) - a * self._points) / s

        return Posterior(torch.exp(log_r), log_r, means, zeros, zeros, None, noise)

    def denoise(self, xt: Tensor, alpha: Any, sigma: Any) -> Tensor:
        """The ideal denoiser E[x0|x_t] = Σ_i r_i(x_t) x_i (Karras et al. 2022, eq. 57)."""
        log_r = self._terms(xt, alpha, sigma)[2]
        return torch.exp(log_r) @ self._points

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
        """C(t) = (α²/σ⁴) E_{x_t} Σ_i r_i‖x_i − D(x_t)‖² (docs/design.md §1), exact in x0, Monte
        Carlo over ``n`` draws x_t ~ p_t (``generator``, default seed 0). One point gives 0."""
        a, s = self._kernel(alpha, sigma)
        n = positive_int("n", n, minimum=2)
        g = as_generator(0 if generator is None else generator, self._device)
        zero = torch.zeros((), dtype=self._dtype, device=self._device)
        if self.n_points == 1:
            return (zero, zero) if return_stderr else zero
        xt = self.sample_xt(n, a, s, generator=g)[2]
        samples = (a / s / s) ** 2 * self.posterior(xt, a, s).trace_cov
        value, err = finite_result(samples.mean(), "sigma", "C(t)"), samples.std() / math.sqrt(n)
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
        """J(p_t) = d/σ² − C(t), on the same draws as :meth:`constant`."""
        _, s = self._kernel(alpha, sigma)
        c, err = self.constant(alpha, sigma, n=n, generator=generator, return_stderr=True)
        value = finite_result(self.dim / s / s - c, "sigma", "J(p_t)")
        return (value, err) if return_stderr else value

    def _terms(self, xt: Tensor, alpha: Any, sigma: Any) -> tuple[Tensor, Tensor, Tensor]:
        """(log p_t [n], score [n, d], log posterior weights [n, B]) in one pass."""
        a, s = self._kernel(alpha, sigma)
        x, lead = check_points("xt", xt, self.dim, self._dtype, self._device)
        logps, scores, log_rs = [], [], []
        for block in _blocks(x, self.n_points * self.dim):
            u = (block.unsqueeze(-2) - a * self._points) / s        # [b, B, d], whitened
            # ‖u‖² is formed scaled (relative_quadratic): no overflow to inf − inf = NaN
            # when σ is tiny (1e-160) or the points are far (1e160).
            logits, base = relative_quadratic(u, self._log_weights)
            logp = torch.logsumexp(logits, -1, keepdim=True)
            log_r = logits - logp
            logps.append(logp.squeeze(-1) + base)
            log_rs.append(log_r)
            scores.append(-(torch.exp(log_r).unsqueeze(-1) * u).sum(-2) / s)
        norm = 0.5 * self.dim * (math.log(2 * math.pi) + 2 * torch.log(s))
        return _cat(logps, lead) - norm, _cat(scores, lead), _cat(log_rs, lead)
