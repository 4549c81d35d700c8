"""The coupled evaluation set and the loss evaluated on it (docs/design.md, posterior coupling).

For each x_t a weighted set of x_0 reproduces the posterior mean exactly, so the weighted
average L̄(x_t) of any loss whose θ-dependent part is affine in x_0 equals λ(t)·S(x_t) + c(x_t)
for every model (Vincent 2011, eq. 11, pointwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .._coupling import coupled_batch
from .._errors import ShapeError, invalid
from .._mixture import GaussianMixture

Tensor = torch.Tensor


class _Problem:
    """The coupled evaluation set for every time, flattened into one mixed-time batch."""

    def __init__(self, mix: GaussianMixture, t: Tensor, alpha: Tensor, sigma: Tensor, n: int,
                 seed: int, shape: tuple[int, ...], dtype: torch.dtype,
                 device: torch.device) -> None:
        g = torch.Generator().manual_seed(seed)
        xs, x0s, epss, ws, scores = [], [], [], [], []
        for a, s in zip(alpha.tolist(), sigma.tolist(), strict=True):
            cb = coupled_batch(mix, a, s, n, generator=g)
            xs.append(cb.xt)
            x0s.append(cb.x0)
            epss.append(cb.eps)
            ws.append(cb.weights)
            scores.append(mix.score_t(cb.xt, a, s))
        self.n_t, self.n, self.m = len(xs), n, x0s[0].shape[1]
        self.shape, self.dtype, self.device = shape, dtype, device
        self.xt = torch.stack(xs)            # [T, n, D]
        self.x0 = torch.stack(x0s)           # [T, n, M, D]
        self.eps = torch.stack(epss)
        self.weights = torch.stack(ws)       # [T, n, M]
        self.score = torch.stack(scores)     # [T, n, D]
        self.t = t
        self.perm_pairs = torch.randperm(self.n_t * n * self.m, generator=g)
        self.perm_xt = torch.randperm(self.n_t * n, generator=g)

    def _out(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.shape).to(dtype=self.dtype, device=self.device)

    def _times(self, reps: int) -> Tensor:
        t = self.t.repeat_interleave(reps)
        if t.is_floating_point():
            t = t.to(self.dtype)
        return t.to(self.device)

    def loss_inputs(self, mixed: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """(x0, t, noise) for the loss: every pair, times mixed by a fixed permutation."""
        d = self.x0.shape[-1]
        x0, eps = self.x0.reshape(-1, d), self.eps.reshape(-1, d)
        t = self._times(self.n * self.m)
        if mixed:
            p = self.perm_pairs
            x0, eps, t = x0[p], eps[p], t[p.to(t.device)]
        return self._out(x0), t, self._out(eps)

    def score_inputs(self) -> tuple[Tensor, Tensor]:
        d = self.xt.shape[-1]
        p = self.perm_xt
        return self._out(self.xt.reshape(-1, d)[p]), self._times(self.n)[p.to(self.device)]

    def average(self, per_pair: Tensor, mixed: bool = True) -> Tensor:
        """L̄(x_t) = Σ_m w_m ℓ_m from per-pair values (undoing the permutation): [T, n]."""
        v = per_pair.detach().to(torch.float64).cpu()
        if mixed:
            v = torch.empty_like(v).index_copy_(0, self.perm_pairs, v)
        return (self.weights * v.reshape(self.n_t, self.n, self.m)).sum(-1)

    def loss_average(self, loss: Callable[..., Any], model: Any, *, mixed: bool = True,
                     batch_size: int = 1024) -> tuple[Tensor, str]:
        """L̄(x_t) [T, n] for ``model``, from calls of at most ``batch_size`` samples: mixed
        times in every call, or (``mixed=False``) one time per call."""
        x0, t, noise = self.loss_inputs(mixed=mixed)
        rows = batch_size if mixed else min(batch_size, self.n * self.m)
        if not mixed:  # chunks must not straddle two times
            rows = self.n * self.m // -(-self.n * self.m // rows)
            while (self.n * self.m) % rows:
                rows -= 1
        parts, how = [], ""
        for i in range(0, x0.shape[0], rows):
            vals, how = per_sample_loss(loss, model, x0[i:i + rows], t[i:i + rows],
                                        noise[i:i + rows])
            parts.append(vals)
        vals = torch.cat(parts)
        if not bool(torch.isfinite(vals).all()):
            raise invalid("loss", "returned NaN or inf", "check the loss on the given batch "
                          "(for example a division by σ(t) or log of 0)")
        return self.average(vals, mixed=mixed), how

    def unmix_scores(self, est: Tensor) -> Tensor:
        """A score estimate on :meth:`score_inputs`, in float64 and [T, n, D] order."""
        v = est.detach().to(torch.float64).cpu().reshape(self.n_t * self.n, -1)
        v = torch.empty_like(v).index_copy_(0, self.perm_xt, v)
        return v.reshape(self.n_t, self.n, -1)

    def sm(self, est: Tensor) -> Tensor:
        """S(x_t) = ‖∇log p_t(x_t) − s(x_t)‖² per x_t: [T, n] (``est`` from unmix_scores)."""
        return ((self.score - est) ** 2).sum(-1)


def per_sample_loss(loss: Callable[..., Any], model: Any, x0: Tensor, t: Tensor,
                    noise: Tensor) -> tuple[Tensor, str]:
    """The loss per sample: its [B] output, or (for a scalar loss) one call per sample through
    ``torch.func.vmap``, falling back to a loop. Returns the values and how they were obtained."""
    b = x0.shape[0]
    out = _call_loss(loss, model, x0, t, noise)
    if out.shape == (b,):
        return out, "per-sample"
    if out.dim() != 0:
        raise invalid("loss", f"returned shape {list(out.shape)} for a batch of {b}",
                      f"return per-sample losses of shape [{b}] (reduce every axis but the "
                      "batch axis) or one scalar", ShapeError)

    def single(x: Tensor, tt: Tensor, nz: Tensor) -> Tensor:
        return loss(model, x.unsqueeze(0), tt.unsqueeze(0), nz.unsqueeze(0))

    try:
        vals = torch.func.vmap(single, randomness="error")(x0, t, noise)
        if vals.shape == (b,):
            return vals, "scalar, per sample via vmap"
    except Exception:  # any vmap limitation falls back to the loop
        pass
    vals = torch.stack([_call_loss(loss, model, x0[i:i + 1], t[i:i + 1], noise[i:i + 1])
                        .reshape(()) for i in range(b)])
    return vals, "scalar, per sample by a loop"


def _no_grad_first(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` without building an autograd graph (the check needs values only); a function
    that differentiates inside (an energy model's score, say) is retried with grad enabled."""
    try:
        with torch.no_grad():
            return fn(*args)
    except RuntimeError:
        return fn(*args)


