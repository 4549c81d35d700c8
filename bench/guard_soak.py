"""Soak test: many randomized guard checks on CORRECT losses; false alarms must be 0.

    python bench/guard_soak.py [--checks 10000] [--processes 2] [--start 0]

Each check draws (tests/quality/mutants.py: random_correct_case) a schedule with random
parameters (VP linear/cosine, VE, sub-VP, EDM, rectified flow, DDPM tables), a parametrisation
(score, NCSN, ε, x0, v, EDM, flow matching, min-SNR, likelihood), a reduction, random times inside
the schedule's domain, a seed, d in 1..6, 3-5 models and 16-63 x_t per time, and states the
weighting the loss must be named by (docs/design.md §5: 0 false alarms in 10,000 runs). Every
check runs with the gradient and batch checks on (the defaults). Prints the false-alarm count, the
largest value and gradient residuals seen, how many checks could not run the gradient check, the
run time and time per check; then the smallest residual of the planted bugs
(tests/quality/mutants.py: affine mutants for values, gradient mutants for gradients) and the
separation (smallest bug / largest correct) for each.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "quality"))


def _one(seed: int) -> tuple[int, bool, float, float | None, str]:
    import torch
    from mutants import random_correct_case

    from numeric import check_loss

    torch.set_num_threads(1)
    case = random_correct_case(seed)
    weighting, params = case.pop("weighting"), case.pop("weighting_params")
    report = check_loss(case.pop("loss"), case.pop("to_score"), case.pop("schedule"),
                        expected_weighting=weighting, weighting_params=params, **case)
    return (seed, report.ok, report.residual, report.gradient_residual,
            "" if report.ok else report.summary())


def _mutant_minima() -> tuple[float, str, float, str]:
    import torch
    from mutants import MUTANTS

    from numeric import check_loss

    torch.set_num_threads(1)
    best_v, name_v, best_g, name_g = float("inf"), "", float("inf"), ""
    for m in MUTANTS:
        if m.kind not in ("affine", "gradient"):
            continue
        r = check_loss(m.loss, m.to_score, m.schedule())
        assert not r.ok, m.name
        if m.kind == "affine" and r.residual < best_v:
            best_v, name_v = r.residual, m.name
        if m.kind == "gradient" and r.gradient_residual is not None and \
                r.gradient_residual < best_g:
            best_g, name_g = r.gradient_residual, m.name
    return best_v, name_v, best_g, name_g


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    seeds = range(args.start, args.start + args.checks)
    t0 = time.perf_counter()
    alarms, worst, worst_g, no_grad = [], 0.0, 0.0, 0
    with mp.get_context("spawn").Pool(args.processes) as pool:
        for k, (seed, ok, residual, g_res, text) in enumerate(
                pool.imap_unordered(_one, seeds, 16), 1):
            worst = max(worst, residual)
            if g_res is None:
                no_grad += 1
            else:
                worst_g = max(worst_g, g_res)
            if not ok:
                alarms.append((seed, text))
                print(f"FALSE ALARM at seed {seed}:\n{text}", flush=True)
            if k % 250 == 0:
                print(f"  {k} checks, {len(alarms)} false alarms, "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
    elapsed = time.perf_counter() - t0
    print(f"{args.checks} randomized checks of correct losses: {len(alarms)} false alarms, "
          f"largest value residual {worst:.2e}, largest gradient residual {worst_g:.2e} "
          f"(gradient check did not run in {no_grad}), {elapsed:.0f} s with {args.processes} "
          f"processes = {elapsed * args.processes / max(args.checks, 1) * 1e3:.0f} ms of a "
          "process per check")
    bv, nv, bg, ng = _mutant_minima()
    print(f"values:    smallest mutant residual {bv:.2e} ({nv}); separation "
          f"{bv / max(worst, 1e-300):.2e}")
    print(f"gradients: smallest mutant residual {bg:.2e} ({ng}); separation "
          f"{bg / max(worst_g, 1e-300):.2e}")
    sys.exit(1 if alarms else 0)


if __name__ == "__main__":
    main()
