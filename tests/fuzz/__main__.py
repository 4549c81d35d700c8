"""``python -m tests.fuzz [AREA ...] [--json FILE]``: run the explicit fuzz cases and print the
count per outcome class (good, crash, silent, hang, state), then every case that is not good."""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from ._cases import AREAS
from ._harness import CLASSES, census


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz")
    parser.add_argument("areas", nargs="*", choices=[[], *AREAS], default=[])
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    cases = [c for name, build in AREAS.items() if not args.areas or name in args.areas
             for c in build()]
    result = census(cases)
    counts = {k: len(v) for k, v in result.items()}
    print(f"{len(cases)} cases in {time.perf_counter() - start:.1f} s: "
          + ", ".join(f"{k} {counts[k]}" for k in CLASSES))
    for kind in CLASSES[1:]:
        for case, outcome in result[kind]:
            print(f"  {kind:<6} {case.id}: {outcome.detail}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"counts": counts, "cases": {c.id: o.kind for k in CLASSES
                                                   for c, o in result[k]}}, fh, indent=1)
    return 0 if counts["good"] == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
