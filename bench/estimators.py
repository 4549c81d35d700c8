"""θ-spread of DSM(θ) − SM(θ): plain Monte Carlo vs common random numbers vs posterior coupling.

For one problem and the same sample size N, each method estimates the gap DSM(θ) − SM(θ) = C(t)
for several random networks θ; the spread (max − min over θ, relative to the mean gap) measures
how much θ leaks into an estimate of a θ-free quantity (docs/design.md §3). Target: coupled
≤ 1e-12 relative in float64.

    python bench/estimators.py [--networks 8] [--sizes 64 256 1024 4096]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch

import numeric


def spreads(n: int, nets: Sequence[torch.nn.Module], mix: numeric.GaussianMixture,
            sched: numeric.Schedule, t: float) -> dict[str, float]:
    a, s = sched.kernel(t)
    plain, crn, coupled = [], [], []
    batch = numeric.coupled_batch(mix, a, s, n, generator=0)
    with torch.no_grad():
        for j, net in enumerate(nets):
            # plain: independent noise per θ, and independent x_t for DSM and for SM
            dsm = numeric.dsm_mc(net, mix, sched, t, n=n, generator=1000 + 2 * j)
            sm = numeric.sm_exact(net, mix, sched, t, n=n, generator=1001 + 2 * j)
            plain.append(float(dsm.value - sm.value))
            # CRN: the same noise for every θ, DSM and SM on the same x_t
            dsm = numeric.dsm_mc(net, mix, sched, t, n=n, generator=0)
            sm = numeric.sm_exact(net, mix, sched, t, xt=dsm.xt)
            crn.append(float(dsm.value - sm.value))
            coupled.append(float(numeric.dsm_coupled(net, batch, t).value
                                 - numeric.sm_coupled(net, batch, t).value))

    def rel(values: list[float]) -> float:
        mean = sum(values) / len(values)
        return (max(values) - min(values)) / abs(mean)

    return {"plain": rel(plain), "crn": rel(crn), "coupled": rel(coupled)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024, 4096])
    args = parser.parse_args()
    torch.set_num_threads(1)
    mix = numeric.GaussianMixture([0.2, 0.5, 0.3], [[-2.0, 0.0, 1.0], [0.5, 1.0, -1.0],
                                                    [2.0, -1.5, 0.0]], [0.3, 0.8, 0.5])
    sched, t = numeric.Schedule.vp_linear(), 0.3
    nets = [numeric.random_score_network(seed, 3) for seed in range(args.networks)]
    a, s = sched.kernel(t)
    print(f"problem: 3-component mixture in d=3, {sched!r}, t={t} (α={float(a):.4f}, "
          f"σ={float(s):.4f}), C(t)={float(mix.constant(a, s, n=65536)):.6f}, "
          f"{args.networks} random networks; spread = (max − min over θ) / |mean|")
    print(f"{'N':>6} {'plain MC':>12} {'CRN MC':>12} {'coupled':>12} {'plain/CRN':>10} "
          f"{'CRN/coupled':>12} {'seconds':>8}")
    for n in args.sizes:
        start = time.perf_counter()
        r = spreads(n, nets, mix, sched, t)
        took = time.perf_counter() - start
        print(f"{n:>6} {r['plain']:>12.3e} {r['crn']:>12.3e} {r['coupled']:>12.3e} "
              f"{r['plain'] / r['crn']:>10.2f} {r['crn'] / max(r['coupled'], 1e-300):>12.3e} "
              f"{took:>8.2f}")


if __name__ == "__main__":
    main()
