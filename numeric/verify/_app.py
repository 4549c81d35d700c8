"""``smeq verify``: prove SM = DSM + C(t) symbolically, confirm it numerically, write a report.

Runs every check of :data:`numeric._checks.CHECKS` (the symbolic certificate, the numeric
confirmations, the guard on the built-in reference losses), shows progress, prints one verdict
table and writes ``report.md``, ``report.html`` and the PNG figures to ``--out``. The exit status
is 0 only when every check passes. rich and matplotlib (the ``report`` extra) are optional:
without rich the output is plain text, without matplotlib the figures are skipped (and the report
says so) while every check still runs.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import multiprocessing
import os
import platform
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from . import _checks, _figures
from ._checks import Check, CheckResult, Context
from ._report_files import Outcome, RunInfo, write_html, write_markdown

__all__ = ["add_arguments", "run"]

_NO_CUDA = ("--device {device}: CUDA is not available here (torch {torch} reports no GPU). "
            "Fix: run on a machine with an NVIDIA GPU and a CUDA build of torch, or drop "
            "--device to run on the CPU.")
_NO_FIGURES = ("skipped: matplotlib is not installed. Fix: pip install 'smeq[report]' "
               "(or pip install matplotlib) and rerun.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``smeq verify``."""
    parser.add_argument("--quick", action="store_true",
                        help="smaller sample sizes and fewer networks (about 15 s on 2 cores)")
    parser.add_argument("--device", default="cpu", metavar="DEVICE",
                        help="torch device for the numeric checks: cpu (default) or cuda")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of every random draw; the same seed replays the run (default 0)")
    parser.add_argument("--out", type=Path, default=Path("smeq-report"), metavar="DIR",
                        help="where to write report.md, report.html and the figures "
                             "(default smeq-report/)")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch CPU threads (default 1: the checks are many small tensor "
                             "operations, which one thread runs fastest)")
    parser.add_argument("--only", action="append", metavar="CHECK",
                        help="run only this check (repeatable); names are listed in --help's "
                             "epilog and in the report")
    parser.epilog = "checks: " + ", ".join(c.name for c in _checks.CHECKS)


def run(args: argparse.Namespace, checks: Sequence[Check] | None = None) -> int:
    """Run the checks (default: ``_checks.CHECKS``), print the verdict table, write the
    report.

    Returns 0 when every check passes, 1 when any fails, 2 for an unusable ``--device``,
    ``--only`` or ``--threads``. Torch runs with ``--threads`` CPU threads (default 1) and gets
    its previous setting back afterwards.
    """
    requested = getattr(args, "threads", 1)
    if not isinstance(requested, int) or requested < 1:
        print(f"smeq verify: --threads {requested}: needs a whole number ≥ 1. Fix: pass "
              "--threads 1 (the default) or more", file=sys.stderr)
        return 2
    chosen = list(_checks.CHECKS if checks is None else checks)
    if args.only:
        unknown = sorted(set(args.only) - {c.name for c in chosen})
        if unknown:
            print(f"smeq verify: --only {unknown[0]}: no such check. Fix: use one of "
                  f"{[c.name for c in chosen]}", file=sys.stderr)
            return 2
        chosen = [c for c in chosen if c.name in args.only]
    device = _device_or_none(args.device)
    if device is None:
        return 2
    if not (isinstance(args.seed, int) and 0 <= args.seed < 2**63):
        print(f"smeq verify: --seed {args.seed}: needs a whole number in [0, 2**63). Fix: pass "
              "a non-negative seed, e.g. --seed 0", file=sys.stderr)
        return 2
    if args.out.exists() and not args.out.is_dir():
        print(f"smeq verify: --out {args.out}: is an existing file, not a directory. Fix: pass a "
              "new or existing directory for the report", file=sys.stderr)
        return 2
    context = Context(seed=args.seed, device=device, quick=args.quick)
    start = time.perf_counter()
    threads = _set_threads(requested)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("fig[0-9]*-*.png"):  # figures of an earlier run in the same folder
        stale.unlink()
    drawer = _FigureDrawer(out, parallel=len(chosen) > 2)  # before rich starts a thread
    progress = _Progress(len(chosen))
    results: list[CheckResult] = []
    jobs: list[Any] = []
    try:
        for check in chosen:
            progress.start(check)
            result = check.run(context)
            results.append(result)
            jobs.append(drawer.submit(result))
            progress.done(check, result)
        drawer.take_back(jobs)
        outcomes = [drawer.collect(check, result, job)
                    for check, result, job in zip(chosen, results, jobs, strict=True)]
    finally:
        progress.close()
        drawer.close()
        _set_threads(threads)
    note = _NO_FIGURES if drawer.skipped else ""
    info = RunInfo(command=_replay_command(args), seed=args.seed, device=device,
                   quick=args.quick, seconds=time.perf_counter() - start,
                   versions=_versions(), figures_note=note)
    write_markdown(out / "report.md", info, outcomes)
    write_html(out / "report.html", info, outcomes)
    ok = info.ok(outcomes)
    _print_table(outcomes, info)
    n_png = _count_png(outcomes)
    print(f"\nreport: {out / 'report.html'} (and report.md, {n_png} figure"
          f"{'' if n_png == 1 else 's'})")
    if note:
        print(f"figures {note}")
    print("VERDICT: " + ("PASS — SM = DSM + C(t) proved and confirmed" if ok else
                         f"FAIL — {sum(not o.result.ok for o in outcomes)} check(s) failed")
          + f" ({time.perf_counter() - start:.1f} s with the report)")
    return 0 if ok else 1


