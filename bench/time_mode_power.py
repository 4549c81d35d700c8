"""Power of the time-sampling statistical mode (statistical='time') against schedule mismatches.

    python bench/time_mode_power.py [--seeds 5] [--errors 0,0.1,0.15,0.2,0.3] [--n 256]
                                    [--without-schedule-directions]

A correct ε-prediction training step draws t ~ U(0, 1) and ε itself and noises x0 with a VE
schedule σ(t) = σ_min^(1−t)·σ_max^t, but with σ_min·(1 + e) where the guard is told σ_min: a
relative σ_min error e (σ(t) off by (1 + e)^(1−t), most at small t; to_score uses the guard's
σ). For each e the mode runs on ``--seeds`` seeds at its false-alarm rate (|z| ≥ 5.3, ≈ 1e-7
per direction) and the script prints the detection rate, the largest |z| and the time per check;
then the smallest e detected on every seed. Measured (README figures) before and after the
log σ / log α directions were added to the mode. e = 0 is the correct loss: its detections are false
alarms. One thread (the checks are many small tensor operations).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

from numeric import Schedule, check_loss

SIGMA_MIN, SIGMA_MAX = 0.05, 5.0


def _step(error: float) -> Any:
    used = Schedule.ve(sigma_min=SIGMA_MIN * (1 + error), sigma_max=SIGMA_MAX)

    def step(model: Any, x0: torch.Tensor) -> torch.Tensor:
        t = torch.rand(x0.shape[0], dtype=x0.dtype).clamp(1e-4, 1.0)
        eps = torch.randn_like(x0)
        sigma = used.sigma(t).to(x0.dtype)[:, None]
        return ((model(x0 + sigma * eps, t) - eps) ** 2).sum(1)

    return step


GUARD = Schedule.ve(sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX)


def to_score(model: Any, xt: torch.Tensor, t: Any) -> torch.Tensor:
    tt = torch.as_tensor(t).reshape(-1)
    return -model(xt, t) / GUARD.sigma(tt).to(xt.dtype)[:, None]


def _largest_z(report: Any) -> float:
    return float(report.mode.split("largest |z| ")[1].split(" ")[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--errors", default="0,0.1,0.15,0.2,0.3")
    parser.add_argument("--n", type=int, default=256, help="x0 per replicate (n_samples)")
    parser.add_argument("--without-schedule-directions", action="store_true",
                        help="the mode as it was before the log σ / log α directions")
    args = parser.parse_args()
    if args.without_schedule_directions:
        from numeric.guard import _time_sampling

        _time_sampling.SCHEDULE_DIRECTIONS = ()
    torch.set_num_threads(1)
    errors = [float(e) for e in args.errors.split(",")]
    print(f"VE σ_min={SIGMA_MIN}, σ_max={SIGMA_MAX}; loss noises with σ_min·(1+e); "
          f"{args.seeds} seeds, n_samples={args.n}")
    smallest = None
    for e in errors:
        hits, zs, secs = 0, [], []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            report = check_loss(_step(e), to_score, GUARD, statistical="time", seed=seed,
                                n_samples=args.n)
            secs.append(time.perf_counter() - t0)
            hits += not report.ok
            zs.append(_largest_z(report))
        label = "false alarms" if e == 0 else "detected"
        print(f"  e = {e:5.2f}: {label} {hits}/{args.seeds}, median largest |z| "
              f"{statistics.median(zs):.3g}, {statistics.median(secs):.2f} s per check")
        if e > 0 and hits == args.seeds and smallest is None:
            smallest = e
    print(f"smallest σ_min error detected on every seed: {smallest}")


if __name__ == "__main__":
    main()
