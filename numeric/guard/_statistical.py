"""The guard's statistical mode, for losses that draw their own randomness: ``loss(model, x0)``.

Examples are implicit SM (Hyvärinen 2005, eq. 4) and sliced SM (Song et al. 2019, eq. 7), whose
expectation is λ·SM(θ) + const on the data distribution p_0 itself. Every evaluation runs under
``torch.random.fork_rng`` with the same ``manual_seed`` for every model (common random numbers),
so the paired differences across models carry little noise. For each replicate r and model j,
d_jr = L_jr − L_0r and e_jr = S_jr − S_0r with S the exact SM on the replicate's batch; λ is fitted
by least squares and each model's mean residual d − λe is tested with a paired z-test. Fitting λ on
the same data only shrinks the residuals, so the stated false-alarm rate is conservative:
|z| ≥ 5.3 has two-sided probability ≈ 1.2e-7 per model under a normal law (Student-t with R − 1
degrees of freedom is heavier: with R = 64 it is ≈ 2e-6 per model).

Garbage never passes: NaN/inf from the loss or ``to_score`` is an error naming the argument, so is
a ``to_score`` or loss that does not depend on the model, and a fitted λ outside
[``LAMBDA_RANGE``] (or at the edge of the profile's search grid, i.e. no λ fits) is a finding.
When the loss calls the model with times that vary across samples, it is a training loss that
draws t itself, and the report points to ``statistical='time'``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import torch

from .._errors import ShapeError, SmeqError, invalid
from .._mixture import GaussianMixture
from .._validate import call_user
from ._report import LossReport

__all__ = ["LAMBDA_RANGE", "REPLICATES", "Z_THRESHOLD", "TimeRecorder", "check_statistical",
           "crn_loss", "lambda_finding"]

Tensor = torch.Tensor
Z_THRESHOLD = 5.3
_GLOBAL_RNG = threading.RLock()
REPLICATES = 64
#: A plausible score-space weighting on the data: implicit and sliced SM give ½ (Hyvärinen 2005),
#: a mean over up to 10⁵ dimensions 1/(2·10⁵); outside this range the fit is garbage.
LAMBDA_RANGE = (1e-7, 1e7)


def lambda_finding(lam: float, lo: float, hi: float) -> str | None:
    """A finding when the fitted λ is not finite, outside LAMBDA_RANGE, or at the edge
    [lo, hi] of the search (no λ in the range explains the data)."""
    if not math.isfinite(lam) or not LAMBDA_RANGE[0] <= lam <= LAMBDA_RANGE[1]:
        return (f"the fitted weighting λ = {lam:.3g} is not a plausible score-matching weight "
                f"(finite, within [{LAMBDA_RANGE[0]:.0e}, {LAMBDA_RANGE[1]:.0e}]): the loss and "
                "SM(θ) do not move together across models")
    if lam <= lo * (1 + 1e-9) or lam >= hi * (1 - 1e-9):
        return (f"the fitted weighting λ = {lam:.3g} sits at the edge of the search range "
                f"[{lo:.3g}, {hi:.3g}]: no λ > 0 explains the loss by SM(θ)")
    return None


class TimeRecorder:
    """Records the t a loss passes to nn.Module models (forward pre-hooks): does it draw t?"""

    def __init__(self) -> None:
        self.varying = False
        self.calls = 0
        self._handles: list[Any] = []

    def attach(self, models: list[Any]) -> TimeRecorder:
        for m in models:
            if isinstance(m, torch.nn.Module):
                self._handles.append(m.register_forward_pre_hook(self._hook))
        return self

    def _hook(self, _module: Any, args: tuple[Any, ...]) -> None:
        self.calls += 1
        if len(args) > 1 and isinstance(args[1], Tensor) and args[1].numel() > 1:
            t = args[1].detach()
            if t.is_floating_point() and bool((t != t.reshape(-1)[0]).any()):
                self.varying = True

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

def _data_score(mix: GaussianMixture, x: Tensor) -> Tensor:
    """∇log p_0(x) by autograd through the mixture's log-sum-exp density."""
    with torch.enable_grad():
        xx = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(mix.log_prob(xx).sum(), xx)
    return grad.detach()


