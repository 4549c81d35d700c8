"""The guard's pass threshold against σ: how it follows the float64 conditioning of each time.

    OMP_NUM_THREADS=1 python bench/guard_conditioning.py [--plot threshold.png]

For the EDM schedule (α = 1, σ = t) from σ = 1e-12 to 1e6 this prints, per decade of σ: the
conditioning κ(t) = αR/σ + σ/(αR) of forming x_t = αx0 + σε (R the data's scale), the pass
threshold ``numeric._tolerances.residual_thresholds`` gives there, the largest residual of the
correct ε, x0 and EDM losses, and the residual of the planted σ-for-σ² bug. Everything is
measured in this run. ``--plot FILE`` also draws the table (needs matplotlib).
"""

from __future__ import annotations

import argparse
import math

import torch

import numeric
from numeric import Schedule
from numeric._tolerances import conditioning, data_scale, residual_thresholds
from numeric.guard._inputs import default_mixture
from numeric.guard._reference_losses import reference_loss

SIGMAS = [10.0**k for k in range(-12, 7)]


def _sigma_bug(model, x0, t, noise):  # x_t = x0 + σ²ε instead of x0 + σε, ε-prediction
    s = t.reshape(-1, 1)
    return ((model(x0 + s**2 * noise, t) - noise) ** 2).sum(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="FILE")
    parser.add_argument("--n-samples", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sched = Schedule.edm(sigma_min=SIGMAS[0], sigma_max=SIGMAS[-1])
    mix = default_mixture(3, 0, torch.float64, torch.device("cpu"))
    scale = data_scale(mix.weights, mix.means, mix.covs)
    sig = torch.tensor(SIGMAS, dtype=torch.float64)
    one = torch.ones_like(sig)
    kappa = conditioning(one, sig, scale)
    thr = residual_thresholds(torch.float64, one, sig, scale=scale)
    worst = torch.zeros_like(sig)
    for name in ("eps", "x0", "edm"):
        ref = reference_loss(name, sched)
        rep = numeric.check_loss(ref.loss, ref.to_score, sched, times=SIGMAS,
                                 n_samples=args.n_samples, n_models=3, rtol=0.5)
        worst = torch.maximum(worst, torch.tensor(list(rep.residuals.values())))
    eps = reference_loss("eps", sched)
    bug = numeric.check_loss(_sigma_bug, eps.to_score, sched, times=SIGMAS,
                             n_samples=args.n_samples, n_models=3, rtol=0.5)
    bug_res = torch.tensor(list(bug.residuals.values()))
    print(f"EDM schedule, data scale R = {scale:.3g}, float64 (eps = 2.2e-16)")
    print(f"{'σ':>8} {'κ(t)':>9} {'threshold':>10} {'correct max':>12} {'σ² bug':>9} "
          f"{'margin':>8} {'separation':>10}")
    for i, s in enumerate(SIGMAS):
        print(f"{s:8.0e} {float(kappa[i]):9.2e} {float(thr[i]):10.2e} {float(worst[i]):12.2e} "
              f"{float(bug_res[i]):9.2e} {float(thr[i] / worst[i]):8.1e} "
              f"{float(bug_res[i] / thr[i]):10.1e}")
    ok = bool((worst <= thr).all())
    print(f"every correct loss under its threshold: {ok}; smallest margin "
          f"{float((thr / worst).min()):.3g}×; threshold = max(1e-7, 100·eps·κ(t))")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        ax.loglog(SIGMAS, thr.numpy(), "k-", label="pass threshold")
        ax.loglog(SIGMAS, worst.numpy(), "go", label="correct losses (max of ε, x0, EDM)")
        ax.loglog(SIGMAS, bug_res.clamp_min(1e-17).numpy(), "rx", label="σ-for-σ² bug")
        ax.loglog(SIGMAS, (1e-7 * one).numpy(), "k:", label="fixed 1e-7 (before)")
        ax.set_xlabel("σ (EDM, α = 1)")
        ax.set_ylabel("relative residual")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"wrote {args.plot}")
    if not math.isfinite(float(thr.max())):
        raise SystemExit("threshold not finite")


if __name__ == "__main__":
    main()
