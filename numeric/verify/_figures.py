"""The report's figures, drawn with matplotlib's Agg backend (no display, no pyplot state).

Each drawer takes the ``data`` of a :class:`numeric._checks.Figure` and fills a matplotlib
``Figure``; :func:`render` saves it as a PNG. matplotlib is the optional ``report`` extra:
:func:`available` says whether it is installed, and ``smeq verify`` skips figures without it.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["DRAWERS", "available", "render", "warm_up"]

_DPI = 110
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#17becf")


def available() -> bool:
    """True when matplotlib (the ``report`` extra) can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def warm_up() -> None:
    """Import matplotlib's Agg machinery (a figure worker calls this while it waits)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    FigureCanvasAgg(Figure(figsize=(1, 1))).draw()


def render(kind: str, data: dict[str, Any], title: str, path: Path) -> Path:
    """Draw figure ``kind`` from ``data`` and save it as a PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    drawer, size = DRAWERS[kind]
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    drawer(fig, data)
    for ax in fig.axes:
        _lean_log_ticks(ax)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    fig.savefig(path, dpi=_DPI, format="png")
    return path


def _lean_log_ticks(ax: Any) -> None:
    """No minor ticks on log axes: they cost most of the drawing time and add no reading."""
    from matplotlib.ticker import FixedLocator, LogLocator, NullLocator

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log" and not isinstance(axis.get_major_locator(), FixedLocator):
            axis.set_minor_locator(NullLocator())
            axis.set_major_locator(LogLocator(numticks=8))


def _relative_spread(values: list[float]) -> list[float]:
    """|v − mean| / |mean| per value, floored at 1e-18 so exact agreement shows on a log axis."""
    mean = sum(values) / len(values)
    return [max(abs(v - mean) / abs(mean), 1e-18) for v in values]


def _training_run(fig: Any, data: dict[str, Any]) -> None:
    left, right = fig.subplots(1, 2)
    steps, gap = data["steps"], data["gap"]
    left.plot(steps, data["dsm"], color=_COLOURS[1], lw=2, label="DSM(θ)")
    left.plot(steps, data["sm"], color=_COLOURS[0], lw=2, label="SM(θ)")
    left.plot(steps, gap, color=_COLOURS[2], lw=2, label="DSM(θ) − SM(θ)")
    left.axhline(data["constant"], color="black", ls="--", lw=1.2,
                 label=f"C(t) = {data['constant']:.4g}")
    left.set_xlabel("Adam step on the DSM loss")
    left.set_ylabel("loss (squared score units, 1/x²)")
    left.set_title(f"{data['schedule']}, t = {data['t']:.3g}, d = {data['dim']}", fontsize=10)
    left.legend(fontsize=9)
    left.grid(alpha=0.3)
    right.semilogy(steps, _relative_spread(gap), "o-", color=_COLOURS[2], ms=3)
    right.axhline(data["tolerance"], color="black", ls=":", lw=1.2,
                  label=f"tolerance {data['tolerance']:.0e}")
    right.set_ylim(1e-18, 1)
    right.set_xlabel("Adam step on the DSM loss")
    right.set_ylabel("|gap − mean gap| / mean gap (relative)")
    right.set_title("the gap does not move while θ trains", fontsize=10)
    right.legend(fontsize=9)
    right.grid(alpha=0.3, which="both")


def _theta_spread(fig: Any, data: dict[str, Any]) -> None:
    left, right = fig.subplots(1, 2)
    idx = list(range(len(data["plain"])))
    left.plot(idx, data["plain"], "o", color=_COLOURS[1], ms=5,
              label=f"plain Monte Carlo, N = {data['n_plain']}")
    left.plot(idx, data["coupled"], "s", color=_COLOURS[0], ms=4,
              label=f"posterior-coupled, N = {data['n_coupled']} x_t")
    left.axhline(data["constant"], color="black", ls="--", lw=1.2,
                 label=f"C(t) = {data['constant']:.4g}")
    left.set_xlabel("random network θ (index)")
    left.set_ylabel("DSM(θ) − SM(θ) (squared score units)")
    left.set_title(f"{data['schedule']}, t = {data['t']:.3g}, d = {data['dim']}", fontsize=10)
    left.legend(fontsize=9, loc="lower right")
    left.grid(alpha=0.3)
    for key, colour, label in (("plain", _COLOURS[1], "plain Monte Carlo"),
                               ("coupled", _COLOURS[0], "posterior-coupled")):
        right.semilogy(idx, _relative_spread(data[key]), "o" if key == "plain" else "s",
                       color=colour, ms=4, label=label)
    right.set_ylim(1e-18, 10)
    right.set_xlabel("random network θ (index)")
    right.set_ylabel("|estimate − mean over θ| / mean (relative)")
    right.set_title("spread over θ on the same x_t", fontsize=10)
    right.legend(fontsize=9)
    right.grid(alpha=0.3, which="both")


