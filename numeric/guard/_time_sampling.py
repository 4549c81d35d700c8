"""The guard's statistical mode for losses that draw t and the noise: ``loss(model, x0)``.

Neither the law of t nor λ(t) is known here, so the test uses the one property every
score-matching loss has whatever its weighting: the exact score minimises it, because the posterior
mean of the conditional score is the score (Vincent 2011, eq. 11; docs/design.md §1).

``to_score`` is affine in the model output u (ε-, x0-, v-, score- and EDM-style maps all are), so
probing it with the outputs 0 and 1 inverts it: u* = (∇log p_t − to_score(0)) / (to_score(1) −
to_score(0)) is the output whose score is exact. The guard's models are u_θ = u* + θ·φ_j with φ_j
replayable random networks. Per sample a DSM-type loss is c(t)‖u_θ − target‖² with target affine
in (x0, ε), so under common random numbers (the same ``manual_seed`` for every θ)

* L(+1) − L(−1) = −4c·φ·(target − u*), whose mean is 0 for a correct loss since
  E[target | x_t, t] = u*; a paired two-sided z-test (|z| ≥ 5.3, false-alarm rate ≈ 1.2e-7 per
  direction under the normal approximation) catches a target or kernel that is off. The
  directions are u* itself (a rescaling: power against a mis-scaled target), x_t, the change
  of u* under a small change of log σ(t) and of log α(t) (power against a schedule mismatch:
  bench/time_mode_power.py), and random
  networks;
* L(+1) + L(−1) − 2L(0) = 2c‖φ‖² ≥ 0 on every draw: a negative value (beyond rounding) means the
  loss is not a squared error in the model output, which is reported without any statistics.

Garbage is an error, not a verdict: NaN/inf from the loss or ``to_score``, a loss or ``to_score``
that ignores the model, and a loss that calls the model at a time where σ(t) = 0 or with one
constant t for every sample (a loss on the data, e.g. implicit SM: statistical=True is its mode).

Power against a schedule mismatch (the loss noising with another schedule than the one given) is
measured by bench/time_mode_power.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .._errors import ShapeError, SmeqError, invalid
from .._mixture import GaussianMixture
from .._networks import random_score_network
from ._probe import Kernel
from ._report import LossReport
from ._statistical import crn_loss

__all__ = ["check_time_sampling"]

Tensor = torch.Tensor
Z_THRESHOLD = 5.3
REPLICATES = 64
THETAS = (-1.0, 0.0, 1.0)
#: Directions along which a schedule mismatch moves the target (bench/time_mode_power.py
#: measures the power they add; with them one random-network direction fewer is used).
SCHEDULE_DIRECTIONS: tuple[str, ...] = ("log_sigma", "log_alpha")
_HINT = ("with statistical='time' the loss is called as loss(model, x0) and draws t and the "
         "noise itself")


def _exact_scores(mix: GaussianMixture, x: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
    """∇log p_t(x_i) with a kernel (α_i, σ_i) per row: one vectorised log-sum-exp for diagonal and
    isotropic mixtures, one :meth:`GaussianMixture.score_t` call per distinct time otherwise."""
    if mix.cov_kind == "full":
        out = torch.empty_like(x)
        for value in torch.unique(torch.stack([alpha, sigma], -1), dim=0):
            rows = ((alpha == value[0]) & (sigma == value[1])).nonzero().reshape(-1)
            out[rows] = mix.score_t(x[rows], value[0], value[1])
        return out
    covs = mix.covs.to(x)
    diag = covs[:, None].expand(-1, mix.dim) if covs.dim() == 1 else covs         # [K, d]
    a, s = alpha[:, None, None], sigma[:, None, None]
    var = a * a * diag + s * s                                                   # [n, K, d]
    diff = x[:, None, :] - a * mix.means.to(x)                                   # [n, K, d]
    log_w = torch.log(mix.weights.to(x)) - 0.5 * ((diff * diff / var) + torch.log(var)).sum(-1)
    w = torch.softmax(log_w, -1)
    return -(w[..., None] * diff / var).sum(-2)


class _ExactPlusDirection(torch.nn.Module):
    """u*(x_t, t) + θ·φ(x_t, t): the output whose score is exact, moved along φ. φ is u* itself
    (a rescaling, which has power against a mis-scaled target), x_t, or a random network."""

    def __init__(self, mix: GaussianMixture, kernel: Kernel, to_score: Callable[..., Any],
                 direction: torch.nn.Module | str, theta: float) -> None:
        super().__init__()
        self.mix, self.kernel, self.to_score = mix, kernel, to_score
        self.direction, self.theta = direction, theta
        self.varying_t = False
        self.seen_t: set[float] = set()

    def forward(self, xt: Tensor, t: Any) -> Tensor:
        n = xt.shape[0]
        times = torch.as_tensor(t, device=xt.device).reshape(-1).expand(n)
        flat = xt.detach().to(torch.float64).cpu().reshape(n, -1)
        kernel_t = times.detach().cpu()
        try:
            alpha = self.kernel.alpha(kernel_t).to(torch.float64).reshape(n)
            sigma = self.kernel.sigma(kernel_t).to(torch.float64).reshape(n)
        except SmeqError as exc:
            raise invalid("loss", f"called the model at times the schedule refuses ({exc})",
                          "draw t inside the schedule's domain; a loss on the data itself "
                          "(implicit or sliced SM, model called at t = 0) is checked with "
                          "statistical=True") from exc
        bad = ~(torch.isfinite(alpha) & torch.isfinite(sigma) & (alpha > 0) & (sigma > 0))
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise invalid("loss", f"called the model at t = {float(times[i]):.4g}, where the "
                          f"schedule has α = {float(alpha[i]):.4g}, σ = {float(sigma[i]):.4g}: "
                          "no noise there", "draw t strictly inside the schedule's domain; a "
                          "loss on the data itself (implicit or sliced SM, model called at "
                          "t = 0) is checked with statistical=True")
        if n > 1 and bool((times != times[0]).any()):
            self.varying_t = True
        self.seen_t.add(float(times[0]))
        exact = _exact_scores(self.mix, flat, alpha, sigma).reshape(xt.shape).to(xt)
        zero = self._score_of(torch.zeros_like(xt), xt, t)
        unit = self._score_of(torch.ones_like(xt), xt, t) - zero
        if bool((unit == 0).any()):
            raise invalid("to_score", "does not depend on the model output at some entries",
                          "make to_score(model, x_t, t) an affine map of model(x_t, t)")
        u_star = (exact - zero) / unit
        if self.direction == "scale":
            step = u_star
        elif self.direction == "identity":
            step = xt
        elif self.direction in ("log_sigma", "log_alpha"):
            # ∂u*/∂log σ (or log α) by central differences: the change of the exact output under
            # a small change of the schedule, the direction a schedule mismatch moves the target
            h = 1e-3
            up, down = (alpha, sigma * math.exp(h)), (alpha, sigma * math.exp(-h))
            if self.direction == "log_alpha":
                up, down = (alpha * math.exp(h), sigma), (alpha * math.exp(-h), sigma)
            diff = (_exact_scores(self.mix, flat, *up) - _exact_scores(self.mix, flat, *down))
            step = diff.reshape(xt.shape).to(xt) / (2 * h) / unit
        else:
            assert isinstance(self.direction, torch.nn.Module)
            step = self.direction(flat.to(xt), times.to(xt.dtype)).reshape(xt.shape)
        return u_star + self.theta * step

    def _score_of(self, output: Tensor, xt: Tensor, t: Any) -> Tensor:
        try:
            out = self.to_score(lambda _x, _t: output, xt, t)
        except Exception as exc:  # to_score's own failure, not the loss's
            raise _ToScoreFailed(exc) from exc
        if not isinstance(out, Tensor) or out.shape != xt.shape:
            raise invalid("to_score", "returned the wrong shape",
                          "return the score estimate shaped like x_t", ShapeError)
        if not bool(torch.isfinite(out).all()):
            raise invalid("to_score", "returned NaN or inf for a finite model output",
                          "return a finite score estimate for every t the loss draws")
        return out.detach()


class _ToScoreFailed(BaseException):  # carried through the loss, then reported
    """to_score raised inside the loss's model call: reported against ``to_score``."""


