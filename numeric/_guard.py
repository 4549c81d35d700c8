"""The regression guard: is a user's loss a score-matching loss, and with which weighting?

Method (shared/DESIGN.md §3, posterior-coupled evaluation). Build an exact problem (a Gaussian
mixture p_0) and several models θ_j. Draw x_t ~ p_t at several times, mixed inside one batch, and
for each x_t a weighted set of x_0 that reproduces the posterior mean exactly; pass
noise = (x_t − α x_0)/σ to the loss. Every DSM-type loss is per sample ‖u_θ(x_t) − (a x_0 + b)‖²,
whose θ-dependent part is affine in x_0, so the weighted average L̄_j(x_t) obeys

    L̄_j(x_t) − L̄_0(x_t) = λ(t)·(S_j(x_t) − S_0(x_t)),   S_j = ‖∇log p_t(x_t) − s_θj(x_t, t)‖²,

exactly for every x_t (Vincent 2011, eq. 11 pointwise; DESIGN.md §1). λ(t) is fitted by least
squares per t; what is left over, relative, is the residual: ~1e-15 for a correct loss in
float64, 1e-3 to 1 for a real bug. The measured λ(t) is then matched against known weightings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from ._coupling import coupled_batch
from ._diagnose import diagnose
from ._errors import ShapeError, SmeqError, invalid
from ._mixture import GaussianMixture
from ._networks import random_score_network
from ._probe import AddNoiseProbe, Kernel, low_precision_findings, resolve_schedule
from ._report import LossReport
from ._statistical import check_statistical
from ._time_sampling import check_time_sampling
from ._validate import positive_int, resolve_device, resolve_dtype
from ._weightings import LIKELIHOOD, WEIGHTINGS, Match, describe_power_law, match_weighting

__all__ = ["assert_score_matching_loss", "check_loss"]

Tensor = torch.Tensor

#: Relative residual above which a loss fails. A correct loss measures ≤ 1e-12 in float64
#: (bench/guard.py, bench/guard_soak.py) and planted bugs ≥ 1e-3 (tests/quality): the threshold
#: sits between them with margin on both sides. Lower precision loses digits in L̄_j − L̄_0.
RESIDUAL_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-7, torch.float32: 1e-3}
#: Shape agreement needed to name a weighting (the fitted λ(t) is as accurate as the residual).
MATCH_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-6, torch.float32: 1e-2}
ALIASES = {"ncsn": "eps", "epsilon": "eps", "sample": "x0", "x_0": "x0",
           "v_prediction": "v", "flow": "flow_matching", "rectified_flow": "flow_matching",
           "min_snr": "min_snr_eps", "elbo": LIKELIHOOD, "g2": LIKELIHOOD}
DEFAULT_MODELS = 4
DEFAULT_TIMES = 8


def _callable(name: str, value: Any, signature: str) -> None:
    if not callable(value):
        raise invalid(name, f"got {type(value).__name__}, which is not callable",
                      f"pass a function {signature}")


def default_mixture(dim: int, seed: int, dtype: torch.dtype, device: torch.device
                    ) -> GaussianMixture:
    """Three well-separated diagonal Gaussians in R^dim, replayable from ``seed``.

    Means N(0, 1.5²) and standard deviations in [0.3, 1]: the posterior is multi-modal at
    mid-range noise, so a bug that only a non-Gaussian p_0 reveals is not hidden.
    """
    g = torch.Generator().manual_seed(10_000 + seed)
    k = 3
    weights = 0.2 + torch.rand(k, generator=g, dtype=torch.float64)
    means = 1.5 * torch.randn(k, dim, generator=g, dtype=torch.float64)
    std = 0.3 + 0.7 * torch.rand(k, dim, generator=g, dtype=torch.float64)
    return GaussianMixture(weights / weights.sum(), means, std**2, dtype=torch.float64,
                           device="cpu")


class _ShapedModel(torch.nn.Module):
    """A flat random MLP seen as a model on image-shaped x_t (flatten in, reshape out)."""

    def __init__(self, net: torch.nn.Module, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.net, self.shape = net, shape

    def forward(self, xt: Tensor, t: Any) -> Tensor:
        out = self.net(xt.reshape(xt.shape[0], -1), torch.as_tensor(t).to(xt.dtype))
        return out.reshape(xt.shape)


class _Contracting(torch.nn.Module):
    """net(x, t) − c·x: the −c·x term correlates with the true score (E[x·∇log p] = −d), so
    models with different c differ where a statistical test has power (Hyvärinen 2005, §2)."""

    def __init__(self, net: torch.nn.Module, c: float) -> None:
        super().__init__()
        self.net, self.c = net, c

    def forward(self, xt: Tensor, t: Any) -> Tensor:
        return self.net(xt, t) - self.c * xt


def default_models(n: int, dim: int, seed: int, dtype: torch.dtype, device: torch.device,
                   shape: tuple[int, ...] | None, *,
                   contracting: bool = False) -> list[torch.nn.Module]:
    """``n`` replayable random MLPs (seeds ``seed``..``seed+n−1``), image-shaped if asked;
    with ``contracting`` model j gets a −j·x term (for the statistical mode)."""
    nets: list[torch.nn.Module] = [
        random_score_network(seed + j, dim, dtype=dtype, device=device) for j in range(n)]
    if contracting:
        nets = [_Contracting(net, float(j)) for j, net in enumerate(nets)]
    if shape is not None:
        nets = [_ShapedModel(net, shape) for net in nets]
    return nets


def _weighting_request(expected: Any) -> tuple[str | None, Callable[..., Any] | None]:
    if expected is None:
        return None, None
    if isinstance(expected, str):
        name = ALIASES.get(expected, expected)
        if name not in WEIGHTINGS and name != LIKELIHOOD:
            raise invalid("expected_weighting", f"got {expected!r}",
                          f"use one of {sorted([*WEIGHTINGS, LIKELIHOOD, *ALIASES])} or a "
                          "callable t -> λ(t)")
        return name, None
    if callable(expected):
        return getattr(expected, "__name__", "custom"), expected
    raise invalid("expected_weighting", f"got {type(expected).__name__}",
                  "pass a weighting name such as 'eps' or a callable t -> λ(t)")


def _times_tensor(kernel: Kernel, times: Any, n_times: int) -> Tensor:
    if times is None:
        t = kernel.grid(n_times)
    else:
        t = _as_times(times)
        if t.numel() < 1 or t.dtype == torch.bool or t.is_complex():
            raise invalid("times", f"got {times!r}", "pass a non-empty sequence of times in the "
                          "schedule's units")
    if kernel.discrete:
        if t.is_floating_point() and bool((t != torch.round(t)).any()):
            raise invalid("times", "has non-integer values for a discrete schedule",
                          "pass integer timesteps")
        return t.to(torch.int64)
    return t.to(torch.float64)


def _as_times(times: Any) -> Tensor:
    """User times as a flat CPU tensor: integers stay int64, anything else becomes float64."""
    if isinstance(times, Tensor):
        return times.detach().cpu().flatten()
    try:
        t = torch.as_tensor(times)
        if t.is_floating_point():
            t = torch.as_tensor(times, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise invalid("times", f"got {times!r}", "pass a sequence of times in the schedule's "
                      "units") from None
    return t.flatten()


def _kernel_on(kernel: Kernel, t: Tensor) -> tuple[Tensor, Tensor]:
    try:
        alpha = kernel.alpha(t).detach().to(torch.float64).cpu().reshape(-1)
        sigma = kernel.sigma(t).detach().to(torch.float64).cpu().reshape(-1)
    except SmeqError as exc:
        raise invalid("times", f"the schedule refused them: {exc}",
                      "pass times inside the schedule's domain (or leave times=None)") from exc
    except (RuntimeError, TypeError, IndexError) as exc:
        raise invalid("schedule", f"could not be evaluated at times {t.tolist()} ({exc})",
                      "pass times inside the schedule's domain") from exc
    if alpha.numel() == 1 and t.numel() > 1:
        alpha = alpha.expand(t.numel())
    if sigma.numel() == 1 and t.numel() > 1:
        sigma = sigma.expand(t.numel())
    for name, v in (("α", alpha), ("σ", sigma)):
        bad = ~torch.isfinite(v) | (v <= 0)
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise invalid("schedule", f"has {name}(t) = {float(v[i])!r} at t={t[i].item()}; the "
                          "guard needs α > 0 and σ > 0 on every checked time",
                          "pass `times` strictly inside the schedule's domain")
    return alpha, sigma


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


def check_loss(loss: Callable[..., Any], to_score: Callable[..., Any], schedule: Any, *,
               times: Any = None, models: Iterable[Any] | None = None, data: Any = None,
               dim: int = 3, expected_weighting: Any = None, device: Any = "cpu",
               dtype: torch.dtype = torch.float64, seed: int = 0, n_samples: int = 256,
               image_shape: tuple[int, ...] | None = None, statistical: bool | str = False,
               n_times: int = DEFAULT_TIMES, n_models: int = DEFAULT_MODELS,
               rtol: float | None = None, batch_size: int = 256,
               weighting_params: dict[str, float] | None = None,
               low_precision: tuple[torch.dtype, ...] = (torch.bfloat16, torch.float16),
               name: str | None = None) -> LossReport:
    """Check that ``loss`` is a score-matching loss: λ(t)·SM(θ) + const, with λ(t) > 0.

    ``loss(model, x0, t, noise)`` returns per-sample losses [B] (or a scalar, then evaluated per
    sample); ``to_score(model, x_t, t)`` the model's score estimate. ``schedule`` is a
    :class:`numeric.Schedule`, an object with ``alpha(t)``/``sigma(t)``, or ``add_noise(x0,
    noise, t)`` (probed). t is passed in the schedule's units, one per sample, mixed within the
    batch. With ``statistical=True`` (or ``"data"``) the loss is ``loss(model, x0)`` sampling its
    own randomness and is compared with SM on the data by a paired test (implicit and sliced SM,
    :mod:`numeric._statistical`); with ``statistical="time"`` it is ``loss(model, x0)`` drawing
    t and the noise itself, and the exact score must minimise it, tested along several directions
    with common random numbers (:mod:`numeric._time_sampling`).
    The loss is called on chunks of ``batch_size`` samples. An ``add_noise`` schedule is also
    probed in each ``low_precision`` dtype at small t; what it finds (e.g. no noise at t = 0 in
    bfloat16) goes to ``LossReport.warnings`` and does not change ``ok``.
    Posterior-coupled evaluation, shared/DESIGN.md §3; Vincent (2011), eq. 11.
    """
    _callable("loss", loss, "loss(model, x0, t, noise) -> Tensor[B]")
    _callable("to_score", to_score, "to_score(model, x_t, t) -> score shaped like x_t")
    dtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    seed = positive_int("seed", seed, minimum=0)
    n_samples = positive_int("n_samples", n_samples, minimum=2)
    shape = _image_shape(image_shape, dim)
    flat_dim = math.prod(shape)
    mix = _data(data, flat_dim, seed, dev)
    model_list = _models(models, n_models, flat_dim, seed, dtype, dev, image_shape,
                         contracting=bool(statistical))
    target = str(name or getattr(loss, "__qualname__", type(loss).__name__))
    if statistical not in (False, True, "data", "time"):
        raise invalid("statistical", f"got {statistical!r}", "pass False (exact coupled check), "
                      "True or 'data' (loss(model, x0) on the data, e.g. implicit or sliced SM), "
                      "or 'time' (loss(model, x0) that draws t and the noise itself)")
    if statistical == "time":
        kernel = resolve_schedule(schedule, times=None, sample_shape=shape, dtype=dtype,
                                  device=dev)
        return check_time_sampling(loss, to_score, mix, kernel, shape=shape, dtype=dtype,
                                   device=dev, seed=seed, n_samples=n_samples,
                                   n_models=positive_int("n_models", n_models), target=target)
    if statistical:
        return check_statistical(loss, to_score, mix, model_list, shape=shape, dtype=dtype,
                                 device=dev, seed=seed, n_samples=n_samples, target=target,
                                 low_precision=low_precision)
    expected_name, expected_fn = _weighting_request(expected_weighting)
    user_times = None if times is None else _as_times(times)
    kernel = resolve_schedule(schedule, times=user_times, sample_shape=shape, dtype=dtype,
                              device=dev)
    t = _times_tensor(kernel, times, positive_int("n_times", n_times))
    alpha, sigma = _kernel_on(kernel, t)
    findings: list[str] = []
    warnings: list[str] = []
    if kernel.add_noise is not None:
        probe = AddNoiseProbe(kernel.add_noise, shape, dtype, dev)
        findings += probe.affine_findings(t, torch.Generator().manual_seed(seed + 1))
        warnings += low_precision_findings(kernel, t, tuple(low_precision))
    problem = _Problem(mix, t, alpha, sigma, n_samples, seed, shape, dtype, dev)
    thr = rtol if rtol is not None else RESIDUAL_RTOL.get(dtype, 0.05)
    ls: list[Tensor] = []
    ss: list[Tensor] = []
    est: list[Tensor] = []
    how = ""
    xt, t_xt = problem.score_inputs()
    bs = positive_int("batch_size", batch_size)
    for model in model_list:
        avg, how = problem.loss_average(loss, model, batch_size=bs)
        ls.append(avg)
        est.append(problem.unmix_scores(_scores(to_score, model, xt, t_xt)))
        ss.append(problem.sm(est[-1]))
    dl = torch.stack([v - ls[0] for v in ls[1:]])
    ds = torch.stack([v - ss[0] for v in ss[1:]])
    if not bool((ds != 0).any()):
        raise invalid("models", "all give the same score estimate",
                      "pass models with different parameters (or leave models=None)")
    if not bool((dl != 0).any()):
        raise invalid("loss", "does not depend on the model: every model gives the same loss",
                      "compute the loss from model(x_t, t) (and do not detach it)")
    lam, res = _fit(dl, ds)
    t_list = [float(v) for v in t.tolist()]
    residual = float(res.max())
    worst = t_list[int(res.argmax())]
    if residual > thr:
        i = int(res.argmax())
        findings.append(f"at t={_ft(worst)} the loss is not affine in SM: residual "
                        f"{residual:.2g} (α={float(alpha[i]):.4g}, σ={float(sigma[i]):.4g})")
        findings += diagnose(lambda m, mixed: problem.loss_average(loss, m, mixed=mixed,
                                                                   batch_size=bs)[0],
                             model_list, problem.score, problem.xt, ls, est, t_list, alpha,
                             sigma, thr, flat_dim)
    if bool((lam <= 0).any()):
        i = int(lam.argmin())
        findings.append(f"λ(t) must be > 0, got λ = {float(lam[i]):.3g} at t={_ft(t_list[i])}: "
                        "the loss does not decrease as the model approaches the true score")
    g2 = None
    if kernel.g2 is not None and not kernel.discrete:
        try:
            g2 = kernel.g2(t).detach().double().cpu()
        except Exception:  # a schedule without g² just skips that weighting
            g2 = None
    mrtol = MATCH_RTOL.get(dtype, 0.05)
    matched: Match | None = None
    if not findings:
        matched = match_weighting(lam, alpha, sigma, g2=g2, rtol=mrtol, prefer=expected_name,
                                  params=weighting_params)
    expected_text = None
    if expected_name is not None:
        expected_text = _expected_text(expected_name, expected_fn)
        if not findings:
            findings += _check_expected(lam, t, alpha, sigma, g2, expected_name, expected_fn,
                                        matched, mrtol, weighting_params, flat_dim)
    return LossReport(
        ok=not findings, weighting=dict(zip(t_list, lam.tolist(), strict=True)),
        residual=residual, worst_t=worst, matched=None if matched is None else matched.name,
        scale=None if matched is None else matched.scale,
        matched_text=(matched.text(flat_dim) if matched is not None else
                      describe_power_law(lam, alpha, sigma, rtol=mrtol) if not findings[:1]
                      or residual <= thr else None),
        expected=expected_text, findings=tuple(findings), warnings=tuple(warnings),
        threshold=thr, target=target, residuals=dict(zip(t_list, res.tolist(), strict=True)),
        mode=f"posterior-coupled, loss {how}")


def _ft(t: float) -> str:
    return str(int(t)) if float(t).is_integer() and abs(t) >= 1 else f"{t:.4g}"


def _image_shape(image_shape: Any, dim: int) -> tuple[int, ...]:
    if image_shape is None:
        return (positive_int("dim", dim),)
    try:
        shape = tuple(int(s) for s in image_shape)
    except TypeError:
        raise invalid("image_shape", f"got {image_shape!r}",
                      "pass a tuple like (3, 8, 8)") from None
    if not shape or any(s < 1 for s in shape):
        raise invalid("image_shape", f"got {image_shape!r}", "pass positive sizes like (3, 8, 8)")
    return shape


def _data(data: Any, dim: int, seed: int, device: torch.device) -> GaussianMixture:
    if data is None:
        return default_mixture(dim, seed, torch.float64, device)
    if not isinstance(data, GaussianMixture):
        raise invalid("data", f"got {type(data).__name__}", "pass a numeric.GaussianMixture "
                      "(its exact posterior makes the check exact) or None")
    if data.dim != dim:
        raise invalid("data", f"has dim {data.dim}, the check uses {dim}",
                      "pass dim= (or image_shape=) matching the mixture")
    return data.to(dtype=torch.float64, device="cpu")


def _models(models: Iterable[Any] | None, n: int, dim: int, seed: int, dtype: torch.dtype,
            device: torch.device, shape: Any, *, contracting: bool = False) -> list[Any]:
    if models is None:
        n = positive_int("n_models", n, minimum=2)
        return default_models(n, dim, seed, dtype, device,
                              None if shape is None else tuple(int(s) for s in shape),
                              contracting=contracting)
    try:
        out = list(models)
    except TypeError:
        raise invalid("models", f"got {type(models).__name__}, not iterable",
                      "pass a list of models (at least 2, better 4)") from None
    if len(out) < 2:
        raise invalid("models", f"got {len(out)} model(s)", "pass at least 2 models (4 is "
                      "the default): the check compares models")
    return out


def _expected_text(name: str, fn: Callable[..., Any] | None) -> str:
    if fn is not None:
        return f"{name} (a user function of t)"
    if name == LIKELIHOOD:
        return "likelihood (λ = g²)"
    return f"{name} (λ = {WEIGHTINGS[name].formula})"


def _check_expected(lam: Tensor, t: Tensor, alpha: Tensor, sigma: Tensor, g2: Tensor | None,
                    name: str, fn: Callable[..., Any] | None, matched: Match | None,
                    rtol: float, params: dict[str, float] | None, dim: int) -> list[str]:
    from ._weightings import _constant_ratio, _try

    if fn is not None:
        ref = torch.as_tensor(fn(t)).detach().double().cpu().reshape(-1).expand(t.numel())
        ok = _constant_ratio(lam, ref, rtol) is not None
    else:
        if name == LIKELIHOOD and g2 is None:
            return ["expected the likelihood weighting g², but the schedule has no g2(t)"]
        ok = _try(name, lam, alpha, sigma, g2, rtol, params or {}) is not None
    if ok:
        return []
    measured = (matched.text(dim) if matched is not None else
                describe_power_law(lam, alpha, sigma, rtol=rtol) or
                "{" + ", ".join(f"{_ft(a)}: {b:.4g}" for a, b in
                                zip(t.tolist(), lam.tolist(), strict=True)) + "}")
    return [f"the weighting is not {_expected_text(name, fn)}: measured {measured}"]


def assert_score_matching_loss(loss: Callable[..., Any], to_score: Callable[..., Any],
                               schedule: Any, **kwargs: Any) -> LossReport:
    """Raise AssertionError with :meth:`LossReport.summary` unless :func:`check_loss` passes."""
    __tracebackhide__ = True
    report = check_loss(loss, to_score, schedule, **kwargs)
    if not report.ok:
        raise AssertionError(report.summary())
    return report
