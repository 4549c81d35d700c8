"""Explain a failed guard check in words a person can act on.

Three questions, cheapest first: does the loss draw its own randomness (then the given noise is not
used)? Does a sample's loss depend on the other samples of the batch (it passes with one t per
batch but fails with mixed t: an α/σ broadcast over the wrong axis)? Is it score matching towards
the wrong target? For the last one note that any per-sample loss λ'‖u − (a x0 + b x_t)‖² with u
affine in s_θ averages over the posterior to λ‖s‖² − 2 s·(p ∇log p_t + q x_t) + const (Tweedie:
E[x0|x_t] = (x_t + σ²∇log p_t)/α). A correct loss has p = λ, q = 0; fitting (λ, p, q) names the
factor g = p/λ and the x_t term c = q/λ that a bug put into the target.

Before those, one pattern is not a bug of the exact kind: a θ-dependent term whose mean over the
noise is zero (a control variate, e.g. ε·(u(x_t) + u(α x0 − σ ε)), or Stein's ε·f(x_t) − σ∇·f)
leaves E loss = λ·SM + const but not the posterior mean at each x_t. Then the residual
R_j(x_t) = ΔL̄_j − λΔS_j is large pointwise while its average over x_t ~ p_t is zero; a paired
z-test per model and time (λ fitted from the means) tells the two apart, and the report names the
mode that decides such a loss (statistical='time').
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["CV_Z", "diagnose", "exact_mode_signature", "time_mode_hint"]

Tensor = torch.Tensor
#: |z| below which every model's mean residual counts as zero (a control variate); at 4 each of
#: the (J−1)·T tests has a two-sided normal tail of ≈ 6e-5, so a real zero-mean term is seen as
#: such with probability ≈ 1 − 24·6e-5 at the defaults. Only the wording depends on it: the
#: verdict is FAIL either way.
CV_Z = 4.0


def time_mode_hint(*, written: bool = False) -> str:
    """Where to check a loss that draws t and the noise itself (``written``: it already is
    loss(model, x0))."""
    import numeric

    extra = (" (or numeric.check_training_step, which intercepts the step's own draws)"
             if hasattr(numeric, "check_training_step") else "")
    head = "check it" if written else "write it as loss(model, x0) drawing t and the noise, and " \
        "check it"
    return f"{head} with statistical='time'{extra}"


def exact_mode_signature(loss: Callable[..., Any]) -> str | None:
    """Why ``loss`` cannot be called as loss(model, x0, t, noise), when its signature says so
    and it can be called as loss(model, x0): a training step that draws t and the noise."""
    import inspect

    try:
        sig = inspect.signature(loss)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(None, None, None, None)
        return None
    except TypeError:
        pass
    try:
        sig.bind(None, None)
    except TypeError:
        return None
    return ("takes (model, x0) only, so it draws t and the noise itself; the exact check needs "
            "loss(model, x0, t, noise)")


def _hits_xt(evaluate: Callable[[Any, bool], Tensor], model: Any, xt: Tensor) -> float | None:
    """The fraction of the model's inputs during one loss evaluation that are one of the coupled
    set's x_t (None when the model is no nn.Module, so its inputs cannot be seen)."""
    if not isinstance(model, torch.nn.Module):
        return None
    seen: list[Tensor] = []

    def hook(_m: Any, args: tuple[Any, ...]) -> None:
        if args and isinstance(args[0], Tensor):
            seen.append(args[0].detach().to(torch.float64).cpu().reshape(args[0].shape[0], -1))

    handle = model.register_forward_pre_hook(hook)
    try:
        evaluate(model, True)
    finally:
        handle.remove()
    if not seen:
        return None
    inputs = torch.cat(seen)
    ref = xt.reshape(-1, xt.shape[-1]).to(torch.float64)
    if inputs.shape[1] != ref.shape[1]:
        return None
    scale = float(ref.abs().max()) or 1.0
    hit = torch.zeros(inputs.shape[0], dtype=torch.bool)
    for i in range(0, inputs.shape[0], 1024):
        dist = torch.cdist(inputs[i:i + 1024], ref).amin(1)
        hit[i:i + 1024] = dist <= 1e-6 * scale
    return float(hit.double().mean())


