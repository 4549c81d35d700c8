"""Guard benchmark: verdict time, correct vs bug residuals, and plain Monte Carlo for comparison.

    python bench/guard.py [--repeats 5]

Prints (all measured in this run; docs/design.md §5 targets in brackets):
  * the time of one verdict at the defaults (d=3, 4 models, 8 times, 256 x_t) [≤ 2 s CPU];
  * the largest residual over the correct reference losses [≤ 1e-10] and the smallest over the
    affine mutants of tests/quality/mutants.py [≥ 1e-3], and their ratio (the separation);
  * plain Monte Carlo on the same problem: the residual of a correct loss falls like C/√N, so it
    reaches a given separation only at N = (C·S/r_bug)². The script measures C and the cost per
    sample, runs the N that separation 10 needs when it is affordable, and extrapolates (and says
    so) for the posterior-coupled separation.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "quality"))

from mutants import CORRECT, MUTANTS

from numeric import Schedule, check_loss
from numeric.guard._inputs import default_mixture, default_models
from numeric.guard._reference_losses import reference_loss


def verdict_time(repeats: int) -> tuple[float, float]:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)
    check_loss(ref.loss, ref.to_score, sched)  # warm-up (first calls allocate)
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        report = check_loss(ref.loss, ref.to_score, sched)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert report.ok
    return statistics.median(times), statistics.median(cpu)


def residuals() -> tuple[float, str, float, str]:
    worst_ok, worst_ok_name = 0.0, ""
    for sched_name, name in CORRECT:
        sched = Schedule.named(sched_name)
        ref = reference_loss(name, sched)
        r = check_loss(ref.loss, ref.to_score, sched)
        assert r.ok and r.matched == ref.weighting, r.summary()
        if r.residual >= worst_ok:
            worst_ok, worst_ok_name = r.residual, f"{name}[{sched_name}]"
    best_bug, best_bug_name = math.inf, ""
    for m in MUTANTS:
        if m.kind != "affine":
            continue
        r = check_loss(m.loss, m.to_score, m.schedule())
        assert not r.ok
        if r.residual < best_bug:
            best_bug, best_bug_name = r.residual, m.name
    return worst_ok, worst_ok_name, best_bug, best_bug_name


def plain_mc_residual(n: int, seed: int = 0) -> tuple[float, float]:
    """The guard's relation fitted on plain (x0, ε) draws with common random numbers: per time,
    mean_i(ℓ_j − ℓ_0) vs λ·mean_i(S_j − S_0); returns (residual, seconds)."""
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)
    mix = default_mixture(3, 0, torch.float64, torch.device("cpu"))
    models = default_models(4, 3, 0, torch.float64, torch.device("cpu"), None)
    g = torch.Generator().manual_seed(seed)
    torch.set_grad_enabled(False)  # values only, as in the guard
    t0 = time.perf_counter()
    dls, dss = [], []
    for t in sched.grid(8).tolist():
        a, s = float(sched.alpha(t)), float(sched.sigma(t))
        x0, eps, xt = mix.sample_xt(n, a, s, generator=g)
        tt = torch.full((n,), t, dtype=torch.float64)
        score = mix.score_t(xt, a, s)
        ls = [ref.loss(m, x0, tt, eps).mean() for m in models]
        ss = [((score - ref.to_score(m, xt, tt)) ** 2).sum(1).mean() for m in models]
        dls.append(torch.stack([v - ls[0] for v in ls[1:]]))
        dss.append(torch.stack([v - ss[0] for v in ss[1:]]))
    worst = 0.0
    for dl, ds in zip(dls, dss, strict=True):
        lam = (dl * ds).sum() / (ds * ds).sum()
        worst = max(worst, float((dl - lam * ds).norm() / dl.norm()))
    torch.set_grad_enabled(True)
    return worst, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPU; load average "
          f"{os.getloadavg()[0]:.1f} (wall times grow with other load; CPU times less so)")
    t_verdict, t_cpu = verdict_time(args.repeats)
    print(f"one verdict (d=3, 4 models, 8 times, 256 x_t): median {t_verdict:.3f} s wall, "
          f"{t_cpu:.3f} s CPU over {args.repeats} runs   [target ≤ 2 s]")
    ok, ok_name, bug, bug_name = residuals()
    sep = bug / max(ok, 1e-300)
    print(f"largest correct residual  {ok:.2e} ({ok_name}, {len(CORRECT)} losses)   "
          "[target ≤ 1e-10]")
    print(f"smallest mutant residual  {bug:.2e} ({bug_name}, "
          f"{sum(m.kind == 'affine' for m in MUTANTS)} affine mutants)   [target ≥ 1e-3]")
    print(f"separation (min bug / max correct): {sep:.2e}")
    print("plain Monte Carlo, CRN, same problem (eps loss, VP), residual of the CORRECT loss:")
    cs, per_sample = [], []
    for n in (256, 1024, 4096, 16384):
        r, sec = plain_mc_residual(n)
        cs.append(r * math.sqrt(n))
        per_sample.append(sec / (8 * n))
        print(f"  N = {n:6d} per time: residual {r:.2e}  ({sec:.3f} s)")
    c = statistics.median(cs)
    cost = statistics.median(per_sample)
    print(f"  fitted residual ≈ C/√N with C = {c:.3g}; cost {cost * 1e6:.2f} µs per sample")
    for label, target_sep in (("separation 10", 10.0), ("the coupled separation", sep)):
        n_need = (c * target_sep / bug) ** 2
        sec = n_need * 8 * cost
        affordable = sec < 120
        if affordable:
            r, sec = plain_mc_residual(math.ceil(n_need))
            print(f"  {label}: N = {n_need:.3g} per time, ran it: correct residual {r:.2e} "
                  f"(separation {bug / r:.3g}) in {sec:.2f} s")
        else:
            print(f"  {label}: needs N ≈ {n_need:.3g} per time, ≈ {sec:.3g} s "
                  f"(≈ {sec / 3.15e7:.3g} years) — EXTRAPOLATED from C/√N, not run")
    print(f"posterior-coupled: separation {sep:.2e} in {t_verdict:.3f} s")


if __name__ == "__main__":
    main()