def _call_loss(loss: Callable[..., Any], model: Any, x0: Tensor, t: Tensor,
               noise: Tensor) -> Tensor:
    try:
        out = _no_grad_first(loss, model, x0, t, noise)
    except (ShapeError, AssertionError):
        raise
    except Exception as exc:
        raise invalid("loss", f"raised {type(exc).__name__}: {exc} (called with x0 "
                      f"{list(x0.shape)}, t {list(t.shape)} {t.dtype}, noise "
                      f"{list(noise.shape)})", "make loss(model, x0, t, noise) accept a batch "
                      "with one t per sample") from exc
    if not isinstance(out, Tensor):
        raise invalid("loss", f"returned {type(out).__name__}", "return a torch.Tensor")
    return out


def _scores(to_score: Callable[..., Any], model: Any, xt: Tensor, t: Tensor) -> Tensor:
    try:
        out = _no_grad_first(to_score, model, xt, t)
    except Exception as exc:
        raise invalid("to_score", f"raised {type(exc).__name__}: {exc}",
                      "make to_score(model, x_t, t) return the score estimate for a batch") from exc
    if not isinstance(out, Tensor) or out.shape != xt.shape:
        got = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise invalid("to_score", f"returned {got} for x_t of shape {list(xt.shape)}",
                      "return the score estimate shaped like x_t", ShapeError)
    if not bool(torch.isfinite(out).all()):
        raise invalid("to_score", "returned NaN or inf", "check the conversion to a score")
    return out


def _fit(dl: Tensor, ds: Tensor) -> tuple[Tensor, Tensor]:
    """Per time: λ = <ΔL, ΔS>/<ΔS, ΔS> and residual ‖ΔL − λΔS‖/‖ΔL‖ ([J, T, n] inputs)."""
    num = (dl * ds).sum((0, 2))
    den = (ds * ds).sum((0, 2))
    lam = torch.where(den > 0, num / den.clamp_min(1e-300), torch.zeros_like(num))
    left = dl - lam[None, :, None] * ds
    norm = dl.pow(2).sum((0, 2)).sqrt()
    res = left.pow(2).sum((0, 2)).sqrt() / norm.clamp_min(1e-300)
    return lam, torch.where(norm > 0, res, torch.zeros_like(res))


def fit_models(ls: list[Tensor], ss: list[Tensor], *, loss_argument: str,
               fix: str) -> tuple[Tensor, Tensor]:
    """λ(t) and the residual per time from the coupled losses L̄_j and SM values S_j of every
    model (differences to model 0, then :func:`_fit`). Models that all give the same score, or a
    loss (named ``loss_argument``) that no model changes, cannot be fitted and are refused."""
    dl = torch.stack([v - ls[0] for v in ls[1:]])
    ds = torch.stack([v - ss[0] for v in ss[1:]])
    if not bool((ds != 0).any()):
        raise invalid("models", "all give the same score estimate",
                      "pass models with different parameters (or leave models=None)")
    if not bool((dl != 0).any()):
        raise invalid(loss_argument, "does not depend on the model: every model gives the same "
                      "loss", fix)
    return _fit(dl, ds)