def _zero_mean_pattern(ls: list[Tensor], est: list[Tensor], score: Tensor) -> bool:
    """True when, at every t, each model's residual averages to zero over x_t (module doc)."""
    dl = torch.stack([v - ls[0] for v in ls[1:]])                       # [J, T, n]
    s = [((score - e) ** 2).sum(-1) for e in est]
    ds = torch.stack([v - s[0] for v in s[1:]])
    n = dl.shape[-1]
    if n < 8:
        return False
    md, me = dl.mean(-1), ds.mean(-1)                                    # [J, T]
    lam = (md * me).sum(0) / (me * me).sum(0).clamp_min(1e-300)          # [T]
    if not bool((lam > 0).all()):
        return False
    left = dl - lam[None, :, None] * ds
    se = left.std(-1) / n**0.5
    if not bool((se > 0).all()):
        return False
    z = left.mean(-1) / se
    return bool((z.abs() < CV_Z).all())


def _ft(t: float) -> str:
    return str(int(t)) if float(t).is_integer() and abs(t) >= 1 else f"{t:.4g}"


def _fit(dl: Tensor, ds: Tensor) -> Tensor:
    num, den = (dl * ds).sum((0, 2)), (ds * ds).sum((0, 2))
    lam = num / den.clamp_min(1e-300)
    norm = dl.pow(2).sum((0, 2)).sqrt().clamp_min(1e-300)
    return (dl - lam[None, :, None] * ds).pow(2).sum((0, 2)).sqrt() / norm


def _candidates(alpha: Tensor, sigma: Tensor, dim: int) -> list[tuple[str, Tensor]]:
    a, s = alpha, sigma
    return [("−1 (the sign of the target is flipped)", -torch.ones_like(s)),
            ("1/σ", 1 / s), ("σ", s), ("1/σ²", 1 / s**2), ("σ²", s**2), ("1/α", 1 / a),
            ("α", a), ("1/α²", 1 / a**2), ("α²", a**2), ("σ/α", s / a), ("α/σ", a / s),
            (f"D = {dim} (mean and sum over dimensions mixed)", torch.full_like(s, float(dim))),
            (f"1/D = 1/{dim} (mean and sum over dimensions mixed)",
             torch.full_like(s, 1.0 / dim))]