def _device_or_none(device: str) -> str | None:
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        print(f"smeq verify: --device {device!r} is not a torch device. Fix: use cpu or cuda.",
              file=sys.stderr)
        return None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        print(_NO_CUDA.format(device=device, torch=torch.__version__), file=sys.stderr)
        return None
    if parsed.type not in ("cpu", "cuda"):
        print(f"smeq verify: --device {device!r} is not supported. Fix: use cpu or cuda.",
              file=sys.stderr)
        return None
    return str(parsed)


def _set_threads(threads: int) -> int:
    """Set torch's CPU thread count; return the previous one (to restore it)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    return previous


class _FigureDrawer:
    """Draws each check's figure, overlapping the drawing with the checks that follow.

    With ``parallel`` a worker process draws figures as the checks return them, so matplotlib runs
    on the second core. On Linux the worker is forked before any check runs (no thread exists
    yet, and it starts with everything imported); elsewhere it is spawned. When the checks are
    done, figures the worker has not started are taken back and drawn here; if the worker cannot
    start or dies, everything is drawn here. A figure that cannot be drawn fails its check.
    """

    def __init__(self, out: Path, *, parallel: bool) -> None:
        self.out, self.number, self.skipped = out, 0, False
        self._pool: Any = None
        if parallel and (os.cpu_count() or 1) > 1 and _figures.available():
            single = threading.active_count() == 1  # forking a threaded process can deadlock
            method = "fork" if sys.platform.startswith("linux") and single else "spawn"
            try:
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(
                    method))
                self._pool.submit(_figures.warm_up)  # starts the worker and imports matplotlib
            except (OSError, RuntimeError, ValueError):  # no processes here: draw in-process
                self._pool = None

    def submit(self, result: CheckResult) -> list[Any] | None:
        """Queue ``result``'s figure; returns the job to :meth:`collect` (None: no figure)."""
        if result.figure is None:
            return None
        if not _figures.available():
            self.skipped = True
            return None
        self.number += 1
        fig = result.figure
        job = (fig.kind, fig.data, f"Figure {self.number}. {fig.title}",
               self.out / f"fig{self.number}-{fig.name}.png")
        future = None
        if self._pool is not None:
            try:
                future = self._pool.submit(_figures.render, *job)
            except (BrokenProcessPool, RuntimeError):
                self._pool = None
        return [job, future]

    def take_back(self, jobs: Sequence[list[Any] | None]) -> None:
        """This process is free now: draw here every figure the worker has not started."""
        for job in reversed(jobs):
            if job is not None and job[1] is not None and job[1].cancel():
                job[1] = None

    def collect(self, check: Check, result: CheckResult, job: list[Any] | None) -> Outcome:
        """Wait for (or draw) the figure of ``result``; a failure to draw fails the check."""
        if job is None:
            return Outcome(check, result)
        arguments, future = job
        try:
            try:
                png = _figures.render(*arguments) if future is None else future.result()
            except BrokenProcessPool:  # e.g. an unguarded __main__ re-run by spawn: draw here
                png = _figures.render(*arguments)
        except Exception as exc:
            assert result.figure is not None
            failed = CheckResult(False, result.value, f"{result.detail}\nfigure "
                                 f"{result.figure.name!r} could not be drawn: "
                                 f"{type(exc).__name__}: {exc}", None, result.attachment,
                                 result.seconds)
            return Outcome(check, failed)
        return Outcome(check, result, Path(png))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _count_png(outcomes: Sequence[Outcome]) -> int:
    return sum(o.png is not None for o in outcomes)