def _ratio_bias(fig: Any, data: dict[str, Any]) -> None:
    ax = fig.subplots(1, 1)
    batch, bias, se = data["batch"], data["ratio_bias"], data["ratio_se"]
    ax.errorbar(batch, [abs(b) for b in bias], yerr=se, fmt="o-", color=_COLOURS[1], ms=5,
                capsize=3, label=f"ratio-form SM: |bias| (fitted slope {data['slope']:.2f})")
    anchor = abs(bias[-1]) * batch[-1]  # through the largest B, where 1/B has set in
    ax.loglog(batch, [anchor / b for b in batch], "--", color="grey", lw=1.2,
              label="reference slope −1 (bias ∝ 1/B)")
    ax.axhline(data["constant"], color=_COLOURS[0], ls="-.", lw=1.2,
               label=f"DSM − SM = C(t) = {data['constant']:.3g}, the same at every B")
    ax.loglog(batch, [max(abs(b), 1e-12) for b in data["dsm_bias"]], "s", color=_COLOURS[0],
              ms=5, label="DSM: |DSM − SM − C(t)| (unbiased: noise only)")
    ax.loglog(batch, data["dsm_bound"], "-", color=_COLOURS[0], lw=1.2,
              label=f"DSM: {data['z']:.1f} s.e. bound on |bias| (flat in B)")
    ax.set_xticks(batch, [str(b) for b in batch])
    ax.minorticks_off()
    ax.set_xlabel("batch size B (data points per estimate)")
    ax.set_ylabel("offset from SM(θ) (squared score units, 1/x²)")
    ax.set_title(f"{data['schedule']}, t = {data['t']:.3g}, d = {data['dim']}, "
                 f"{data['repeats']} x_t per B", fontsize=10)
    ax.legend(fontsize=8.5, loc="upper right")
    ax.grid(alpha=0.3, which="both")


def _constant_by_schedule(fig: Any, data: dict[str, Any]) -> None:
    panels = data["schedules"]
    cols = 4
    rows = math.ceil(len(panels) / cols)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        title = _SCHEDULE_TITLES.get(panel["name"], panel["name"])
        ax.semilogy(panel["t_fine"], panel["closed_fine"], "-", color="black", lw=1.2,
                    label="closed form")
        ax.errorbar(panel["t"], panel["measured"], yerr=panel["se"], fmt="o", color=_COLOURS[1],
                    ms=4, capsize=2, label="measured DSM − SM")
        if panel.get("log_t"):
            ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(panel.get("t_label", "t (schedule time)"))
        ax.set_ylabel("C(t) (1/x²)")
        ax.grid(alpha=0.3, which="major")
    for ax in axes[len(panels):]:
        ax.axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    spare = axes[len(panels)] if len(panels) < len(axes) else axes[0]
    spare.legend(handles, labels, loc="upper left", fontsize=9, frameon=False)
    spare.text(0.0, 0.55, data["caption"], fontsize=9, va="top", wrap=True,
               transform=spare.transAxes)


_SCHEDULE_TITLES = {"vp_linear": "VP, linear β", "vp_cosine": "VP, cosine", "ve": "VE",
                    "sub_vp": "sub-VP", "edm": "EDM (α = 1, σ = t)",
                    "rectified_flow": "rectified flow (α = 1 − t, σ = t)",
                    "ddpm": "DDPM, 1000 steps, linear β"}


def _weightings(fig: Any, data: dict[str, Any]) -> None:
    ax = fig.subplots(1, 1)
    for colour, loss in zip(_COLOURS, data["losses"], strict=False):
        ax.semilogy(loss["log_snr_fine"], loss["expected_fine"], "-", color=colour, lw=1.2,
                    alpha=0.8)
        ax.semilogy(loss["log_snr"], loss["measured"], "o", color=colour, ms=5,
                    label=f"{loss['name']} (measured) vs {loss['expected_name']} (line)")
    ax.set_xlabel("log-SNR λ_t = log(α²/σ²) (nats)")
    ax.set_ylabel("implied weight λ(t) on ‖s_θ − ∇log p_t‖² (score space)")
    ax.set_title("each reference loss = λ(t)·DSM + const; lines: Kingma & Gao (2023) "
                 "weightings in score space", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")


DRAWERS: dict[str, tuple[Callable[[Any, dict[str, Any]], None], tuple[float, float]]] = {
    "training_run": (_training_run, (11.0, 4.4)),
    "theta_spread": (_theta_spread, (11.0, 4.4)),
    "ratio_bias": (_ratio_bias, (7.5, 5.0)),
    "constant_by_schedule": (_constant_by_schedule, (13.0, 6.5)),
    "weightings": (_weightings, (8.5, 5.5)),
}