def crn_loss(loss: Callable[..., Any], model: Any, x0: Tensor, seed: int,
             device: torch.device, *, hint: str = "") -> float:
    """The mean of ``loss(model, x0)`` with the global RNG seeded by ``seed`` (common random
    numbers: every model sees the same draws); ``hint`` says how the loss is called."""
    devices = [device] if device.type == "cuda" else []
    # The loss draws from torch's global RNG, so seeding it is shared state: one evaluation at a
    # time (threads calling check_loss at once would interleave their seeds), and fork_rng puts
    # the caller's RNG state back afterwards.
    with _GLOBAL_RNG, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        try:
            out = loss(model, x0)
        except SmeqError as exc:
            if str(exc).startswith(("argument `loss`", "argument `to_score`")):
                raise  # the guard's own probe model explains what the loss did wrong
            raise invalid("loss", f"raised {type(exc).__name__}: {exc}", hint or "in "
                          "statistical mode the loss is called as loss(model, x0) with x0 of "
                          f"shape {list(x0.shape)}") from exc
        except Exception as exc:
            raise invalid("loss", f"raised {type(exc).__name__}: {exc}", hint or "in "
                          "statistical mode the loss is called as loss(model, x0) with x0 of "
                          f"shape {list(x0.shape)}") from exc
    if not isinstance(out, Tensor) or out.shape not in ((), (x0.shape[0],)):
        got = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise invalid("loss", f"returned {got}", f"return a scalar or [{x0.shape[0]}] "
                      "per-sample losses", ShapeError)
    value = float(out.detach().double().mean())
    if not math.isfinite(value):
        raise invalid("loss", "returned NaN or inf", "check the loss on the given batch")
    return value


def _profile(dl: Tensor, ds: Tensor, replicates: int) -> tuple[float, Tensor, float, float]:
    """The λ > 0 minimising max_j |z_j(λ)|, z_j(λ) = mean(d_j − λe_j)/se(d_j − λe_j), and z there.

    Regressing d on the noisy e would bias λ towards 0 (errors in variables); profiling the
    paired z-statistics over λ does not, and min over λ of max_j|z_j| is at most its value at the
    true λ, so the false-alarm rate stays at most the per-model rate times the number of models.
    """
    md, me = dl.mean(1), ds.mean(1)
    vd, ve = dl.var(1), ds.var(1)
    cde = ((dl - md[:, None]) * (ds - me[:, None])).sum(1) / (replicates - 1)
    roots = (md / torch.where(me != 0, me, torch.full_like(me, 1e-300))).abs()
    lo = float(roots.min().clamp_min(1e-12)) / 10
    hi = float(roots.max().clamp_min(1e-12)) * 10
    grid = torch.logspace(math.log10(lo), math.log10(hi), 4001, dtype=torch.float64)
    mean = md[:, None] - grid[None, :] * me[:, None]
    var = vd[:, None] - 2 * grid[None, :] * cde[:, None] + grid[None, :] ** 2 * ve[:, None]
    z = mean / (var.clamp_min(1e-300) / replicates).sqrt()
    best = int(z.abs().amax(0).argmin())
    return float(grid[best]), z[:, best], lo, hi


def check_statistical(loss: Callable[..., Any], to_score: Callable[..., Any],
                      mix: GaussianMixture, models: list[Any], *, shape: tuple[int, ...],
                      dtype: torch.dtype, device: torch.device, seed: int, n_samples: int,
                      target: str, low_precision: Any = (),
                      replicates: int = REPLICATES) -> LossReport:
    """Paired test that E loss(θ_j) − E loss(θ_0) = λ (SM_j − SM_0) with λ > 0 (module doc)."""
    g = torch.Generator().manual_seed(seed)
    recorder = TimeRecorder().attach(models)
    try:
        d, e = _replicates(loss, to_score, mix, models, shape=shape, dtype=dtype,
                           device=device, n_samples=n_samples, replicates=replicates, g=g)
    finally:
        recorder.detach()
    return _verdict(d, e, replicates, n_samples, target, recorder.varying)