def _target_fit(ls: list[Tensor], est: list[Tensor], score: Tensor, xt: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
    """Per time, least squares of ΔL on (Δ‖s‖², −2Δs·∇log p_t, −2Δs·x_t): (g, c, residual)."""
    dl = torch.stack([v - ls[0] for v in ls[1:]])                       # [J, T, n]
    ds = torch.stack([e - est[0] for e in est[1:]])                     # [J, T, n, D]
    f1 = torch.stack([(e * e).sum(-1) - (est[0] * est[0]).sum(-1) for e in est[1:]])
    f2 = -2 * (ds * score).sum(-1)
    f3 = -2 * (ds * xt).sum(-1)
    gs, cs, res = [], [], []
    for i in range(dl.shape[1]):
        design = torch.stack([f1[:, i].flatten(), f2[:, i].flatten(), f3[:, i].flatten()], 1)
        y = dl[:, i].flatten()
        scale = design.abs().amax(0).clamp_min(1e-300)
        coef = torch.linalg.lstsq(design / scale, y.unsqueeze(1)).solution.squeeze(1) / scale
        left = y - design @ coef
        res.append(float(left.norm() / y.norm().clamp_min(1e-300)))
        lam = float(coef[0]) if float(coef[0]) != 0 else 1e-300
        gs.append(float(coef[1]) / lam)
        cs.append(float(coef[2]) / lam)
    return torch.tensor(gs, dtype=torch.float64), torch.tensor(cs, dtype=torch.float64), \
        torch.tensor(res, dtype=torch.float64)


def _name_factor(g: Tensor, alpha: Tensor, sigma: Tensor, dim: int) -> str | None:
    for name, ref in _candidates(alpha, sigma, dim):
        if float((g / ref - 1).abs().max()) < 1e-6:
            return name
    return None


def _values(t: list[float], v: Tensor) -> str:
    return "{" + ", ".join(f"{_ft(a)}: {b:.4g}" for a, b in zip(t, v.tolist(), strict=True)) + "}"


def diagnose(evaluate: Callable[[Any, bool], Tensor], models: list[Any], score: Tensor,
             xt: Tensor, ls: list[Tensor], est: list[Tensor], t: list[float], alpha: Tensor,
             sigma: Tensor, thr: float, dim: int) -> list[str]:
    """Findings explaining why L̄_j − L̄_0 is not λ(t)(S_j − S_0) (see the module docstring)."""
    again = evaluate(models[0], True)
    scale = float(ls[0].abs().max()) or 1.0
    if float((again - ls[0]).abs().max()) > 1e-3 * thr * scale:
        return ["the loss is random given (model, x0, t, noise): two calls on the same batch "
                "differ. It draws its own noise or t; use the `noise` and `t` arguments, or, if "
                f"it is a training step that samples them by design, {time_mode_hint()}"]

    findings = []
    single = [evaluate(m, False) for m in models]
    if float(max((a - b).abs().max() for a, b in zip(single, ls, strict=True))) > thr * scale:
        ds = torch.stack([((score - e) ** 2).sum(-1) for e in est])
        res = _fit(torch.stack([v - single[0] for v in single[1:]]), ds[1:] - ds[:1])
        if float(res.max()) <= thr:
            return ["it passes when every sample of a batch has the same t but fails with mixed "
                    "t: a sample's loss uses another sample's α/σ/t (a schedule value broadcast "
                    "over the wrong batch axis, or one t used for the whole batch)"]
        findings.append("a sample's loss depends on other samples in the batch (per-sample "
                        "values change when the batch changes)")
        ls = single
    g, c, res = _target_fit(ls, est, score, xt)
    misfit = float(res.max()) > max(thr, 1e-6)
    hits = _hits_xt(evaluate, models[0], xt) if misfit and not findings else None
    if hits == 0.0:
        return [*findings, "the loss never evaluates the model at x_t = α(t)·x0 + σ(t)·noise of "
                "the schedule: it noises x0 with another kernel (α dropped, ᾱ in place of √ᾱ, "
                "a different schedule or t) before calling the model"]
    if misfit and not findings and _zero_mean_pattern(ls, est, score):
        return ["the loss looks correct only in expectation: it is no squared error towards a "
                "target, and at each x_t it differs from λ(t)·SM(θ) + const by a model-dependent "
                f"term whose average over x_t is zero (|z| < {CV_Z:g} for every model and t), as "
                "a control variate with mean 0 over the noise does. The exact coupled check "
                "cannot accept such a term; decide it with the statistical mode that samples t "
                f"and the noise: {time_mode_hint()}"]
    if float(res.max()) > max(thr, 1e-6):
        return [*findings, "the per-sample loss is not of the form λ‖u − (a x0 + b)‖² with u "
                "linear in the model output (squares taken of the wrong terms, or reductions "
                f"mixed); best-fit residual {float(res.max()):.2g}"]
    c_scale = float(c.abs().max())
    if c_scale > 1e-6:
        findings.append("the target contains an x_t term besides the score: the loss is score "
                        "matching towards g(t)·∇log p_t + c(t)·x_t with c = "
                        f"{_values(t, c)}, g = {_values(t, g)}. Is the target built from x_t in "
                        "place of x0, or α missing from x_t (VP treated as VE)?")
        return findings
    name = _name_factor(g, alpha, sigma, dim)
    if name is not None:
        findings.append(f"the loss is score matching towards g(t)·∇log p_t with g = {name}: "
                        "the target (or its conversion to a score) is off by that factor")
    else:
        findings.append("the loss is score matching towards g(t)·∇log p_t with g = "
                        f"{_values(t, g)} instead of g = 1: the target is mis-scaled (a schedule "
                        "value at the wrong t, or √ᾱ / ᾱ / σ / σ² mixed up)")
    return findings
