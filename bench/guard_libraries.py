"""The guard on real libraries' unmodified training steps: verdict, residual, weighting, time.

    OMP_NUM_THREADS=1 python bench/guard_libraries.py [--repeats 3] [--all]

Each row is one ``numeric.check_training_step`` (the step's own torch draws intercepted,
docs/design.md §3b) on the adapters of tests/integration: denoising-diffusion-pytorch's
``GaussianDiffusion.forward`` on its smallest ``Unet`` (docs/design.md §5 target: ≤ 3 s CPU per
verdict), torchcfm's matchers and score_models' ``ScoreModel.loss_fn``. It prints the verdict, the
largest relative residual, the weighting the guard named, and the median wall and CPU time of a
verdict (after one warm-up run). ``--all`` adds every denoising-diffusion-pytorch combination
(3 objectives × min-SNR × auto_normalize × float32/float64). Needs the libraries
(``tests/integration/install.sh``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from _verdict import default_dtype

import numeric

Case = tuple[str, str, Callable[[], numeric.LossReport]]




def ddpm_cases(everything: bool) -> list[Case]:
    import adapt_ddpm_pytorch as adapt

    combos = [("pred_noise", False, False, torch.float64), ("pred_v", True, True, torch.float64),
              ("pred_x0", False, True, torch.float32)]
    if everything:
        combos = [(o, m, a, d) for o in adapt.OBJECTIVES for m in (False, True)
                  for a in (False, True) for d in (torch.float64, torch.float32)]
    cases: list[Case] = []
    for objective, min_snr, auto, dtype in combos:
        def run(objective: str = objective, min_snr: bool = min_snr, auto: bool = auto,
                dtype: torch.dtype = dtype) -> numeric.LossReport:
            diff = adapt.diffusion(objective, min_snr=min_snr, auto_normalize=auto)
            scope = default_dtype(dtype) if dtype == torch.float64 else contextlib.nullcontext()
            with scope:
                return numeric.check_training_step(
                    adapt.training_step(diff), adapt.to_score(diff), models=adapt.unets(4, dtype),
                    image_shape=adapt.IMAGE_SHAPE, n_samples=8, dtype=dtype,
                    expected_weighting="min_snr_eps" if min_snr else "eps")

        label = (f"GaussianDiffusion({objective}{', min_snr' if min_snr else ''}, "
                 f"auto_normalize={auto}), Unet dim=4, {str(dtype)[6:]}")
        cases.append(("denoising-diffusion-pytorch", label, run))
    return cases


def torchcfm_cases() -> list[Case]:
    import adapt_torchcfm as adapt

    def run(kind: str, sigma: float, expected: Any) -> Callable[[], numeric.LossReport]:
        def go() -> numeric.LossReport:
            return numeric.check_training_step(
                adapt.training_step(adapt.matcher(kind, sigma)), adapt.to_score(kind, sigma),
                models=adapt.models(4, 3), dim=3, n_samples=16, expected_weighting=expected)
        return go

    return [
        ("torchcfm", "ConditionalFlowMatcher(sigma=0)", run("icfm", 0.0, "flow_matching")),
        ("torchcfm", "ConditionalFlowMatcher(sigma=0.1)",
         run("icfm", 0.1, adapt.icfm_weighting(0.1))),
        ("torchcfm", "VariancePreservingConditionalFlowMatcher(sigma=0)",
         run("vp", 0.0, "flow_matching")),
        ("torchcfm", "ExactOptimalTransportConditionalFlowMatcher(sigma=0)",
         run("exact_ot", 0.0, None)),
    ]


def score_models_cases() -> list[Case]:
    import adapt_score_models as adapt

    def run(sde: str) -> Callable[[], numeric.LossReport]:
        def go() -> numeric.LossReport:
            sm = adapt.score_model(sde, 3)
            return numeric.check_training_step(
                adapt.training_step(sm), adapt.to_score(sm), models=adapt.nets(4, 3), dim=3,
                n_samples=16, expected_weighting="eps")
        return go

    return [("score_models", f"ScoreModel(sde={sde!r}).loss_fn", run(sde)) for sde in ("vp", "ve")]


def measure(fn: Callable[[], numeric.LossReport], repeats: int
            ) -> tuple[numeric.LossReport | Exception, float, float]:
    try:
        fn()  # warm-up: first calls allocate and import
    except numeric.SmeqError as exc:
        return exc, float("nan"), float("nan")
    walls, cpus = [], []
    report: numeric.LossReport | Exception | None = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        report = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    assert report is not None
    return report, statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--all", action="store_true", help="every ddpm combination")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    cases = ddpm_cases(args.all) + torchcfm_cases() + score_models_cases()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); median of "
          f"{args.repeats} after a warm-up")
    for library, label, fn in cases:
        report, wall, cpu = measure(fn, args.repeats)
        if isinstance(report, Exception):
            print(f"{library:28s} {label}: REFUSED ({type(report).__name__}): "
                  f"{str(report).splitlines()[0][:300]}")
            continue
        verdict = "PASS" if report.ok else "FAIL"
        weighting = report.matched_text or report.expected or "-"
        print(f"{library:28s} {label}: {verdict}, residual {report.residual:.2g}, {weighting}, "
              f"{wall:.2f} s wall, {cpu:.2f} s CPU")
        if not report.ok:
            for line in report.findings[:2]:
                print(f"{'':30s}- {line[:200]}")


if __name__ == "__main__":
    main()
