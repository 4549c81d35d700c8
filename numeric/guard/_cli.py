"""``smeq guard MODULE:LOSS --to-score MODULE:FN --schedule NAME|MODULE:OBJ``.

Runs :func:`numeric.check_loss` on a user's loss from the command line, prints the
:class:`numeric.LossReport` summary and exits 0 (score matching), 1 (not) or 2 (bad input: the
message names the argument and the fix). ``--plot FILE`` draws the measured λ(t) against the
known weightings (needs matplotlib, the ``report`` extra). The loaders are shared with the pytest
plugin (``_smeq_pytestplugin``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Any

from .._errors import SmeqError, invalid

__all__ = ["SCHEDULE_NAMES", "add_arguments", "load_object", "load_schedule", "plot_weighting",
           "run"]

#: Command-line schedule names -> ``numeric.Schedule.named`` names (underscores also accepted).
SCHEDULE_NAMES = {"vp-linear": "vp_linear", "vp-cosine": "vp_cosine", "ve": "ve",
                  "sub-vp": "sub_vp", "edm": "edm", "rectified-flow": "rectified_flow",
                  "ddpm": "ddpm"}

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

#: check_loss's argument names -> the options that set them, for error messages.
_OPTIONS = {"to_score": "--to-score", "schedule": "--schedule", "times": "--times",
            "dim": "--dim", "expected_weighting": "--expected-weighting", "device": "--device",
            "dtype": "--dtype", "seed": "--seed", "n_samples": "--n-samples",
            "image_shape": "--image-shape", "expected_scale": "--expected-scale"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``guard`` subcommand's arguments."""
    parser.add_argument("loss", metavar="MODULE:LOSS",
                        help="the loss under test, loss(model, x0, t, noise) -> Tensor[B] or a "
                             "scalar (statistical mode: loss(model, x0))")
    parser.add_argument("--to-score", required=True, metavar="MODULE:FN",
                        help="to_score(model, x_t, t) -> the model's score estimate, like x_t")
    parser.add_argument("--schedule", default=None, metavar="NAME|MODULE:OBJ",
                        help=f"one of {', '.join(SCHEDULE_NAMES)}, or MODULE:OBJ naming a "
                             "numeric.Schedule, an object with alpha(t)/sigma(t) or an "
                             "add_noise(x0, noise, t) callable (default: vp-linear; with --step, "
                             "none: the kernel is measured and a schedule only cross-checks it)")
    parser.add_argument("--expected-weighting", metavar="NAME",
                        help="fail unless λ(t) has this shape: score, eps, x0, v, flow_matching, "
                             "edm, min_snr_eps, likelihood (aliases: epsilon, sample, ...)")
    parser.add_argument("--expected-scale", type=float, default=None, metavar="C",
                        help="with --expected-weighting, also fail unless λ(t) = C·expected(t) "
                             "(e.g. 1/D for a mean over D coordinates; default: shape only)")
    parser.add_argument("--times", metavar="T,T,...",
                        help="comma-separated times in the schedule's units (default: a grid)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"),
                        help="floating dtype (default: float64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, models and noise")
    parser.add_argument("--dim", type=int, default=3, help="data dimension (default: 3)")
    parser.add_argument("--image-shape", metavar="C,H,W",
                        help="pass x0 to the loss with this shape instead of [B, dim]")
    parser.add_argument("--n-samples", type=int, default=None,
                        help="x_t samples per time (default: the function's, set by what "
                             "exactness needs)")
    parser.add_argument("--statistical", nargs="?", const="data", default=False,
                        choices=["data", "time"],
                        help="statistical mode for losses that draw their own randomness, "
                             "loss(model, x0): 'data' (the default when given; implicit or "
                             "sliced score matching) or 'time' (the loss draws t and the noise)")
    parser.add_argument("--plot", metavar="FILE",
                        help="draw λ(t) against the known weightings into FILE (png, pdf, svg)")
    parser.add_argument("--path", default=".", metavar="DIR",
                        help="directory put first on sys.path for MODULE imports (default: .)")
    parser.add_argument("--traceback", action="store_true",
                        help="print the full traceback of an error in the user's code")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch CPU threads (default 1: the check is many small tensor "
                             "operations, which one thread runs fastest)")
    parser.add_argument("--step", action="store_true",
                        help="MODULE:LOSS is an unmodified training step step(model, x0) that "
                             "draws t and the noise itself: checked exactly with "
                             "numeric.check_training_step (--schedule is then a cross-check)")


