"""``smeq verify``: the real quick run writes a complete, self-contained report and passes; the
exit code follows injected failures; missing pieces, crashes, a missing GPU and a missing
matplotlib are all reported, never silently passed."""

from __future__ import annotations

import argparse
import base64
import re
from pathlib import Path

import pytest
import torch

from numeric._cli import main
from numeric.verify import _app as _verify
from numeric.verify import _checks as _verify_checks
from numeric.verify import _figures
from numeric.verify._checks import Check, CheckResult, Context, Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ("training_run", "theta_spread", "ratio_bias", "constant_by_schedule", "weightings")


def _args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    _verify.add_arguments(parser)
    return parser.parse_args(["--out", str(tmp_path / "report"), *extra])


def _assert_png(path: Path) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] >= 300 and pixels.shape[1] >= 500, pixels.shape


def _assert_self_contained(page: str, n_figures: int) -> None:
    assert "http://" not in page and "https://" not in page, "report.html references the network"
    assert not re.search(r"<(script|link|iframe)\b", page), "report.html loads external content"
    sources = re.findall(r"<img[^>]*\ssrc='([^']*)'", page)
    assert len(sources) == n_figures
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_SIGNATURE


def test_quick_run_passes_and_writes_a_complete_self_contained_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "smeq-report"
    code = main(["verify", "--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed[-4000:]
    assert "VERDICT: PASS" in printed
    # The verdict table names every check once more after the progress lines.
    for check in _verify_checks.CHECKS:
        assert printed.count(check.name) >= 2, check.name
    if not _figures.available():  # without the report extra: still a pass, and it says so
        assert "matplotlib is not installed" in printed and not list(out.glob("*.png"))
        pytest.skip("matplotlib (the report extra) is not installed: figures not checked")
    pngs = sorted(out.glob("*.png"))
    assert sorted(re.sub(r"^fig\d+-", "", p.stem) for p in pngs) == sorted(FIGURES)
    for png in pngs:
        _assert_png(png)
    page = (out / "report.html").read_text(encoding="utf-8")
    _assert_self_contained(page, len(FIGURES))
    assert "<math" in page and "Symbolic certificate" in page
    markdown = (out / "report.md").read_text(encoding="utf-8")
    for png in pngs:
        assert f"]({png.name})" in markdown
    for check in _verify_checks.CHECKS:
        assert f"`{check.name}`" in markdown and f"<code>{check.name}</code>" in page


# ---- injected checks: fast, no numerics ------------------------------------------------------

def _passing(_: Context) -> CheckResult:
    return CheckResult(True, "fine", "nothing to see")


def _failing(_: Context) -> CheckResult:
    return CheckResult(False, "off by 0.3", "planted failure")


def _crashing(_: Context) -> CheckResult:
    raise RuntimeError("planted crash")


def _missing_piece(_: Context) -> CheckResult:
    import numeric._no_such_piece  # noqa: F401

    return CheckResult(True, "unreachable")


def _with_figure(_: Context) -> CheckResult:
    steps = list(range(5))
    data = {"steps": steps, "sm": [3.0 - 0.1 * s for s in steps],
            "dsm": [4.0 - 0.1 * s for s in steps], "gap": [1.0] * 5, "constant": 1.0,
            "t": 0.5, "schedule": "vp_cosine", "dim": 3, "tolerance": 1e-10}
    return CheckResult(True, "drawn", figure=Figure("training_run", "a planted figure",
                                                    "caption", "training_run", data))


PASS = Check("planted_pass", "a check that passes", _passing)
FAIL = Check("planted_fail", "a check that fails", _failing)


def test_exit_code_follows_an_injected_failure(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify.run(_args(tmp_path), checks=[PASS]) == 0
    assert "VERDICT: PASS" in capsys.readouterr().out
    assert _verify.run(_args(tmp_path), checks=[PASS, FAIL]) == 1
    printed = capsys.readouterr().out
    assert "VERDICT: FAIL" in printed and "planted failure" in printed
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "| `planted_fail` | a check that fails | **FAIL** |" in markdown


def test_the_registry_drives_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(_verify_checks, "CHECKS", [PASS, FAIL])
    assert main(["verify", "--out", str(tmp_path / "r")]) == 1
    assert main(["verify", "--out", str(tmp_path / "r"), "--only", "planted_pass"]) == 0
    assert main(["verify", "--out", str(tmp_path / "r"), "--only", "nope"]) == 2
    assert "no such check" in capsys.readouterr().err


def test_crash_and_missing_piece_fail_loudly(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    checks = [Check("crash", "crashes", _crashing), Check("missing", "needs a piece",
                                                          _missing_piece)]
    assert _verify.run(_args(tmp_path), checks=checks) == 1
    printed = capsys.readouterr().out
    assert "RuntimeError: planted crash" in printed
    assert "numeric._no_such_piece is missing" in printed


def test_plain_progress_when_not_a_tty(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _verify.run(_args(tmp_path), checks=[PASS, FAIL])
    printed = capsys.readouterr().out
    assert "[1/2] planted_pass ..." in printed and "[2/2] planted_fail ..." in printed
    assert "\x1b[" not in printed  # no terminal escape codes in a pipe or a log


def test_figures_are_skipped_and_said_so_without_matplotlib(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(_figures, "available", lambda: False)
    checks = [Check("figure", "draws", _with_figure)]
    assert _verify.run(_args(tmp_path), checks=checks) == 0
    assert "matplotlib is not installed" in capsys.readouterr().out
    out = tmp_path / "report"
    assert not list(out.glob("*.png"))
    assert "matplotlib is not installed" in (out / "report.md").read_text(encoding="utf-8")


def test_an_injected_figure_is_drawn_and_embedded(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    assert _verify.run(_args(tmp_path), checks=[Check("figure", "draws", _with_figure)]) == 0
    out = tmp_path / "report"
    (png,) = out.glob("*.png")
    _assert_png(png)
    page = (out / "report.html").read_text(encoding="utf-8")
    _assert_self_contained(page, 1)
    assert base64.b64encode(png.read_bytes()).decode() in page


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the message when CUDA is absent")
def test_cuda_absent_is_a_clear_error(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and "Fix:" in err


def test_seed_replays_a_run(tmp_path: Path) -> None:
    (check,) = [c for c in _verify_checks.CHECKS if c.name == "sm_le_dsm"]
    first, second, other = (check.run(Context(seed=s, quick=True)) for s in (3, 3, 4))
    assert first.ok and (first.value, first.detail) == (second.value, second.detail)
    assert other.detail != first.detail
