"""Guard benchmark: verdict time, correct vs bug residuals, and plain Monte Carlo for comparison.

    python bench/guard.py [--repeats 5] [--soak 100]

Prints (all measured in this run; docs/design.md §5 targets in brackets):
  * the time of one verdict (d=3, 4 models, 8 times) at the old default of 256 x_t per time and
    at today's (16), and their ratio [≤ 2 s CPU];
  * image-shaped verdicts, old against new defaults in the same run: four small conv models at
    (3,16,16) and the default models at (3,32,32) [≤ 1 s CPU each];
  * verdict parity over n_samples = 8, 16, 256: every correct reference loss passes, every
    mutant is caught, and a soak of random correct cases raises no alarm, at each n;
  * numeric.check_training_step (intercepted draws): the residuals of correct steps (float32
    table, EDM log-normal σ, two-noise flow matching) and of planted bugs, and its verdict time;
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
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "quality"))

from mutants import CORRECT, MUTANTS, random_correct_case

from numeric import Schedule, check_loss, check_training_step
from numeric.guard._inputs import default_mixture, default_models
from numeric.guard._reference_losses import reference_loss

Tensor = torch.Tensor
OLD_SAMPLES = 256  # check_loss's default before issue 8


def _timed(fn: Any, repeats: int) -> tuple[float, float]:
    fn()  # warm-up (first calls allocate)
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu)


def verdict_time(repeats: int, n_samples: int | None = None) -> tuple[float, float]:
    sched = Schedule.vp_linear()
    ref = reference_loss("eps", sched)
    def run() -> None:
        assert check_loss(ref.loss, ref.to_score, sched, n_samples=n_samples).ok

    return _timed(run, repeats)


def _col(v: Tensor, like: Tensor) -> Tensor:
    return v.reshape(-1, *[1] * (like.dim() - 1)).to(like.dtype)


class SmallConv(torch.nn.Module):
    """conv(3→8) → tanh(· + t) → conv(8→3), weights N(0, 0.3²) from a seeded generator."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1, dtype=torch.float64)
        self.c2 = torch.nn.Conv2d(8, 3, 3, padding=1, dtype=torch.float64)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return self.c2(torch.tanh(self.c1(x) + t.reshape(-1, 1, 1, 1)))


VP = Schedule.vp_linear()