def load_object(argument: str, spec: str) -> Any:
    """Import ``MODULE:NAME`` (NAME may be dotted) and return the object, which must be callable
    or an object with alpha/sigma; every failure names ``argument`` and the fix."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise invalid(argument, f"got {spec!r}, not MODULE:NAME",
                      "write it as package.module:function, e.g. mypkg.losses:dsm_loss")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise invalid(argument, f"no module named {exc.name!r} (sys.path starts with "
                          f"{sys.path[0]!r})", "run from the directory that contains it, pass "
                          "--path DIR, or install the package") from None
        raise invalid(argument, f"importing {module_name!r} failed: {exc}",
                      f"install {exc.name!r}, which {module_name!r} imports") from None
    except Exception as exc:
        raise invalid(argument, f"importing {module_name!r} raised {type(exc).__name__}: {exc}",
                      f"fix the error in {module_name!r} (try: python -c 'import "
                      f"{module_name}')") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n in dir(obj) if not n.startswith("_"))[:12]
            raise invalid(argument, f"{module_name!r} has no attribute {attr!r}",
                          f"name one of its attributes: {', '.join(names) or '(none)'}")
        obj = getattr(obj, part)
    has_kernel = callable(getattr(obj, "alpha", None)) and callable(getattr(obj, "sigma", None))
    if not callable(obj) and not has_kernel:
        raise invalid(argument, f"{spec} is a {type(obj).__name__}, which is not callable",
                      "name a function (or a schedule object with alpha(t) and sigma(t))")
    return obj


def load_schedule(argument: str, spec: str) -> Any:
    """A schedule NAME (``SCHEDULE_NAMES``) as a ``numeric.Schedule``, or ``MODULE:OBJ`` as is."""
    from .._schedules import Schedule

    if ":" in spec:
        return load_object(argument, spec)
    name = SCHEDULE_NAMES.get(spec, spec if spec in SCHEDULE_NAMES.values() else None)
    if name is None:
        raise invalid(argument, f"no schedule named {spec!r}",
                      f"use one of {', '.join(SCHEDULE_NAMES)} or MODULE:OBJ")
    return Schedule.named(name)


def _times(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise invalid("--times", f"got {text!r}", "pass numbers separated by commas, e.g. "
                      "0.1,0.5,0.9 (integers for ddpm)") from None
    if not values:
        raise invalid("--times", "is empty", "pass at least one time")
    return values


def _shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise invalid("--image-shape", f"got {text!r}", "pass sizes like 3,8,8") from None


def _device(text: str) -> Any:
    """The torch device, refusing an accelerator that is not there (before any tensor is made)."""
    import torch

    from .._validate import resolve_device

    device = resolve_device(text, "--device")
    backend = getattr(torch, device.type, None) if device.type != "cpu" else None
    if device.type != "cpu" and (backend is None or not backend.is_available()):
        raise invalid("--device", f"got {text!r}, but torch reports no {device.type} device here",
                      "pass --device cpu, or run where that device exists")
    return device


def _check_plot_backend(path: str | None) -> None:
    if path is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise invalid("--plot", "needs matplotlib, which is not installed",
                      "pip install 'smeq[report]' (or drop --plot)") from None
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise invalid("--plot", f"the directory {directory!r} does not exist",
                      "create it or write the plot elsewhere")
    if os.path.isdir(path):
        raise invalid("--plot", f"{path!r} is a directory", "name a file, e.g. weighting.png")
    from matplotlib.figure import Figure

    formats = sorted(Figure().canvas.get_supported_filetypes())
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in formats:  # matplotlib would append .png, or fail after the check has run
        raise invalid("--plot", f"{path!r} has " + (f"the unsupported extension .{ext}" if ext
                      else "no extension"), "end the file name with one of "
                      + ", ".join("." + f for f in formats))


def run(args: argparse.Namespace) -> int:
    """Run the guard; 0 pass, 1 fail, 2 bad input (message on stderr, no traceback).

    Torch runs with ``--threads`` CPU threads (default 1); the previous setting is restored."""
    threads = getattr(args, "threads", 1)
    if not isinstance(threads, int) or threads < 1:
        print(f"smeq guard: error: --threads {threads}: needs a whole number ≥ 1. Fix: pass "
              "--threads 1 (the default) or more", file=sys.stderr)
        return EXIT_USAGE
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run_reporting(args)
    finally:
        torch.set_num_threads(previous)


def _run_reporting(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except SmeqError as exc:
        message = str(exc)
        for name, option in _OPTIONS.items():
            message = message.replace(f"argument `{name}`", f"argument `{option}`")
        print(f"smeq guard: error: {message}", file=sys.stderr)
        cause = exc.__cause__
        if args.traceback and cause is not None:
            traceback.print_exception(cause, file=sys.stderr)
        elif cause is not None:
            print("  (pass --traceback for the traceback of the error in your code)",
                  file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    path = os.path.abspath(args.path)
    if not os.path.isdir(path):
        raise invalid("--path", f"{args.path!r} is not a directory", "pass an existing directory")
    if path not in sys.path:
        sys.path.insert(0, path)
    _check_plot_backend(args.plot)
    loss = load_object("loss", args.loss)
    to_score = load_object("--to-score", args.to_score)
    step_mode = bool(getattr(args, "step", False))
    schedule_given = args.schedule is not None
    schedule = load_schedule("--schedule", args.schedule if schedule_given else "vp-linear")
    import torch

    from ._guard import check_loss

    device = _device(args.device)

    sized = {} if args.n_samples is None else {"n_samples": args.n_samples}
    if step_mode:
        from ._step_check import check_training_step

        if args.statistical or args.times is not None:
            raise invalid("--step", "cannot be combined with --statistical or --times",
                          "drop them: the step draws its own times, which the guard chooses")
        if args.expected_scale is not None:
            raise invalid("--expected-scale", "is not supported with --step",
                          "check the scale with check_loss, or drop --expected-scale")
        report = check_training_step(
            loss, to_score, schedule=schedule if schedule_given else None, dim=args.dim,
            expected_weighting=args.expected_weighting, device=device,
            dtype=getattr(torch, args.dtype), seed=args.seed,
            image_shape=_shape(args.image_shape), name=args.loss, **sized)
    else:
        report = check_loss(
            loss, to_score, schedule, times=_times(args.times), dim=args.dim,
            expected_weighting=args.expected_weighting, device=device,
            dtype=getattr(torch, args.dtype), seed=args.seed,
            image_shape=_shape(args.image_shape), statistical=args.statistical, name=args.loss,
            expected_scale=args.expected_scale, **sized)
    print(report.summary())
    if args.plot is not None:
        plot_weighting(report, schedule if schedule_given or not step_mode else None,
                       args.plot)
        print(f"wrote {args.plot}")
    return EXIT_PASS if report.ok else EXIT_FAIL


def plot_weighting(report: Any, schedule: Any, path: str) -> None:
    """Draw the measured λ(t) (points) against each known weighting (lines), log scale.

    Each known λ is scaled by the constant that fits the measured points best in log space, so a
    line through every point is a match up to a constant (what ``LossReport.matched`` reports).
    With ``schedule=None`` (``--step`` without ``--schedule``) only the points are drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from ._probe import resolve_schedule
    from ._weightings import WEIGHTINGS

    t = torch.tensor(list(report.weighting), dtype=torch.float64)
    lam = torch.tensor(list(report.weighting.values()), dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(t.numpy(), lam.abs().numpy(), "ko", label="measured λ(t)", zorder=3)
    if schedule is not None and t.numel() >= 2 and bool((lam > 0).all()):
        kernel = resolve_schedule(schedule, times=t, sample_shape=(1,), dtype=torch.float64,
                                  device=torch.device("cpu"))
        if kernel.discrete:
            fine = torch.arange(int(t.min()), int(t.max()) + 1, dtype=torch.int64)
            at = t.to(torch.int64)
        else:
            fine = torch.linspace(float(t.min()), float(t.max()), 200, dtype=torch.float64)
            at = t
        a_fine, s_fine = kernel.alpha(fine).reshape(-1), kernel.sigma(fine).reshape(-1)
        a_at, s_at = kernel.alpha(at).reshape(-1), kernel.sigma(at).reshape(-1)
        for name, w in WEIGHTINGS.items():
            if w.params:  # edm / min-SNR need a fitted parameter: named in the title if matched
                continue
            ref = w(a_at, s_at)
            scale = float(torch.exp((lam.log() - ref.log()).mean()))
            style = "-" if name == report.matched else ":"
            ax.plot(fine.double().numpy(), (scale * w(a_fine, s_fine)).numpy(), style,
                    label=f"{name}: {scale:.3g}·{w.formula}")
    ax.set_xlabel("t (schedule units)")
    ax.set_ylabel("λ(t), score space")
    ax.set_yscale("log")
    ax.set_title(f"{report.target}: {report.matched_text or 'no known weighting'}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
