"""The gradient check: ∇_θ L̄(x_t) = λ(t)·∇_θ S(x_t), per time, exactly.

Under posterior coupling L̄_j(x_t) = λ(t)·S_j(x_t) + c(x_t) holds for every θ (docs/design.md
§3, §3b "Gradients"), so it holds for its θ-derivative: ∇_θ L̄(x_t) = λ(t)·∇_θ S(x_t), with the λ(t)
fitted from the values. A detach or stop-gradient on part of the prediction, or a gradient
through the target, leaves the values exact and breaks this. One vector-Jacobian product per model
is enough: with random weights r(x_t),

    g_L = ∇_θ Σ_x r(x)·L̄(x)   and   g_S = ∇_θ Σ_x r(x)·λ(t_x)·S(x)

must agree to rounding (relative residual ‖g_L − g_S‖/‖g_S‖ ~1e-15 in float64). When they do not,
the same graph is differentiated once per time to say where and how: no gradient at all for some
t, or a gradient that is a constant multiple ρ of what the values imply (ρ = ½ for
``0.5*m(x) + 0.5*m(x).detach()``).

One mechanism, :func:`gradient_check`, serves both entry points: it takes L̄(x_t) as a callable
of the model. :func:`check_gradients` builds it from ``loss(model, x0, t, noise)`` on the coupled
pairs (``check_loss``); ``check_training_step`` builds it by replaying the step with the chosen
draws and autograd on (:mod:`._step_coupled`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ._batch import CoupledSubset

__all__ = ["GRADIENT_XT_PER_TIME", "GradientResult", "check_gradients", "gradient_check"]

Tensor = torch.Tensor
#: x_t per time for the gradient check: exactness needs few (docs/design.md §3b: 8–16 for
#: values); 4 per time with all their coupled x0 gives ~200 pairs per model at the defaults.
GRADIENT_XT_PER_TIME = 4


@dataclass(frozen=True)
class GradientResult:
    """``findings`` fail the check; ``notes`` say why it could not run; ``residual`` is the
    largest relative ‖g_L − g_S‖/‖g_S‖ over models (None when it did not run)."""

    findings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    residual: float | None = None


def _ft(t: float) -> str:
    return str(int(t)) if float(t).is_integer() and abs(t) >= 1 else f"{t:.4g}"


def _params(model: Any) -> list[Tensor]:
    parameters = getattr(model, "parameters", None)
    if not callable(parameters):
        return []
    try:
        return [p for p in parameters() if isinstance(p, Tensor) and p.requires_grad]
    except Exception:  # an object whose parameters() is something else: no parameters
        return []


def _loss_values(loss: Callable[..., Any], model: Any, sub: CoupledSubset,
                 batch_size: int) -> Tensor:
    """Per-pair loss values with the autograd graph kept: [P] float64."""
    parts = []
    for i in range(0, sub.x0.shape[0], batch_size):
        x0, t, nz = sub.x0[i:i + batch_size], sub.t[i:i + batch_size], \
            sub.noise[i:i + batch_size]
        out = loss(model, x0, t, nz)
        if out.dim() == 0:
            out = _per_sample_with_grad(loss, model, x0, t, nz)
        parts.append(out.reshape(-1).to(torch.float64))
    return torch.cat(parts)


def _per_sample_with_grad(loss: Callable[..., Any], model: Any, x0: Tensor, t: Tensor,
                          noise: Tensor) -> Tensor:
    def single(x: Tensor, tt: Tensor, nz: Tensor) -> Tensor:
        return loss(model, x.unsqueeze(0), tt.unsqueeze(0), nz.unsqueeze(0))

    try:
        vals = torch.func.vmap(single, randomness="error")(x0, t, noise)
        if vals.shape == (x0.shape[0],):
            return vals
    except Exception:  # any vmap limitation falls back to the loop
        pass
    return torch.stack([loss(model, x0[i:i + 1], t[i:i + 1], noise[i:i + 1]).reshape(())
                        for i in range(x0.shape[0])])


def _grad(obj: Tensor, params: list[Tensor], retain: bool) -> Tensor:
    grads = torch.autograd.grad(obj, params, retain_graph=retain, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).detach()
                      .to(torch.float64).cpu().reshape(-1) for g, p in zip(grads, params,
                                                                         strict=True)])


def _rel(a: Tensor, b: Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def _range_text(times: list[float], picked: list[bool]) -> str:
    """'for t ≥ a', 'for t ≤ b' or 'at t ∈ {…}' for the picked times (sorted ascending)."""
    chosen = [t for t, p in zip(times, picked, strict=True) if p]
    if all(picked):
        return "at every checked t"
    k = picked.index(True)
    if all(picked[k:]) and not any(picked[:k]):
        return f"for t ≥ {_ft(chosen[0])}"
    last = len(picked) - 1 - picked[::-1].index(True)
    if all(picked[:last + 1]) and not any(picked[last + 1:]):
        return f"for t ≤ {_ft(chosen[-1])}"
    return "at t ∈ {" + ", ".join(_ft(t) for t in chosen) + "}"


def check_gradients(loss: Callable[..., Any], to_score: Callable[..., Any], models: list[Any],
                    sub: CoupledSubset, lam: Tensor, times: list[float], *, thr: float,
                    seed: int, batch_size: int,
                    dim_weights: Tensor | None = None) -> GradientResult:
    """The check of the module docstring for ``check_loss``: ``loss(model, x0, t, noise)`` on
    ``sub`` (from :func:`._batch.coupled_subset`), L̄ summed per x_t from its pairs. With
    ``dim_weights`` [T, D] (a fitted metric Λ(t)) S is Σ_d Λ_d (∇log p_t − s)_d² and λ = 1."""
    n_xt = sub.xt.shape[0]
    w = sub.weights.to(torch.float64)

    def lbar(model: Any) -> Tensor:
        vals = _loss_values(loss, model, sub, batch_size)
        return torch.zeros(n_xt, dtype=torch.float64, device=vals.device).index_add(
            0, sub.xt_index.to(vals.device), w.to(vals.device) * vals)

    return gradient_check(lbar, lambda m: to_score(m, sub.xt, sub.xt_t), models, sub.score,
                          torch.arange(len(times)).repeat_interleave(sub.k), lam, times,
                          thr=thr, seed=seed, dim_weights=dim_weights)


def gradient_check(lbar: Callable[[Any], Tensor], scores: Callable[[Any], Any],
                   models: list[Any], exact: Tensor, xt_time: Tensor, lam: Tensor,
                   times: list[float], *, thr: float, seed: int,
                   dim_weights: Tensor | None = None, what: str = "the loss") -> GradientResult:
    """The check of the module docstring, for any entry point.

    ``lbar(model)`` is the coupled average L̄(x_t) [N] of the loss under test with its autograd
    graph kept (``check_loss``: a weighted sum of per-pair losses; ``check_training_step``: the
    replayed step); ``scores(model)`` the model's score estimate at the same N x_t (graph kept);
    ``exact`` [N, D] the true ∇log p_t there and ``xt_time`` [N] each x_t's index into ``times``
    and ``lam``. ``what`` names the loss in messages ("the loss", "the step")."""
    g = torch.Generator().manual_seed(seed + 31_337)
    n_xt = exact.shape[0]
    xt_time = xt_time.to(torch.int64).cpu()
    r = torch.randn(n_xt, generator=g, dtype=torch.float64)
    lam_xt = lam.to(torch.float64)[xt_time]
    w_xt = None
    if dim_weights is not None:
        w_xt = dim_weights.to(torch.float64)[xt_time]   # [N, D]
        lam_xt = torch.ones_like(lam_xt)
    notes: list[str] = []
    worst, worst_j, worst_state = -1.0, -1, None
    ran = 0
    for j, model in enumerate(models):
        params = _params(model)
        if not params:
            notes.append(f"the gradient check could not run on model {j}: it has no parameters "
                         "that require grad (pass torch.nn.Module models, or leave models=None)")
            continue
        with torch.enable_grad():
            try:
                vals = lbar(model)
            except Exception as exc:
                notes.append(f"the gradient check could not run: {what} raised "
                             f"{type(exc).__name__} with grad enabled ({exc})")
                return GradientResult((), tuple(notes), None)
            if not vals.requires_grad:
                return GradientResult((
                    f"{what} is not differentiable in the model's parameters: its values "
                    "carry no gradient (no grad_fn). Was it computed under torch.no_grad(), "
                    "detached, or through NumPy? Training on it would not update the model; "
                    "compute it with torch operations on model(x_t, t)",), tuple(notes), None)
            try:
                est = scores(model)
            except Exception as exc:
                notes.append(f"the gradient check could not run: to_score raised "
                             f"{type(exc).__name__} with grad enabled ({exc})")
                return GradientResult((), tuple(notes), None)
            if not isinstance(est, Tensor) or not est.requires_grad:
                notes.append("the gradient check could not run: to_score's output carries no "
                             "gradient to the model's parameters (make to_score differentiable, "
                             "e.g. create_graph=True when it differentiates an energy)")
                return GradientResult((), tuple(notes), None)
            sq = (exact.to(est.device) - est.reshape(n_xt, -1).to(torch.float64)) ** 2
            s_val = (sq if w_xt is None else sq * w_xt.to(sq.device)).sum(-1)
            obj_l = (r.to(vals.device) * vals).sum()
            obj_s = (r.to(s_val.device) * lam_xt.to(s_val.device) * s_val).sum()
            g_l = _grad(obj_l, params, retain=True)
            g_s = _grad(obj_s, params, retain=True)
        ran += 1
        if float(g_s.norm()) == 0.0:
            notes.append(f"the gradient check skipped model {j}: SM has no gradient there")
            continue
        res = _rel(g_l, g_s)
        if res > worst:
            worst, worst_j = res, j
            worst_state = (vals, s_val, params)
        if res > thr:
            break  # localise on this model below
    if ran == 0 or worst_state is None:
        if not notes:
            notes.append("the gradient check could not run")
        return GradientResult((), tuple(notes), None)
    if worst <= thr:
        return GradientResult((), tuple(notes), worst)
    vals, s_val, params = worst_state
    return GradientResult(tuple(_localise(vals, s_val, params, r, lam_xt, xt_time, times, thr,
                                          worst, worst_j, what)), tuple(notes), worst)


def _localise(vals: Tensor, s_val: Tensor, params: list[Tensor], r: Tensor, lam_xt: Tensor,
              xt_time: Tensor, times: list[float], thr: float, worst: float, model_j: int,
              what: str) -> list[str]:
    """Per time: does any gradient reach the model, and is it a constant multiple of λ∇S?"""
    order = sorted(range(len(times)), key=lambda i: times[i])
    rows = []
    with torch.enable_grad():
        for i in order:
            on = (xt_time == i).to(torch.float64)
            gl = _grad((r * on).to(vals.device).mul(vals).sum(), params, retain=True)
            gs = _grad((r * lam_xt * on).to(s_val.device).mul(s_val).sum(), params,
                       retain=True)
            rows.append((gl, gs))
    ts = [times[i] for i in order]
    dead = [float(gl.norm()) <= 1e-12 * float(gs.norm()) and float(gs.norm()) > 0
            for gl, gs in rows]
    head = (f"the gradient of {what} is not λ(t)·∇SM although its values are (model "
            f"{model_j}: relative gradient residual {worst:.2g}, threshold {thr:.0e})")
    if any(dead):
        return [f"{head}: no gradient reaches the model {_range_text(ts, dead)} (a detach or "
                "torch.no_grad() on the prediction there)"]
    ratios, fits = [], []
    for gl, gs in rows:
        rho = float((gl * gs).sum() / (gs * gs).sum().clamp_min(1e-300))
        ratios.append(rho)
        fits.append(_rel(gl, rho * gs) <= max(thr, 1e-9))
    if all(fits):
        off = [abs(rho - 1) > max(thr, 1e-9) for rho in ratios]
        vals_off = [rho for rho, o in zip(ratios, off, strict=True) if o]
        if vals_off and max(vals_off) - min(vals_off) <= 1e-6 * max(abs(v) for v in vals_off):
            return [f"{head}: the gradient is {vals_off[0]:.4g}× what the loss value implies "
                    f"{_range_text(ts, off)} (part of the prediction detached, e.g. "
                    "0.5*m(x) + 0.5*m(x).detach(), or a gradient scaled apart from the value)"]
        pairs = ", ".join(f"{_ft(t)}: {rho:.4g}" for t, rho in zip(ts, ratios, strict=True))
        return [f"{head}: per t the gradient is a multiple of what the loss value implies, "
                f"{{{pairs}}} (parts of the prediction detached at some t)"]
    per_t = ", ".join(f"{_ft(t)}: {_rel(gl, gs):.2g}" for t, (gl, gs) in zip(ts, rows,
                                                                              strict=True))
    return [f"{head}: per-t gradient residuals {{{per_t}}}. A stop-gradient on part of the "
            "prediction, a gradient flowing through the target, or a model evaluated twice with "
            "one copy detached"]
