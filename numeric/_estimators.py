"""Score-matching estimators: SM, DSM (Monte Carlo and posterior-coupled), implicit, sliced, ratio.

Conventions follow docs/design.md §1: no ½, no weighting, h = −ε/σ. Every estimator returns an
:class:`Estimate` whose ``value`` is a float64 0-dim tensor that keeps the autograd graph (so
``value.backward()`` gives ∇_θ), with the per-sample values (for paired tests), the x_t they were
evaluated at, and the Monte Carlo standard error over x_t.

Expectations, for any p_0 and model s (J = E‖∇log p_t‖², the Fisher information):

- ``dsm`` = ``sm`` + C(t), with C = d/σ² − J θ-free (Vincent 2011, eq. 11 / Appendix);
- ``implicit_sm`` = ``sm`` − J (Hyvärinen 2005, Theorem 1: E‖∇log p − s‖² = E‖s‖² + 2E tr∇s + J);
- ``sliced_sm`` = (``sm`` − J)·c with c = 1 for Gaussian or Rademacher projections and c = 1/d on
  the unit sphere (Song et al. 2019, eq. 7 and its variance-reduced form, eq. 8);
- ``ratio_sm`` at batch size B = ``sm`` + b(B), b(1) = C(t), b(B) = O(1/B) (the seed's eq. score-1
  with the batch's empirical distribution in place of p_0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ._coupling import CoupledBatch
from ._errors import DtypeError, ShapeError, invalid
from ._validate import (
    as_float_tensor,
    as_generator,
    call_user,
    check_finite,
    check_real_output,
    finite_result,
    kernel_scalars,
    positive_int,
)

__all__ = [
    "EXACT_DIVERGENCE_MAX_DIM",
    "Estimate",
    "dsm_coupled",
    "dsm_mc",
    "evaluate_model",
    "implicit_sm",
    "ratio_score",
    "ratio_sm",
    "sliced_sm",
    "sm_coupled",
    "sm_exact",
]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: implicit_sm(divergence="auto") computes tr ∇s exactly (d autograd passes) up to this d.
EXACT_DIVERGENCE_MAX_DIM = 16

_MODEL_FIX = ("make model(x_t, t) return the score estimate, a tensor shaped like x_t [n, d] "
              "(t is a [n] tensor)")


@dataclass(frozen=True)
class Estimate:
    """An estimate: ``value`` (float64, differentiable), ``stderr`` (its Monte Carlo standard
    error over x_t, detached), ``per_sample[n]`` (float64) and the ``xt[n,d]`` used."""

    value: torch.Tensor
    stderr: torch.Tensor
    per_sample: torch.Tensor
    xt: torch.Tensor

    @classmethod
    def of(cls, per_sample: torch.Tensor, xt: torch.Tensor,
           groups: int | None = None) -> Estimate:
        """Mean and standard error of ``per_sample``; with ``groups`` the error uses group means
        (for samples that are only independent between groups, e.g. within one batch)."""
        ps = finite_result(per_sample.to(torch.float64), "schedule",
                           "the per-sample value at this kernel (α, σ)")
        blocks = ps.detach().reshape(groups, -1).mean(dim=1) if groups else ps.detach()
        k = blocks.numel()
        se = blocks.std() / math.sqrt(k) if k > 1 else torch.full_like(blocks[0], math.nan)
        value = finite_result(ps.mean(), "schedule", "the mean at this kernel (α, σ)")
        return cls(value=value, stderr=se, per_sample=ps, xt=xt)


def _kernel(schedule: Any, t: Any, dtype: torch.dtype,
            device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(α, σ) from a Schedule-like object at ``t``, or from an ``(alpha, sigma)`` pair."""
    if isinstance(schedule, tuple | list) and len(schedule) == 2:
        return kernel_scalars(schedule[0], schedule[1], dtype=dtype, device=device)
    if callable(getattr(schedule, "alpha", None)) and callable(getattr(schedule, "sigma", None)):
        fix = "make schedule.alpha(t) and schedule.sigma(t) return positive numbers at t"
        return kernel_scalars(call_user("schedule", schedule.alpha, t, fix=fix),
                              call_user("schedule", schedule.sigma, t, fix=fix),
                              dtype=dtype, device=device)
    raise invalid("schedule", f"got {type(schedule).__name__}",
                  "pass a numeric.Schedule (any object with alpha(t), sigma(t)) or a pair "
                  "(alpha, sigma)")


