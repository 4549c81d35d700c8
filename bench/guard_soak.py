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


def _one(seed: int) -> tuple[int, bool, float, str]:
    import torch
    from mutants import random_correct_case

    from numeric import check_loss

    torch.set_num_threads(1)
    case = random_correct_case(seed)
    weighting, params = case.pop("weighting"), case.pop("weighting_params")
    report = check_loss(case.pop("loss"), case.pop("to_score"), case.pop("schedule"),
                        expected_weighting=weighting, weighting_params=params, **case)
    return seed, report.ok, report.residual, "" if report.ok else report.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    seeds = range(args.start, args.start + args.checks)
    t0 = time.perf_counter()
    alarms, worst = [], 0.0
    with mp.get_context("spawn").Pool(args.processes) as pool:
        for k, (seed, ok, residual, text) in enumerate(pool.imap_unordered(_one, seeds, 16), 1):
            worst = max(worst, residual)
            if not ok:
                alarms.append((seed, text))
                print(f"FALSE ALARM at seed {seed}:\n{text}", flush=True)
            if k % 250 == 0:
                print(f"  {k} checks, {len(alarms)} false alarms, "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
    elapsed = time.perf_counter() - t0
    print(f"{args.checks} randomized checks of correct losses: {len(alarms)} false alarms, "
          f"largest residual {worst:.2e}, {elapsed:.0f} s with {args.processes} processes")
    sys.exit(1 if alarms else 0)


if __name__ == "__main__":
    main()