def _replay_command(args: argparse.Namespace) -> str:
    parts = ["smeq", "verify", "--seed", str(args.seed)]
    if args.quick:
        parts.append("--quick")
    if args.device != "cpu":
        parts += ["--device", args.device]
    for name in args.only or ():
        parts += ["--only", name]
    return " ".join(parts)


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("smeq", "torch", "sympy", "matplotlib", "rich"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _use_rich() -> bool:
    return sys.stdout.isatty() and importlib.util.find_spec("rich") is not None


class _Progress:
    """Progress on stdout: a rich progress bar on a terminal, one plain line per check else."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.index = 0
        self._bar: Any = None
        self._task: Any = None
        if _use_rich():
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

            self._bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"),
                                 BarColumn(), TextColumn("{task.completed}/{task.total}"))
            self._bar.start()
            self._task = self._bar.add_task("smeq verify", total=total)

    def start(self, check: Check) -> None:
        self.index += 1
        if self._bar is not None:
            self._bar.update(self._task, description=f"[{self.index}/{self.total}] {check.name}")
        else:
            print(f"[{self.index}/{self.total}] {check.name} ...", flush=True)

    def done(self, check: Check, result: CheckResult) -> None:
        word = "pass" if result.ok else "FAIL"
        line = f"{word:>4}  {check.name:<26} {result.seconds:6.2f} s  {result.value}"
        if self._bar is not None:
            colour = "green" if result.ok else "red"
            self._bar.console.print(f"[{colour}]{word:>4}[/{colour}]  {check.name:<26} "
                                    f"{result.seconds:6.2f} s  {result.value}", markup=True,
                                    highlight=False)
            self._bar.advance(self._task)
        else:
            print("      " + line, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _print_table(outcomes: Sequence[Outcome], info: RunInfo) -> None:
    title = (f"smeq verify — seed {info.seed}, {info.device}, "
             f"{'quick' if info.quick else 'full'}, {info.seconds:.1f} s")
    if _use_rich():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for column in ("check", "verdict", "measured", "time"):
            table.add_column(column)
        for o in outcomes:
            word = "[green]pass[/green]" if o.result.ok else "[bold red]FAIL[/bold red]"
            table.add_row(o.check.name, word, o.result.value, f"{o.result.seconds:.2f} s")
        Console().print(table)
    else:
        print("\n" + title)
        width = max([len(o.check.name) for o in outcomes] + [5])
        print(f"{'check':<{width}}  verdict  {'time':>8}  measured")
        print("-" * (width + 40))
        for o in outcomes:
            word = "pass" if o.result.ok else "FAIL"
            print(f"{o.check.name:<{width}}  {word:<7}  {o.result.seconds:7.2f}s  "
                  f"{o.result.value}")
    for o in outcomes:
        if not o.result.ok:
            print(f"\nFAIL {o.check.name}: {o.check.claim}\n  {o.result.detail}",
                  file=sys.stdout)