def _times(t: Any, xt: torch.Tensor) -> torch.Tensor:
    if isinstance(t, torch.Tensor) and not t.is_complex() and t.dtype != torch.bool:
        tt = t.to(device=xt.device, dtype=xt.dtype)
    else:
        tt = as_float_tensor("t", t, dtype=xt.dtype, device=xt.device)
    check_finite("t", tt.detach())
    if tt.dim() == 0:
        return tt.expand(xt.shape[0])
    if tt.shape != xt.shape[:1]:
        raise invalid("t", f"has shape {list(tt.shape)}, x_t has {xt.shape[0]} rows",
                      "pass a scalar t or one t per sample", ShapeError)
    return tt


def evaluate_model(model: Model, xt: torch.Tensor, t: Any) -> torch.Tensor:
    """``model(xt, t)``, checked to be a tensor shaped like ``xt`` in its dtype and device."""
    if not callable(model):
        raise invalid("model", f"got {type(model).__name__}, not callable", _MODEL_FIX)
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            if p.is_floating_point() and (p.dtype != xt.dtype or p.device != xt.device):
                raise invalid("model", f"has parameters in {p.dtype} on {p.device}, x_t is "
                              f"{xt.dtype} on {xt.device}",
                              f"convert it with model.to(dtype={xt.dtype}, device='{xt.device}')",
                              DtypeError)
    out = call_user("model", model, xt, _times(t, xt), fix=_MODEL_FIX)
    check_real_output("model", out, _MODEL_FIX)
    if not isinstance(out, torch.Tensor):
        raise invalid("model", f"returned {type(out).__name__}, not a Tensor", _MODEL_FIX,
                      ShapeError)
    if out.shape != xt.shape:
        raise invalid("model", f"returned shape {list(out.shape)} for x_t of shape "
                      f"{list(xt.shape)}", _MODEL_FIX, ShapeError)
    if out.dtype != xt.dtype or out.device != xt.device:
        raise invalid("model", f"returned {out.dtype} on {out.device} for x_t in {xt.dtype} on "
                      f"{xt.device}", "return the score in x_t's dtype and device", DtypeError)
    if not bool(torch.isfinite(out.detach()).all()):
        raise invalid("model", "returned NaN or inf for finite x_t and t",
                      "check the model (or the t it was given) on this input")
    return out


def _distribution(distribution: Any) -> Any:
    """A data distribution: numeric.GaussianMixture, EmpiricalDistribution or alike."""
    needed = ("dtype", "device", "dim", "sample_xt", "score_t")
    if not all(hasattr(distribution, a) for a in needed):
        raise invalid("distribution", f"got {type(distribution).__name__}",
                      "pass a numeric.GaussianMixture or numeric.EmpiricalDistribution")
    return distribution


