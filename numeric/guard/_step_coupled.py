"""The posterior-coupled rows for a measured kernel, and the step evaluated on them.

Per time the Gaussian mixture's coupled set (docs/design.md §3) is built for the measured α and
σ = ‖β‖; the combined noise ε is split over the K noise draws as z = β ε/‖β‖ ± (I − ββᵀ/‖β‖²) w,
an antithetic pair, so that the posterior mean of anything affine in (x0, z_1..z_K) is exact.
A scalar step loss is evaluated per sample with ``torch.func.vmap`` over batches of one (each
sample's draws chosen), falling back to a loop; the first model's run also checks that the step
reproduces the coupled x_t, is deterministic given its draws and reduces by a mean or a sum.
"""

from __future__ import annotations

from typing import Any

import torch

from .._errors import SmeqError, invalid
from .._mixture import GaussianMixture
from ._intercept import DrawMode, Stop, fresh_values
from ._step_kernel import _Kernel, _with_batch
from ._step_replay import _TIME_MODE, RECORD_BATCH, _Mismatch, _Plan, _Runner, _Tap

Tensor = torch.Tensor

#: How far what the step feeds the model may be from the coupled x_t (relative), per dtype.
REPRODUCE_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-10, torch.float32: 1e-4}

#: A batch loss equals the mean or sum of its per-sample values to this relative accuracy: the
#: rounding of a reduction over a batch in the loss's dtype.
_REDUCE_RTOL = {torch.float64: 1e-10, torch.float32: 1e-4}


class _Coupled:
    """The posterior-coupled rows for the measured kernel, mixed over times (module doc, 3)."""

    def __init__(self, mix: GaussianMixture, k: _Kernel, n: int, g: torch.Generator,
                 runner: _Runner, *, equal: bool = False) -> None:
        self.k, self.runner, self.equal = k, runner, equal
        self.findings: list[str] = []
        self.reduction = ""
        n_noise = len(k.noises)
        xs, y0s, zs, ws, scores = [], [], [], [], []
        from .._coupling import coupled_batch

        for i in range(k.alpha.numel()):
            a, s = float(k.alpha[i]), float(k.sigma[i])
            cb = coupled_batch(mix, a, s, n, generator=g)
            y0, w, eps = cb.x0, cb.weights, cb.eps            # [n, M, D], [n, M], [n, M, D]
            if equal:
                y0, w, eps = _equal_weights(cb.xt, y0, w, a, s, g)
            bhat = (k.beta[i] / k.sigma[i]).reshape(1, 1, n_noise, 1)
            z = bhat * eps[:, :, None, :]                     # [n, M, K, D]
            if n_noise > 1:
                proj = torch.eye(n_noise, dtype=torch.float64) - bhat.reshape(-1, 1) * \
                    bhat.reshape(1, -1)
                white = torch.randn(z.shape, generator=g, dtype=torch.float64)
                orth = torch.einsum("kl,nmld->nmkd", proj, white)
                z = torch.stack((z + orth, z - orth), 2).flatten(1, 2)
                y0 = y0.repeat_interleave(2, dim=1)
                w = w.repeat_interleave(2, dim=1) / 2
            xs.append(cb.xt)
            y0s.append(y0)
            zs.append(z)
            ws.append(w)
            scores.append(mix.score_t(cb.xt, a, s))
        self.xt = torch.stack(xs)            # [T, n, D]
        self.y0 = torch.stack(y0s)           # [T, n, M, D]
        self.z = torch.stack(zs)             # [T, n, M, K, D]
        self.weights = torch.stack(ws)       # [T, n, M]
        self.score = torch.stack(scores)     # [T, n, D]
        n_t, _, m, d = self.y0.shape
        self.n_t, self.n, self.m = n_t, n, m
        rows = n_t * n * m
        self.perm = torch.randperm(rows, generator=g)
        self.perm_xt = torch.randperm(n_t * n, generator=g)
        self.mixed = self.perm        # the order of a mixed-t batch, for the batch checks
        if equal:                     # rows grouped by x_t: one call per x_t (module doc)
            self.perm = torch.arange(rows)
        group = torch.arange(n_t).repeat_interleave(n * m)[self.perm]
        self.x0_rows = (self.y0.reshape(rows, d) / k.scale)[self.perm]
        self.want = (self.xt[:, :, None, :] + k.offset[:, None, None, :]).expand(
            n_t, n, m, d).reshape(rows, d)[self.perm]
        self.values: dict[int, Tensor] = {}
        for j, nd in enumerate(k.noises):
            self.values[nd.index] = self.z[:, :, :, j, :].reshape(rows, d)[self.perm]
        if k.time_draw is not None:
            self.values[k.time_draw.index] = k.t_std[group]
        fixed = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=g)))
        for c in k.nuisance:
            self.values[c.index] = fresh_values(_with_batch(c, rows), fixed)

    def rows(self, lo: int, hi: int) -> tuple[Tensor, dict[int, Tensor]]:
        return self.x0_rows[lo:hi], {i: v[lo:hi] for i, v in self.values.items()}

    def average(self, per_row: Tensor) -> Tensor:
        v = per_row.detach().to(torch.float64).cpu()
        v = torch.empty_like(v).index_copy_(0, self.perm, v)
        return (self.weights * v.reshape(self.n_t, self.n, self.m)).sum(-1)

    def score_inputs(self) -> tuple[Tensor, Any]:
        k, d = self.k, self.xt.shape[-1]
        x = (self.xt + k.offset[:, None, :]).reshape(-1, d)[self.perm_xt]
        x = x.reshape(-1, *k.x_shape).to(dtype=k.x_dtype, device=self.runner.device)
        group = torch.arange(self.n_t).repeat_interleave(self.n)[self.perm_xt]
        t = k.t_in
        if isinstance(t, Tensor) and t.dim() >= 1 and t.shape[0] == self.n_t:
            t = t.index_select(0, group.to(t.device))
        return x, t

    def sm(self, est: Tensor) -> Tensor:
        v = est.detach().to(torch.float64).cpu().reshape(self.n_t * self.n, -1)
        v = torch.empty_like(v).index_copy_(0, self.perm_xt, v)
        return ((self.score - v.reshape(self.n_t, self.n, -1)) ** 2).sum(-1)


