"""Batch checks: a sample's loss must not depend on the other samples of its batch.

Per-sample evaluation (a batch of one) cannot see a broadcast that mixes samples
(docs/design.md §3b, "Batches"). So, on a mixed-t batch of the coupled set:

* a scalar loss is also evaluated on the whole batch, and its value must equal the mean (or the
  sum) of its per-sample values — which of the two is reported;
* a per-sample loss must give each sample the same value when the batch is permuted and when it is
  shrunk to a different size.

Both compare differences between two models (L_1 − L_0), so a θ-free term that mixes samples
(harmless for training) is not flagged; what is flagged changes the gradient.
:func:`check_per_sample` takes the evaluation as a callable, so the same check runs on a loss
(``check_loss``) and on a replayed training step (``check_training_step``).

:func:`coupled_subset` is the small mixed-time batch this module and :mod:`._gradients` use: the
first ``k`` x_t of every time with all their coupled x_0, in a fixed random order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ._problem import _no_grad_first, per_sample_loss

__all__ = ["BatchResult", "CoupledSubset", "check_batch", "check_per_sample", "coupled_subset"]

Tensor = torch.Tensor
#: Rows of the batch the checks use: enough to mix every time, small enough to cost little.
BATCH_ROWS = 48


@dataclass(frozen=True)
class CoupledSubset:
    """``k`` x_t per time with all their coupled pairs, mixed: loss inputs, the posterior weight
    of each pair, and which (time, x_t) each pair belongs to."""

    x0: Tensor          # [P, *shape]
    t: Tensor           # [P]
    noise: Tensor       # [P, *shape]
    weights: Tensor     # [P] float64 (posterior weight of the pair)
    time_index: Tensor  # [P] int64 (index into the problem's times)
    xt_index: Tensor    # [P] int64 (index of the x_t, time-major: time * k + j)
    xt: Tensor          # [T·k, *shape] the x_t themselves, time-major
    xt_t: Tensor        # [T·k] their times
    score: Tensor       # [T·k, D] float64 exact ∇log p_t(x_t)
    k: int


def _times(problem: Any, reps: int) -> Tensor:
    t = problem.t.repeat_interleave(reps)
    if t.is_floating_point():
        t = t.to(problem.dtype)
    return t.to(problem.device)


def coupled_subset(problem: Any, k: int, seed: int) -> CoupledSubset:
    """The first ``k`` x_t of each time of ``problem`` (a ``_Problem``) and their pairs."""
    k = max(1, min(int(k), int(problem.n)))
    n_t, m = int(problem.n_t), int(problem.m)
    d = problem.xt.shape[-1]
    x0 = problem.x0[:, :k].reshape(-1, d)
    eps = problem.eps[:, :k].reshape(-1, d)
    w = problem.weights[:, :k].reshape(-1).to(torch.float64)
    ti = torch.arange(n_t).repeat_interleave(k * m)
    xi = torch.arange(n_t * k).repeat_interleave(m)
    perm = torch.randperm(x0.shape[0], generator=torch.Generator().manual_seed(seed + 7919))
    shape = tuple(problem.shape)

    def out(x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *shape).to(dtype=problem.dtype, device=problem.device)

    t = _times(problem, k * m)
    return CoupledSubset(
        x0=out(x0[perm]), t=t[perm.to(t.device)], noise=out(eps[perm]), weights=w[perm],
        time_index=ti[perm], xt_index=xi[perm], xt=out(problem.xt[:, :k].reshape(-1, d)),
        xt_t=_times(problem, k), score=problem.score[:, :k].reshape(-1, d).to(torch.float64),
        k=k)


@dataclass(frozen=True)
class BatchResult:
    """Findings (cross-sample bugs), and what was found (e.g. "scalar = mean of per-sample")."""

    findings: tuple[str, ...]
    text: str | None


def _values(loss: Callable[..., Any], model: Any, x0: Tensor, t: Tensor, noise: Tensor
            ) -> Tensor:
    # An energy model's loss differentiates inside: retried with grad enabled, as in _problem.
    out = _no_grad_first(loss, model, x0, t, noise)
    return out.detach().to(torch.float64).cpu()


def check_batch(loss: Callable[..., Any], models: list[Any], sub: CoupledSubset, how: str,
                thr: float, seed: int) -> BatchResult:
    """The batch checks of the module docstring on the first rows of ``sub``, models 0 and 1."""
    rows = min(BATCH_ROWS, sub.x0.shape[0])
    if rows < 3 or len(models) < 2:
        return BatchResult((), None)
    x0, t, noise = sub.x0[:rows], sub.t[:rows], sub.noise[:rows]
    pair = models[:2]
    if how.startswith("scalar"):
        return _scalar(loss, pair, x0, t, noise, thr)
    return _per_sample(loss, pair, x0, t, noise, thr, seed)


def _scalar(loss: Callable[..., Any], models: list[Any], x0: Tensor, t: Tensor,
            noise: Tensor, thr: float) -> BatchResult:
    b = x0.shape[0]
    full = [float(_values(loss, m, x0, t, noise).reshape(())) for m in models]
    per = []
    for m in models:
        vals, _ = per_sample_loss(loss, m, x0, t, noise)   # no_grad inside, where it can be
        per.append(vals.detach().to(torch.float64).cpu())
    d_full = full[1] - full[0]
    d_per = per[1] - per[0]
    d_mean, d_sum = float(d_per.mean()), float(d_per.sum())
    scale = float(d_per.abs().mean()) or 1.0
    if abs(d_full - d_mean) <= thr * scale:
        return BatchResult((), f"scalar loss = mean of its per-sample values (checked on a "
                               f"mixed-t batch of {b})")
    if abs(d_full - d_sum) <= thr * scale * b:
        return BatchResult((), f"scalar loss = sum of its per-sample values (checked on a "
                               f"mixed-t batch of {b})")
    return BatchResult((
        f"a sample's loss depends on other samples in the batch: on a mixed-t batch of {b} the "
        f"scalar loss changes by {d_full:.6g} between two models, but the mean of its per-sample "
        f"values (each a batch of one) changes by {d_mean:.6g} and their sum by {d_sum:.6g}. "
        "Look for a schedule value shaped for another data layout (e.g. sigma[:, None, None, "
        "None] against [B, D] data broadcasts to [B, 1, B, D]) or a reduction over a [B, B] "
        "tensor; reshape per-sample factors to [B, 1, ...] matching x0",), None)


def _per_sample(loss: Callable[..., Any], models: list[Any], x0: Tensor, t: Tensor,
                noise: Tensor, thr: float, seed: int) -> BatchResult:
    def values(model: Any, rows: Tensor) -> Tensor:
        r = rows.to(x0.device)
        return _values(loss, model, x0[r], t[r], noise[r])

    return check_per_sample(values, models, x0.shape[0], thr, seed)


def check_per_sample(values: Callable[[Any, Tensor], Tensor], models: list[Any], b: int,
                     thr: float, seed: int) -> BatchResult:
    """A per-sample loss on a batch of ``b`` rows, permuted and shrunk, for two models.

    ``values(model, rows)`` evaluates the loss on the batch made of the rows ``rows`` (int64
    indices into the ``b`` rows, in that order) and returns its per-sample values [len(rows)],
    float64 on the CPU. One mechanism for both entry points: ``check_loss`` indexes its
    (x0, t, noise); ``check_training_step`` replays the step on those rows with their draws."""
    perm = torch.randperm(b, generator=torch.Generator().manual_seed(seed + 104_729))
    small = b // 2 + 1
    full = torch.arange(b)
    base, permuted, shrunk = [], [], []
    for m in models[:2]:
        base.append(values(m, full))
        permuted.append(values(m, perm))
        shrunk.append(values(m, full[:small]))
    d = base[1] - base[0]
    scale = float(d.abs().max()) or 1.0
    for label, got, want in (
            (f"the batch of {b} is permuted", permuted[1] - permuted[0], d[perm]),
            (f"the batch shrinks from {b} to {small} samples", shrunk[1] - shrunk[0],
             d[:small])):
        if got.shape != want.shape:
            return BatchResult((f"the loss returned {list(got.shape)} for a batch of "
                                f"{want.shape[0]}: a sample's loss depends on the batch size",),
                               None)
        err = (got - want).abs()
        if float(err.max()) > thr * scale:
            i = int(err.argmax())
            idx = int(perm[i]) if "permuted" in label else i
            return BatchResult((
                f"sample {idx}'s loss depends on other samples in the batch: its model-to-model "
                f"difference changes from {float(want[i]):.6g} to {float(got[i]):.6g} when "
                f"{label} (a broadcast across the batch axis, a batch statistic such as "
                "x0.std() or batch-norm in training mode, or a reduction over the wrong axis); "
                "compute each sample's loss from that sample alone",), None)
    return BatchResult((), f"per-sample losses unchanged under a permutation of a mixed-t "
                           f"batch of {b} and in a batch of {small}")