def check_time_sampling(loss: Callable[..., Any], to_score: Callable[..., Any],
                        mix: GaussianMixture, kernel: Kernel, *, shape: tuple[int, ...],
                        dtype: torch.dtype, device: torch.device, seed: int, n_samples: int,
                        n_models: int, target: str,
                        replicates: int = REPLICATES) -> LossReport:
    """Paired CRN test that the exact score is a stationary point of E loss (module doc)."""
    g = torch.Generator().manual_seed(seed)
    flat_dim = math.prod(shape)
    directions: list[torch.nn.Module | str] = ["scale", "identity", *SCHEDULE_DIRECTIONS]
    n_random = max(n_models - (3 if SCHEDULE_DIRECTIONS else 2), 1)
    directions += [random_score_network(seed + 100 + j, flat_dim, dtype=dtype, device=device)
                   for j in range(n_random)]
    slope = torch.zeros(len(directions), replicates, dtype=torch.float64)
    varying, seen = False, set()
    curvature = torch.zeros_like(slope)
    for r in range(replicates):
        x0 = mix.sample(n_samples, generator=g).reshape(n_samples, *shape).to(dtype=dtype,
                                                                                device=device)
        rseed = int(torch.randint(0, 2**62, (1,), generator=g))
        for j, phi in enumerate(directions):
            probes = [_ExactPlusDirection(mix, kernel, to_score, phi, theta) for theta in THETAS]
            try:
                low, mid, high = (crn_loss(loss, p, x0, rseed, device, hint=_HINT)
                                  for p in probes)
            except _ToScoreFailed as failed:
                exc = failed.args[0]
                raise invalid("to_score", f"raised {type(exc).__name__}: {exc} (inside the "
                              "loss's model call)", "make to_score(model, x_t, t) work on the "
                              "x_t and t the loss passes its model") from exc
            varying = varying or any(p.varying_t for p in probes)
            for p in probes:
                seen |= p.seen_t
            slope[j, r] = (high - low) / 2
            curvature[j, r] = high + low - 2 * mid
    if not bool((curvature != 0).any()):
        raise invalid("loss", "does not depend on the model", "compute it from the model")
    findings: list[str] = []
    if not varying and len(seen) <= 1:
        raise invalid("loss", "called the model with one and the same t in every batch: it "
                      "does not draw t per sample, so statistical='time' does not fit it",
                      "a loss on the data itself (implicit or sliced SM) is checked with "
                      "statistical=True; a loss that takes t and the noise as arguments with "
                      "the exact check (statistical=False)")
    scale = curvature.abs().max()
    if bool((curvature < -1e-9 * scale).any()):
        findings.append("the loss is not a squared error in the model output: moving the model "
                        "along a direction from the exact score lowered it on both sides under "
                        "the same random numbers")
    se = slope.std(1) / math.sqrt(replicates)
    z = slope.mean(1) / se.clamp_min(1e-300)
    worst = int(z.abs().argmax())
    if float(z.abs().max()) >= Z_THRESHOLD:
        findings.append(f"the exact score does not minimise the loss: the slope along direction "
                        f"{worst} has paired z = {float(z[worst]):.3g} (threshold |z| ≥ "
                        f"{Z_THRESHOLD}, false-alarm rate ≈ 1e-7 per direction); the target or "
                        "the noising inside the loss is not the schedule's")
    residual = float((slope.mean(1).abs() / curvature.mean(1).abs().clamp_min(1e-300)).max())
    return LossReport(ok=not findings, weighting={}, residual=residual, worst_t=None,
                      matched=None, findings=tuple(findings), threshold=Z_THRESHOLD,
                      target=target, mode=f"statistical, t sampled by the loss (CRN, "
                      f"{replicates} paired replicates of {n_samples}, z threshold "
                      f"{Z_THRESHOLD}, largest |z| {float(z.abs().max()):.3g} of "
                      f"{len(directions)} directions)")