def image_loss(model: Any, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    xt = _col(VP.alpha(t), x0) * x0 + _col(VP.sigma(t), x0) * noise
    return ((model(xt, t) - noise) ** 2).flatten(1).mean(1)


def image_to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
    return -model(xt, t) / _col(VP.sigma(t), xt)


def image_step(model: Any, x0: Tensor) -> Tensor:
    t = torch.rand(x0.shape[0], dtype=x0.dtype) * 0.998 + 1e-3
    noise = torch.randn_like(x0)
    log_a = -0.25 * t**2 * 19.9 - 0.05 * t    # VP-linear in plain torch (vmap-friendly)
    a, s = log_a.exp(), (-torch.expm1(2 * log_a)).sqrt()
    xt = _col(a, x0) * x0 + _col(s, x0) * noise
    return ((model(xt, t) - noise) ** 2).mean()


def image_times(repeats: int) -> None:
    convs = [SmallConv(j) for j in range(4)]
    cases: list[tuple[str, Any, tuple[int, ...]]] = [
        ("4 small conv models at (3,16,16)", convs, (3, 16, 16)),
        ("default models at (3,32,32)", None, (3, 32, 32))]
    for label, models, shape in cases:
        got = {}
        for n in (OLD_SAMPLES, None):
            def run(n: int | None = n, models: Any = models,
                    shape: tuple[int, ...] = shape) -> None:
                assert check_loss(image_loss, image_to_score, VP, models=models,
                                  image_shape=shape, n_samples=n).ok

            got[n] = _timed(run, repeats)
        (w_old, c_old), (w_new, c_new) = got[OLD_SAMPLES], got[None]
        print(f"  {label}: {c_old:.3f} s CPU ({w_old:.3f} wall) at n={OLD_SAMPLES} -> "
              f"{c_new:.3f} s CPU ({w_new:.3f} wall) at the default; ratio {c_old / c_new:.1f}x"
              "   [≤ 1 s CPU]")

        def step_run(models: Any = models, shape: tuple[int, ...] = shape) -> None:
            assert check_training_step(image_step, image_to_score, models=models,
                                       image_shape=shape).ok

        w_step, c_step = _timed(step_run, repeats)
        print(f"    the same as an intercepted scalar training step (check_training_step): "
              f"{c_step:.3f} s CPU ({w_step:.3f} wall)")


def residuals(n_samples: int | None = None) -> tuple[float, str, float, str]:
    kw: dict[str, Any] = {"n_samples": n_samples}
    worst_ok, worst_ok_name = 0.0, ""
    for sched_name, name in CORRECT:
        sched = Schedule.named(sched_name)
        ref = reference_loss(name, sched)
        r = check_loss(ref.loss, ref.to_score, sched, **kw)
        assert r.ok and r.matched == ref.weighting, r.summary()
        if r.residual >= worst_ok:
            worst_ok, worst_ok_name = r.residual, f"{name}[{sched_name}]"
    best_bug, best_bug_name = math.inf, ""
    for m in MUTANTS:
        if m.kind == "weighting":
            assert not check_loss(m.loss, m.to_score, m.schedule(), **kw,
                                  **m.check_kwargs()).ok, m.name
        if m.kind != "affine":
            continue
        r = check_loss(m.loss, m.to_score, m.schedule(), **kw)
        assert not r.ok
        if r.residual < best_bug:
            best_bug, best_bug_name = r.residual, m.name
    return worst_ok, worst_ok_name, best_bug, best_bug_name


def soak_alarms(n_samples: int, cases: int) -> int:
    alarms = 0
    for seed in range(cases):
        case = random_correct_case(seed)
        weighting, params = case.pop("weighting"), case.pop("weighting_params")
        case["n_samples"] = n_samples
        report = check_loss(case.pop("loss"), case.pop("to_score"), case.pop("schedule"),
                            expected_weighting=weighting, weighting_params=params, **case)
        alarms += not report.ok
    return alarms


def step_residuals(repeats: int) -> None:
    """check_training_step on hand-written steps: correct ones and planted bugs."""
    table = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)   # float32, as diffusers

    def ddpm_f32(model: Any, x0: Tensor) -> Tensor:
        t = torch.randint(0, 1000, (x0.shape[0],))
        noise = torch.randn_like(x0)
        abar = table[t].to(x0.dtype).reshape(-1, 1)
        return torch.nn.functional.mse_loss(model(abar.sqrt() * x0 + (1 - abar).sqrt() * noise,
                                                  t), noise)

    def ddpm_to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
        return -model(xt, t) / (1 - table[t].to(xt.dtype).reshape(-1, 1)).sqrt()

    sd = 0.5

    def scalings(s: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return sd**2 / (s**2 + sd**2), s * sd / (s**2 + sd**2) ** 0.5, 1 / (s**2 + sd**2) ** 0.5

    def edm(model: Any, x0: Tensor) -> Tensor:
        sigma = (torch.randn(x0.shape[0], dtype=x0.dtype) * 1.2 - 1.2).exp()
        s = sigma.reshape(-1, 1)
        noisy = x0 + torch.randn_like(x0) * s
        c_skip, c_out, c_in = scalings(s)
        return ((model(noisy * c_in, sigma) - (x0 - c_skip * noisy) / c_out) ** 2).mean(1)

    def edm_to_score(model: Any, x_in: Tensor, sigma: Tensor) -> Tensor:
        s = sigma.reshape(-1, 1)
        c_skip, c_out, c_in = scalings(s)
        xt = x_in / c_in
        return (c_skip * xt + c_out * model(x_in, sigma) - xt) / s**2 / c_in

    def cfm(sig: float, bug: bool = False) -> Any:
        def step(model: Any, x1: Tensor) -> Tensor:
            x0 = torch.randn_like(x1)
            t = torch.rand(x0.shape[0]).type_as(x0)
            eps = torch.randn_like(x0)
            tt = t.reshape(-1, 1)
            xt = tt * x1 + (1 - tt) * x0 + sig * eps
            return torch.mean((model(t, xt) - (x1 - (eps if bug else x0))) ** 2)

        def to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
            tt = t.reshape(-1, 1)
            return (tt * model(t, xt) - xt) / ((1 - tt) ** 2 + sig**2 + tt * (1 - tt))

        return step, to_score

    def vp_bug(kind: str) -> Any:
        def step(model: Any, x0: Tensor) -> Tensor:
            t = torch.rand(x0.shape[0], dtype=x0.dtype) * 0.998 + 1e-3
            noise = torch.randn_like(x0)
            a, s = VP.alpha(t).reshape(-1, 1), VP.sigma(t).reshape(-1, 1)
            if kind == "sigma2":
                return ((model(a * x0 + s**2 * noise, t) - noise) ** 2).sum(1)
            return ((model(a * x0 + s * noise, t) - s * noise) ** 2).sum(1)

        return step

    correct = {"DDPM, float32 ᾱ table, randint t, scalar mse": (ddpm_f32, ddpm_to_score),
               "EDM, log-normal σ from randn, c_in input scaling": (edm, edm_to_score),
               "flow matching σ=0 (torchcfm-style, data at t=1)": cfm(0.0),
               "flow matching σ=0.3 (two noise draws)": cfm(0.3)}
    worst = 0.0
    for label, (step, to_score) in correct.items():
        r = check_training_step(step, to_score)
        assert r.ok, r.summary()
        worst = max(worst, r.residual)
        print(f"  correct: {label}: residual {r.residual:.2e}   [≤ 1e-12]")
    bugs = {"σ² for σ in x_t": (vp_bug("sigma2"), image_to_score),
            "σε as the ε target": (vp_bug("target"), image_to_score),
            "flow matching σ=0.3, ε in the target": cfm(0.3, bug=True)}
    best = math.inf
    for label, (step, to_score) in bugs.items():
        r = check_training_step(step, to_score)
        assert not r.ok
        best = min(best, r.residual)
        print(f"  bug: {label}: residual {r.residual:.2e}   [≥ 1e-3]")
    print(f"  step-mode separation (min bug / max correct): {best / max(worst, 1e-300):.2e}")
    ddpm = correct["DDPM, float32 ᾱ table, randint t, scalar mse"]
    wall, cpu = _timed(lambda: check_training_step(*ddpm), repeats)
    print(f"  one step verdict (d=3, 4 models, 8 times, 8 x_t, vmap): {cpu:.3f} s CPU "
          f"({wall:.3f} wall)")

    def validated(model: Any, x0: Tensor) -> Tensor:   # Schedule checks t: vmap cannot run it
        t = torch.rand(x0.shape[0], dtype=x0.dtype) * 0.998 + 1e-3
        noise = torch.randn_like(x0)
        xt = VP.alpha(t).reshape(-1, 1) * x0 + VP.sigma(t).reshape(-1, 1) * noise
        return ((model(xt, t) - noise) ** 2).mean()

    report = check_training_step(validated, image_to_score)
    assert report.ok, report.summary()
    wall, cpu = _timed(lambda: check_training_step(validated, image_to_score), repeats)
    print(f"  the same without vmap (one call per x_t, equal-weight set): {cpu:.3f} s CPU "
          f"({wall:.3f} wall), residual {report.residual:.2e}")


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
    parser.add_argument("--soak", type=int, default=100, help="random correct cases per n")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPU; load average "
          f"{os.getloadavg()[0]:.1f} (wall times grow with other load; CPU times less so)")
    old_wall, old_cpu = verdict_time(args.repeats, OLD_SAMPLES)
    t_verdict, t_cpu = verdict_time(args.repeats)
    print(f"one verdict (d=3, 4 models, 8 times), median over {args.repeats} runs: "
          f"{old_cpu:.3f} s CPU ({old_wall:.3f} wall) at n={OLD_SAMPLES} x_t -> {t_cpu:.3f} s "
          f"CPU ({t_verdict:.3f} wall) at the default; ratio {old_cpu / t_cpu:.1f}x   "
          "[target ≤ 2 s]")
    print("image-shaped verdicts (old default n=256 vs today's, same run):")
    image_times(args.repeats)
    print(f"verdict parity over n_samples ({len(CORRECT)} correct losses, every mutant, "
          f"{args.soak} random correct cases):")
    for n in (8, 16, OLD_SAMPLES):
        w_ok, _, w_bug, _ = residuals(n)
        print(f"  n={n:3d}: largest correct residual {w_ok:.2e}, smallest mutant residual "
              f"{w_bug:.2e}, all verdicts right, soak alarms {soak_alarms(n, args.soak)}")
    print("check_training_step (intercepted draws, measured kernel):")
    step_residuals(args.repeats)
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
