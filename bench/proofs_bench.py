"""Time the symbolic certificate and compare the naive ``sympy.integrate`` route for a Gaussian
marginal with the Gaussian-form route the derivations use.

Targets (docs/design.md §5): full certificate ≤ 10 s on 2 cores, no step > 2 s. The naive
route, ∫ N(x_0; μ, τ²) N(x; α x_0, σ²) dx_0 by ``sympy.integrate``, runs in a subprocess with a
time limit; the Gaussian-form route is ``proofs.check`` of the joint = marginal × posterior step.

    python bench/proofs_bench.py [--slowest N] [--integrate-timeout SECONDS]

Issue 10 made :func:`proofs.check` sound by construction (a pre-pass, conditional rewrites, a
refutation gate before every "proved", a hard CPU budget); the run prints the certificate time
next to the one measured just before that change (:data:`BEFORE_ISSUE_10`), and the share of the
check time spent in the refutation gate.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_NAIVE = """
import time, sympy as sp
from proofs._notation import alpha, sigma, x, x0, gaussian_density
mu = sp.Symbol("mu", real=True); tau = sp.Symbol("tau", positive=True)
start = time.perf_counter()
value = sp.integrate(gaussian_density(x0, mu, tau**2) * gaussian_density(x, alpha * x0, sigma**2),
                     (x0, -sp.oo, sp.oo))
print(time.perf_counter() - start)
print(sp.sstr(value)[:200])
"""


#: The certificate as measured before issue 10 (commit 941de5b, same 229 steps, one run on the
#: development machine): seconds of check, of import + build + check wall, and of CPU.
BEFORE_ISSUE_10 = {"check": 3.47, "total_wall": 4.88, "cpu": 5.04}


def naive_integrate(timeout: float) -> tuple[float | None, str]:
    """Seconds ``sympy.integrate`` takes for the Gaussian marginal (None: over ``timeout``)."""
    try:
        done = subprocess.run([sys.executable, "-c", _NAIVE], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout:g} s"
    seconds, value = done.stdout.splitlines()[:2]
    return float(seconds), value


def gaussian_route() -> tuple[float, str]:
    """Seconds ``proofs.check`` takes for joint = marginal × posterior (log space)."""
    import proofs

    step = next(s for s in proofs.DERIVATIONS["sm_dsm[gaussian-1d]"].steps if s.name == "bayes")
    start = time.perf_counter()
    verdict = proofs.check(step)
    return time.perf_counter() - start, f"{verdict.status} by {verdict.method}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slowest", type=int, default=10)
    parser.add_argument("--integrate-timeout", type=float, default=300.0)
    args = parser.parse_args()

    start, cpu_start = time.perf_counter(), time.process_time()
    import proofs
    imported = time.perf_counter() - start
    built_start = time.perf_counter()
    build_seconds: dict[str, float] = {}
    for name in proofs.DERIVATIONS:
        one = time.perf_counter()
        proofs.DERIVATIONS[name]
        build_seconds[name] = time.perf_counter() - one
    steps = sum(len(proofs.DERIVATIONS[name].steps) for name in proofs.DERIVATIONS)
    built = time.perf_counter() - built_start
    from proofs import _check

    gate_cpu = [0.0]
    original_gate = _check.gate

    def timed_gate(*args: object) -> object:
        one = time.process_time()
        try:
            return original_gate(*args)  # type: ignore[arg-type]
        finally:
            gate_cpu[0] += time.process_time() - one

    _check.gate = timed_gate  # type: ignore[assignment]
    try:
        certificate = proofs.certify()
    finally:
        _check.gate = original_gate
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    verdict = "CERTIFIED" if certificate.ok else "NOT CERTIFIED"
    print(f"certificate: {len(certificate.results)} steps ({steps} built) in "
          f"{len(proofs.DERIVATIONS)} derivations; {verdict}")
    print(f"  import {imported:.2f} s + build {built:.2f} s + check {certificate.seconds:.2f} s "
          f"= {total:.2f} s total wall, {cpu:.2f} s CPU of this process (target <= 10 s)")
    print("  (wall time includes waiting for the CPU on a busy machine; CPU time does not)")
    print(f"  of which the refutation gate: {gate_cpu[0]:.2f} s CPU")
    print(f"  before issue 10: check {BEFORE_ISSUE_10['check']:.2f} s, "
          f"{BEFORE_ISSUE_10['total_wall']:.2f} s total wall, {BEFORE_ISSUE_10['cpu']:.2f} s CPU; "
          f"now {cpu / BEFORE_ISSUE_10['cpu']:.2f}x the CPU")
    build_by_name = {}
    for name in proofs.DERIVATIONS:
        counts = [r.verdict.seconds for r in certificate.results if r.derivation.name == name]
        build_by_name[name] = sum(counts)
    slow = sorted(certificate.results, key=lambda r: -r.verdict.seconds)
    over = [r for r in slow if r.verdict.seconds > 2.0]
    print(f"  steps over 2 s: {len(over)} (target 0)")
    print(f"slowest {args.slowest} steps:")
    for result in slow[:args.slowest]:
        print(f"  {result.verdict.seconds:6.3f} s  {result.id:<60} {result.verdict.method}")
    print("build + check time per derivation:")
    for name, seconds in sorted(build_by_name.items(),
                                key=lambda kv: -kv[1] - build_seconds[kv[0]]):
        print(f"  {build_seconds[name]:6.3f} s + {seconds:6.3f} s  {name}")
    for failure in certificate.failures:
        print(f"  NOT PROVED: {failure.id}: {failure.verdict.detail[:200]}")

    route, route_verdict = gaussian_route()
    naive, naive_value = naive_integrate(args.integrate_timeout)
    print("Gaussian marginal ∫ N(x0; μ, τ²) N(x; α x0, σ²) dx0:")
    print(f"  Gaussian-form route (proofs.check, log space): {route:.3f} s ({route_verdict})")
    if naive is None:
        print(f"  naive sympy.integrate: {naive_value}; ratio >= "
              f"{args.integrate_timeout / route:.0f}x")
    else:
        print(f"  naive sympy.integrate: {naive:.3f} s -> {naive_value}")
        print(f"  ratio naive / Gaussian-form: {naive / route:.1f}x")
    return 0 if certificate.ok else 1


if __name__ == "__main__":
    sys.exit(main())