def _equal_weights(xt: Tensor, x0: Tensor, w: Tensor, a: float, s: float,
                   g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """An equal-weight set with the same posterior mean: M/2 draws from the weighted set and their
    reflections through the posterior mean m(x_t). Anything affine in x0 still averages to its
    exact posterior value, which is all the check needs (docs/design.md §3)."""
    _, m_pts, d = x0.shape
    mean = (w[..., None] * x0).sum(1, keepdim=True)                  # [n, 1, D]
    half = max(m_pts // 2, 1)
    idx = torch.multinomial(w, half, replacement=True, generator=g)   # [n, half]
    dev = torch.gather(x0, 1, idx[..., None].expand(-1, -1, d)) - mean
    y0 = torch.cat((mean + dev, mean - dev), 1)
    eps = (xt[:, None, :] - a * y0) / s
    return y0, torch.full(y0.shape[:2], 1.0 / y0.shape[1], dtype=w.dtype), eps


class _NoVmap(Exception):
    """vmap could not evaluate a scalar step per sample: use one call per x_t instead."""


def _evaluate_per_xt(runner: _Runner, tap: _Tap, coupled: _Coupled, *,
                     first: bool) -> tuple[Tensor, str]:
    """L̄(x_t) [T, n] of a scalar step from one call per x_t on its equal-weight rows (the
    reduction, mean or sum, read off a full mixed-t batch for the first model)."""
    m = coupled.m
    if first:
        p = coupled.mixed
        vals = {i: v[p] for i, v in coupled.values.items()}
        whole_out = _first_model_checks(runner, tap, coupled, coupled.x0_rows[p], vals,
                                        coupled.want[p])
    chunks = []
    for c in range(coupled.n_t * coupled.n):
        x0_flat, vals = coupled.rows(c * m, (c + 1) * m)
        out = runner.call(tap, runner.x0(x0_flat), vals)
        if not isinstance(out, Tensor) or out.dim() != 0:
            raise invalid("step", "returned a non-scalar on one x_t's rows after a scalar on a "
                          "full batch", "return the same kind of loss for every batch")
        chunks.append(float(out))
    per_xt = torch.tensor(chunks, dtype=torch.float64).reshape(coupled.n_t, coupled.n)
    if first:
        whole = float(whole_out)
        mean, total = float(per_xt.mean()), float(per_xt.sum() * m)
        tol = _REDUCE_RTOL.get(whole_out.dtype, 1e-2)
        if _close_f(whole, mean, tol):
            coupled.reduction = "mean"
        elif _close_f(whole, float(per_xt.sum()), tol):
            coupled.reduction = "sum"
        else:
            coupled.reduction = ""
            coupled.findings.append(
                f"the batch loss {whole:.6g} is neither the mean ({mean:.6g}) nor the sum "
                f"({total:.6g}) of its per-x_t losses on a mixed-t batch: the batch reduction "
                "mixes samples (a broadcast across the batch axis?)")
    if coupled.reduction == "sum":
        per_xt = per_xt / m
    if not bool(torch.isfinite(per_xt).all()):
        raise invalid("step", "returned NaN or inf", "check the loss on the guard's batch "
                      "(a division by σ(t), log of 0)")
    return per_xt, (f"scalar ({coupled.reduction or 'mean'}), one call per x_t on an "
                    "equal-weight coupled set (vmap could not run the step per sample)")


def _first_model_checks(runner: _Runner, tap: _Tap, coupled: _Coupled, x0_flat: Tensor,
                        vals: dict[int, Tensor], want: Tensor) -> Any:
    """Run a full batch twice: it must reproduce the coupled x_t and give the same loss."""
    x0 = runner.x0(x0_flat)
    tap.calls, tap.record = [], True
    out = runner.call(tap, x0, vals)
    tap.record = False
    _check_reproduced(tap, want, coupled.k)
    again = runner.call(tap, x0, vals)
    if not _close(out, again):
        raise invalid("step", "gave different losses on two replays with identical draws "
                      f"({_num(out)} vs {_num(again)}): it depends on something besides "
                      "torch's RNG (a NumPy Generator, a counter, global state)",
                      f"make the step deterministic given its torch draws, or {_TIME_MODE}")
    return out


def _evaluate(runner: _Runner, tap: _Tap, coupled: _Coupled, scalar: bool, batch: int, *,
              first: bool) -> tuple[Tensor, str]:
    """The step's loss per row for one model; for the first model also check that the step
    reproduces the coupled x_t, is deterministic and (scalar) reduces by a mean or a sum."""
    rows = coupled.x0_rows.shape[0]
    parts: list[Tensor] = []
    how = ""
    for lo in range(0, rows, batch):
        hi = min(lo + batch, rows)
        x0_flat, draw_values = coupled.rows(lo, hi)
        x0 = runner.x0(x0_flat)
        if first:
            out = _first_model_checks(runner, tap, coupled, x0_flat, draw_values,
                                      coupled.want[lo:hi])
        else:
            out = runner.call(tap, x0, draw_values)
        if not isinstance(out, Tensor):
            raise invalid("step", f"returned {type(out).__name__}", "return a tensor")
        if not scalar:
            if out.shape != (hi - lo,):
                raise invalid("step", f"returned shape {list(out.shape)} for a batch of "
                              f"{hi - lo}", "return a scalar or one loss per sample")
            parts.append(out.detach().to(torch.float64).cpu())
            how = "per-sample"
            continue
        vals_i, how = _per_sample(runner, tap, x0, draw_values)
        if first:
            whole = float(out)
            mean, total = float(vals_i.mean()), float(vals_i.sum())
            tol = _REDUCE_RTOL.get(out.dtype, 1e-2)
            coupled.reduction = ("mean" if _close_f(whole, mean, tol) else
                                 "sum" if _close_f(whole, total, tol) else "")
            if not coupled.reduction:
                coupled.findings.append(
                    f"the batch loss {whole:.6g} is neither the mean ({mean:.6g}) nor the sum "
                    f"({total:.6g}) of the per-sample losses on a mixed-t batch: the batch "
                    "reduction mixes samples (a broadcast across the batch axis?)")
        parts.append(vals_i)
    vals = torch.cat(parts)
    if not bool(torch.isfinite(vals).all()):
        raise invalid("step", "returned NaN or inf", "check the loss on the guard's batch "
                      "(a division by σ(t), log of 0)")
    return vals, how


def _per_sample(runner: _Runner, tap: _Tap, x0: Tensor, vals: dict[int, Tensor], *,
                grad: bool = False) -> tuple[Tensor, str]:
    """A scalar step per sample, batches of one through ``torch.func.vmap``; with ``grad`` the
    values keep their autograd graph (a loop over the samples where vmap cannot run)."""
    keys = sorted(vals)

    def one(x: Tensor, *v: Tensor) -> Tensor:
        plan = _Plan(runner.expected, 1, {i: t.unsqueeze(0) for i, t in zip(keys, v,
                                                                            strict=True)},
                     RECORD_BATCH)
        with DrawMode(plan):
            out = runner.step(tap, x.unsqueeze(0))
        return out.reshape(())

    try:
        with torch.enable_grad() if grad else torch.no_grad():
            got = torch.func.vmap(one, randomness="error")(x0, *(vals[i] for i in keys))
        if grad:
            return got.to(torch.float64).reshape(-1), "scalar, per sample via vmap"
        return got.detach().to(torch.float64).cpu(), "scalar, per sample via vmap"
    except (Stop, SmeqError):
        raise
    except (Exception, _Mismatch):  # any vmap limitation: one call per x_t instead
        if not grad:
            raise _NoVmap from None
    outs = [runner.call(tap, x0[i:i + 1], {j: v[i:i + 1] for j, v in vals.items()}, grad=True)
            for i in range(x0.shape[0])]
    return torch.stack([o.reshape(()) for o in outs]).to(torch.float64), \
        "scalar, per sample by a loop"


def gradient_inputs(coupled: _Coupled, k: int, runner: _Runner, scalar: bool, batch: int,
                    to_score: Any) -> tuple[Any, Any, Tensor, Tensor]:
    """What :func:`._gradients.gradient_check` needs for a replayed step, on the first ``k`` x_t
    of each time with all their coupled rows (in the batch order of the value check):
    ``(lbar, scores, exact, xt_time)``. ``lbar(tap)`` replays the step with the chosen draws and
    autograd on and sums its per-row losses with the posterior weights per x_t (a scalar step: per
    sample via vmap, or one call per x_t on an equal-weight set); ``scores(tap)`` is
    ``to_score`` at the same x_t, as the step fed them to the model."""
    k = max(1, min(int(k), coupled.n))
    n, m, n_t = coupled.n, coupled.m, coupled.n_t
    d = coupled.xt.shape[-1]
    xt_of = coupled.perm // m                                  # original x_t of each row
    keep = ((xt_of % n) < k).nonzero().squeeze(1)
    sub_xt = (xt_of[keep] // n) * k + xt_of[keep] % n          # time-major subset index
    w = coupled.weights.reshape(-1)[coupled.perm[keep]]
    x0_rows = coupled.x0_rows[keep]
    values = {i: v[keep] for i, v in coupled.values.items()}
    n_sub = n_t * k
    scale = 1.0 / m if coupled.reduction == "sum" else 1.0

    def lbar(tap: _Tap) -> Tensor:
        if coupled.equal:       # rows grouped by x_t, equal weights: one call per x_t
            outs = []
            for ti in range(n_t):
                for j in range(k):
                    c = ti * n + j
                    x0_flat, vals = coupled.rows(c * m, (c + 1) * m)
                    out = runner.call(tap, runner.x0(x0_flat), vals, grad=True)
                    outs.append(out.reshape(()).to(torch.float64) * scale)
            return torch.stack(outs)
        parts = []
        for lo in range(0, keep.numel(), batch):
            x0 = runner.x0(x0_rows[lo:lo + batch])
            vals = {i: v[lo:lo + batch] for i, v in values.items()}
            if scalar:
                parts.append(_per_sample(runner, tap, x0, vals, grad=True)[0])
            else:
                out = runner.call(tap, x0, vals, grad=True)
                parts.append(out.reshape(-1).to(torch.float64))
        per_row = torch.cat(parts)
        return torch.zeros(n_sub, dtype=torch.float64, device=per_row.device).index_add(
            0, sub_xt.to(per_row.device), w.to(per_row.device) * per_row)

    x_all, t_all = coupled.score_inputs()
    orig_xt = coupled.perm_xt                                  # position -> original x_t
    pos = ((orig_xt % n) < k).nonzero().squeeze(1)
    sub_pos = (orig_xt[pos] // n) * k + orig_xt[pos] % n
    order = pos[torch.argsort(sub_pos)]                        # positions in subset order
    x_sub = x_all[order.to(x_all.device)]
    t_sub = t_all
    if isinstance(t_all, Tensor) and t_all.dim() >= 1 and t_all.shape[0] == n_t * n:
        t_sub = t_all[order.to(t_all.device)]

    def scores(tap: _Tap) -> Any:
        return to_score(tap, x_sub, t_sub)

    exact = coupled.score[:, :k].reshape(n_sub, d)
    return lbar, scores, exact, torch.arange(n_t).repeat_interleave(k)


def batch_values(coupled: _Coupled, runner: _Runner, rows: int) -> tuple[Any, int]:
    """``(values, b)`` for :func:`._batch.check_per_sample` on a per-sample step: the first ``b``
    rows of the mixed-t coupled batch, replayed in any order or subset with their own draws."""
    b = min(rows, coupled.x0_rows.shape[0])
    x0_rows, draws = coupled.rows(0, b)

    def values(tap: _Tap, idx: Tensor) -> Tensor:
        out = runner.call(tap, runner.x0(x0_rows[idx]), {i: v[idx] for i, v in draws.items()})
        if not isinstance(out, Tensor):
            raise invalid("step", f"returned {type(out).__name__}", "return a tensor")
        return out.detach().to(torch.float64).cpu().reshape(-1) if out.dim() else \
            out.detach().to(torch.float64).cpu().reshape(1)

    return values, b


def _check_reproduced(tap: _Tap, want: Tensor, k: _Kernel) -> None:
    if not tap.calls:
        raise invalid("step", "did not call the model on a replay", "call the model once per "
                      "step")
    got = tap.calls[0][0].detach().to(torch.float64).cpu().reshape(want.shape)
    err = float((got - want).abs().max()) / max(float(want.abs().max()), 1e-300)
    tol = REPRODUCE_RTOL[torch.float32 if k.low_precision or k.x_dtype != torch.float64
                         else torch.float64]
    if err > tol:
        raise invalid("step", f"fed the model an x_t that differs from the coupled one by "
                      f"{err:.2g} relative on a full batch, although its kernel was probed on "
                      "one sample per time: the noising of a sample depends on more than its own"
                      " draws (the batch size or other samples)",
                      f"noise each sample from its own draws, or {_TIME_MODE}")


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.shape != b.shape:
            return False
        scale = max(float(a.detach().abs().max()) if a.numel() else 0.0, 1e-300)
        return float((a.detach() - b.detach()).abs().max()) <= 1e-12 * scale
    return bool(a == b)


def _close_f(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300)


def _num(v: Any) -> str:
    if isinstance(v, Tensor):
        return f"{float(v.detach().double().reshape(-1)[0]):.17g}" if v.numel() else "[]"
    return repr(v)