def _replicates(loss: Callable[..., Any], to_score: Callable[..., Any], mix: GaussianMixture,
                models: list[Any], *, shape: tuple[int, ...], dtype: torch.dtype,
                device: torch.device, n_samples: int, replicates: int,
                g: torch.Generator) -> tuple[Tensor, Tensor]:
    n_models = len(models)
    d = torch.zeros(n_models, replicates, dtype=torch.float64)
    e = torch.zeros_like(d)
    for r in range(replicates):
        x = mix.sample(n_samples, generator=g)
        score = _data_score(mix, x)
        xin = x.reshape(n_samples, *shape).to(dtype=dtype, device=device)
        t0 = torch.zeros(n_samples, dtype=dtype, device=device)
        rseed = int(torch.randint(0, 2**62, (1,), generator=g))
        for j, model in enumerate(models):
            d[j, r] = crn_loss(loss, model, xin, rseed, device)
            est = call_user("to_score", to_score, model, xin, t0,
                            fix="make to_score(model, x, t) return the score estimate for a batch")
            if not isinstance(est, Tensor) or est.shape != xin.shape:
                raise invalid("to_score", "returned the wrong shape",
                              "return the score estimate shaped like x", ShapeError)
            s = est.detach().double().cpu().reshape(n_samples, -1)
            if not bool(torch.isfinite(s).all()):
                raise invalid("to_score", "returned NaN or inf on the data (statistical=True "
                              "evaluates the score at t = 0)", "return a finite score estimate; "
                              "if the loss is a training step that draws t and the noise "
                              "itself, check it with statistical='time'")
            e[j, r] = ((score - s) ** 2).sum(-1).mean()
    return d, e


def _verdict(d: Tensor, e: Tensor, replicates: int, n_samples: int, target: str,
             draws_t: bool) -> LossReport:
    dl, ds = d[1:] - d[:1], e[1:] - e[:1]
    if not bool((dl != 0).any()):
        raise invalid("loss", "does not depend on the model: every model gives the same loss "
                      "under the same random numbers", "compute it from model(x, t) (and do not "
                      "detach it)")
    if not bool((ds != 0).any()):
        raise invalid("to_score", "does not depend on the model: every model gives the same "
                      "score estimate", "compute the score from model(x, t)")
    lam, z, lo, hi = _profile(dl, ds, replicates)
    left_mean = dl.mean(1) - lam * ds.mean(1)
    residual = float((left_mean.abs() / dl.mean(1).abs().clamp_min(1e-300)).max())
    findings = []
    worst = int(z.abs().argmax())
    if float(z.abs().max()) >= Z_THRESHOLD:
        findings.append(f"E loss(θ) − λ·SM(θ) differs between models for every λ > 0: at the "
                        f"best λ = {lam:.4g}, paired z = {float(z[worst]):.3g} for model "
                        f"{worst + 1} vs model 0 (threshold |z| ≥ {Z_THRESHOLD}, false-alarm "
                        f"rate ≈ 1e-7 per model), relative misfit {residual:.2g}; the loss is "
                        "not score matching on the data")
    implausible = lambda_finding(lam, lo, hi)
    if implausible is not None:
        findings.append(implausible)
    if draws_t:
        findings.append("the loss calls the model with times that vary across samples, so it "
                        "draws t itself: it is a diffusion training loss, and statistical=True "
                        "only compares with SM on the data (t = 0); check it with "
                        "statistical='time'")
    return LossReport(ok=not findings, weighting={0.0: lam}, residual=residual, worst_t=None,
                      matched=None, findings=tuple(findings), threshold=Z_THRESHOLD,
                      target=target, mode=f"statistical (CRN, {replicates} paired replicates "
                      f"of {n_samples}, z threshold {Z_THRESHOLD})")
