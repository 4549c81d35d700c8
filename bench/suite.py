"""Wall time of the default test run, serial (`pytest -n 0`) vs parallel (`pytest -n auto`).

Target (docs/design.md §5): ≤ 5 min with `-n auto` on 2 cores, and `-n auto` faster than `-n 0`.
Each run is a fresh subprocess in the repository root; extra arguments go to both pytest runs.

    python bench/suite.py [PYTEST ARGS...]        e.g. python bench/suite.py tests/numeric
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(workers: str, extra: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", workers, *extra],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    took = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return took, done.returncode, lines[-1] if lines else ""


def main() -> int:
    extra = sys.argv[1:]
    results = {}
    for workers in ("0", "auto"):
        took, code, summary = run(workers, extra)
        results[workers] = took
        print(f"pytest -n {workers:<4} {took:8.1f} s  (exit {code}; {summary})", flush=True)
    print(f"ratio -n 0 / -n auto: {results['0'] / results['auto']:.2f}  "
          f"({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