def _draw(distribution: Any, schedule: Any, t: Any, n: int, generator: Any,
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    distribution = _distribution(distribution)
    n = positive_int("n", n)
    device = torch.device(distribution.device)
    a, s = _kernel(schedule, t, distribution.dtype, device)
    g = as_generator(generator, device)
    x0, eps, xt = distribution.sample_xt(n, a, s, generator=g)
    return a, s, x0, eps, xt


def _given_xt(distribution: Any, xt: torch.Tensor) -> torch.Tensor:
    if not isinstance(xt, torch.Tensor) or xt.dim() != 2 or xt.shape[1] != distribution.dim:
        raise invalid("xt", f"got {getattr(xt, 'shape', type(xt).__name__)}",
                      f"pass a tensor of shape [n, {distribution.dim}]", ShapeError)
    if xt.dtype != distribution.dtype or xt.device.type != torch.device(distribution.device).type:
        raise invalid("xt", f"is {xt.dtype} on {xt.device}", "convert it to the distribution's "
                      f"dtype ({distribution.dtype}) and device", DtypeError)
    return xt


def sm_exact(model: Model, distribution: Any, schedule: Any, t: Any, *, n: int = 1024,
             generator: torch.Generator | int = 0, xt: torch.Tensor | None = None) -> Estimate:
    """SM(θ) = E_{x_t~p_t} ‖∇log p_t(x_t) − s_θ(x_t, t)‖² with the exact score of ``distribution``
    (Hyvärinen 2005, eq. 2); x_t is drawn from p_t, or given as ``xt`` (then ``n`` is ignored)."""
    distribution = _distribution(distribution)
    device = torch.device(distribution.device)
    if xt is None:
        a, s, _, _, xt = _draw(distribution, schedule, t, n, generator)
    else:
        xt = _given_xt(distribution, xt)
        a, s = _kernel(schedule, t, distribution.dtype, device)
    diff = distribution.score_t(xt, a, s) - evaluate_model(model, xt, t)
    return Estimate.of((diff * diff).sum(dim=-1), xt)


def dsm_mc(model: Model, distribution: Any, schedule: Any, t: Any, *, n: int = 1024,
           generator: torch.Generator | int = 0) -> Estimate:
    """DSM(θ) = E ‖h − s_θ(x_t, t)‖², h = −ε/σ, by plain Monte Carlo (Vincent 2011, eq. 11).

    Common random numbers across θ: pass the same integer seed (or a fresh generator with the
    same seed) for every θ.
    """
    _, s, _, eps, xt = _draw(distribution, schedule, t, n, generator)
    diff = -eps / s - evaluate_model(model, xt, t)
    return Estimate.of((diff * diff).sum(dim=-1), xt)


def _check_batch(batch: Any) -> CoupledBatch:
    if not isinstance(batch, CoupledBatch):
        raise invalid("batch", f"got {type(batch).__name__}",
                      "pass numeric.coupled_batch(distribution, alpha, sigma, n, generator=g)")
    return batch


def dsm_coupled(model: Model, batch: CoupledBatch, t: Any) -> Estimate:
    """DSM(θ) with the posterior-coupled set: per x_t, Σ_m w_m ‖h_m − s_θ(x_t)‖²
    (docs/design.md §3).

    It equals E[‖h − s_θ‖² | x_t] exactly for the θ-dependent part, so ``dsm_coupled − sm_coupled``
    on one batch is the same for every θ up to rounding.
    """
    batch = _check_batch(batch)
    diff = batch.target - evaluate_model(model, batch.xt, t).unsqueeze(1)
    return Estimate.of(batch.expect((diff * diff).sum(dim=-1)), batch.xt)


def sm_coupled(model: Model, batch: CoupledBatch, t: Any) -> Estimate:
    """SM(θ) on the x_t of a coupled batch, with ∇log p_t = Σ_m w_m h_m (the seed's eq. score-2)."""
    batch = _check_batch(batch)
    diff = batch.score - evaluate_model(model, batch.xt, t)
    return Estimate.of((diff * diff).sum(dim=-1), batch.xt)


def _probes(kind: str, shape: tuple[int, ...], g: torch.Generator, dtype: torch.dtype,
            device: torch.device, name: str) -> torch.Tensor:
    if kind == "gaussian":
        return torch.randn(shape, generator=g, dtype=dtype, device=device)
    if kind == "rademacher":
        bits = torch.randint(0, 2, shape, generator=g, device=device)
        return (2 * bits - 1).to(dtype)
    if kind == "sphere":
        v = torch.randn(shape, generator=g, dtype=dtype, device=device)
        return v / v.norm(dim=-1, keepdim=True)
    raise invalid(name, f"got {kind!r}", "use 'gaussian', 'rademacher' or 'sphere'")


def _jvp_quadratic(s: torch.Tensor, xt: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """vᵀ (∂s/∂x_t) v per sample, by one vector-Jacobian product; keeps the graph. A model
    whose output does not depend on x_t (a constant, or one detached from x_t) has ∂s/∂x_t = 0."""
    if not s.requires_grad:
        return torch.zeros(xt.shape[0], dtype=xt.dtype, device=xt.device)
    (grad,) = torch.autograd.grad((s * v).sum(), xt, create_graph=True, allow_unused=True)
    if grad is None:
        return torch.zeros(xt.shape[0], dtype=xt.dtype, device=xt.device)
    return (grad * v).sum(dim=-1)


def implicit_sm(model: Model, distribution: Any, schedule: Any, t: Any, *, n: int = 1024,
                generator: torch.Generator | int = 0, divergence: str = "auto",
                probes: int = 1, probe: str = "rademacher",
                xt: torch.Tensor | None = None) -> Estimate:
    """Implicit SM: E[‖s_θ‖² + 2 tr ∇_x s_θ] = SM(θ) − J(p_t) (Hyvärinen 2005, Theorem 1).

    ``divergence="exact"`` takes d autograd passes (small d); ``"hutchinson"`` uses ``probes``
    Rademacher or Gaussian vectors from ``generator`` (Hutchinson 1989), unbiased for tr ∇s;
    ``"auto"`` is exact for d ≤ ``EXACT_DIVERGENCE_MAX_DIM`` and Hutchinson above.
    """
    if divergence not in ("auto", "exact", "hutchinson"):
        raise invalid("divergence", f"got {divergence!r}", "use 'auto', 'exact' or 'hutchinson'")
    if probe not in ("gaussian", "rademacher"):
        raise invalid("probe", f"got {probe!r}", "use 'rademacher' or 'gaussian'")
    probes = positive_int("probes", probes)
    distribution = _distribution(distribution)
    device = torch.device(distribution.device)
    g = as_generator(generator, device)
    xt = _draw(distribution, schedule, t, n, g)[4] if xt is None else _given_xt(distribution, xt)
    if divergence == "auto":
        divergence = "exact" if xt.shape[1] <= EXACT_DIVERGENCE_MAX_DIM else "hutchinson"
    with torch.enable_grad():
        x = xt.detach().requires_grad_(True)
        s = evaluate_model(model, x, t)
        if divergence == "exact":
            eye = torch.eye(x.shape[1], dtype=x.dtype, device=device)
            div = sum((_jvp_quadratic(s, x, eye[i].expand_as(x)) for i in range(x.shape[1])),
                      torch.zeros((), dtype=x.dtype, device=device))
        else:
            div = sum((_jvp_quadratic(s, x, _probes(probe, tuple(x.shape), g, x.dtype, device,
                                                    "probe"))
                       for _ in range(probes)), torch.zeros((), dtype=x.dtype, device=device))
            div = div / probes
        per = (s * s).sum(dim=-1) + 2 * div
    return Estimate.of(per, xt)


def sliced_sm(model: Model, distribution: Any, schedule: Any, t: Any, *, n: int = 1024,
              generator: torch.Generator | int = 0, projections: int = 1,
              projection: str = "gaussian", variance_reduced: bool = False,
              xt: torch.Tensor | None = None) -> Estimate:
    """Sliced SM: E[(vᵀs_θ)² + 2 vᵀ∇s_θ v] (Song et al. 2019, eq. 7, without their ½).

    ``variance_reduced=True`` replaces E_v(vᵀs)² by its value ‖s‖²·c (their eq. 8). With Gaussian
    or Rademacher v (E vvᵀ = I) the expectation is SM − J(p_t); on the unit sphere (E vvᵀ = I/d)
    it is (SM − J)/d.
    """
    projections = positive_int("projections", projections)
    if projection not in ("gaussian", "rademacher", "sphere"):
        raise invalid("projection", f"got {projection!r}",
                      "use 'gaussian', 'rademacher' or 'sphere'")
    distribution = _distribution(distribution)
    device = torch.device(distribution.device)
    g = as_generator(generator, device)
    xt = _draw(distribution, schedule, t, n, g)[4] if xt is None else _given_xt(distribution, xt)
    scale = 1.0 / xt.shape[1] if projection == "sphere" else 1.0
    with torch.enable_grad():
        x = xt.detach().requires_grad_(True)
        s = evaluate_model(model, x, t)
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=device)
        for _ in range(projections):
            v = _probes(projection, tuple(x.shape), g, x.dtype, device, "projection")
            first = scale * (s * s).sum(dim=-1) if variance_reduced else (s * v).sum(dim=-1) ** 2
            total = total + first + 2 * _jvp_quadratic(s, x, v)
        per = total / projections
    return Estimate.of(per, xt)


def ratio_score(xt: torch.Tensor, batch: torch.Tensor, alpha: torch.Tensor,
                sigma: torch.Tensor) -> torch.Tensor:
    """The seed's eq. score-1 with the batch in place of p_0: the score of the batch's empirical
    distribution, Σ_j w_j (α y_j − x_t)/σ², w ∝ N(x_t; α y_j, σ²I). ``xt[R,n,d]``,
    ``batch[R,B,d]`` -> ``[R,n,d]`` (log-sum-exp stable, distances whitened by σ)."""
    xt, batch, a, s = _ratio_inputs(xt, batch, alpha, sigma)
    u_x, u_y = xt / s, (a / s) * batch
    if xt.dtype in (torch.float32, torch.float64):
        dist2 = torch.cdist(u_x, u_y) ** 2
    else:  # cdist has no half-precision kernel: form the differences
        dist2 = ((u_x.unsqueeze(-2) - u_y.unsqueeze(-3)) ** 2).sum(-1)
    w = torch.softmax(-0.5 * dist2, dim=-1)
    out = (a * (w @ batch) - xt) / s / s
    return finite_result(out, "sigma", "the ratio-form score")


def _ratio_inputs(xt: Any, batch: Any, alpha: Any, sigma: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check :func:`ratio_score`'s arguments: real, finite, [R,n,d] and [R,B,d], one dtype."""
    x = xt if isinstance(xt, torch.Tensor) and xt.is_floating_point() else as_float_tensor(
        "xt", xt)
    y = batch if isinstance(batch, torch.Tensor) and batch.is_floating_point() else \
        as_float_tensor("batch", batch, dtype=x.dtype, device=x.device)
    for name, v in (("xt", x), ("batch", y)):
        if v.is_complex():
            raise invalid(name, f"got a complex tensor ({v.dtype})", "pass real values",
                          DtypeError)
        if v.dim() != 3:
            raise invalid(name, f"has shape {list(v.shape)}", "pass a [R, n, d] tensor",
                          ShapeError)
        check_finite(name, v.detach())
    if y.dtype != x.dtype or y.device != x.device:
        raise invalid("batch", f"is {y.dtype} on {y.device}, xt is {x.dtype} on {x.device}",
                      "pass both in one dtype and on one device", DtypeError)
    if y.shape[0] != x.shape[0] or y.shape[2] != x.shape[2]:
        raise invalid("batch", f"has shape {list(y.shape)} for xt of shape {list(x.shape)}",
                      f"pass [R={x.shape[0]}, B, d={x.shape[2]}]", ShapeError)
    a, s = kernel_scalars(alpha, sigma, dtype=x.dtype, device=x.device)
    return x, y, a, s


def ratio_sm(model: Model, distribution: Any, schedule: Any, t: Any, *, batch_size: int,
             n_batches: int = 64, generator: torch.Generator | int = 0) -> Estimate:
    """The ratio-form ("direct SM") loss of a batch of B data points, as in training.

    For each of ``n_batches`` batches y_1..y_B ~ p_0, x_t,i = α y_i + σ ε_i, and the loss is
    ‖ŝ_B(x_t,i) − s_θ(x_t,i)‖² with ŝ_B = :func:`ratio_score` (the score of the batch's empirical
    distribution; the seed's eq. score-1). Given x_t, ŝ_B = E[h | batch, x_t], so its mean is
    ∇log p_t(x_t) and the loss is SM(θ) + b(B) with b(B) = E‖ŝ_B − ∇log p_t‖² θ-free, b(1) = C(t)
    (at B = 1 this *is* DSM) and b(B) = O(1/B). ``per_sample`` has ``n_batches·B`` entries;
    ``stderr`` uses the per-batch means.
    """
    b = positive_int("batch_size", batch_size)
    r = positive_int("n_batches", n_batches)
    distribution = _distribution(distribution)
    device = torch.device(distribution.device)
    a, s = _kernel(schedule, t, distribution.dtype, device)
    g = as_generator(generator, device)
    y = distribution.sample(r * b, generator=g).reshape(r, b, -1)
    eps = torch.randn(y.shape, generator=g, dtype=y.dtype, device=device)
    xt = a * y + s * eps
    # Chunk the [R, B, B] weights so that memory stays ~ 2**22 entries per chunk.
    chunk = max(1, 2**22 // (b * b))
    est = torch.cat([ratio_score(xt[i:i + chunk], y[i:i + chunk], a, s)
                     for i in range(0, r, chunk)])
    flat = xt.reshape(r * b, -1)
    diff = est.reshape(r * b, -1) - evaluate_model(model, flat, t)
    return Estimate.of((diff * diff).sum(dim=-1), flat, groups=r if r > 1 else None)
