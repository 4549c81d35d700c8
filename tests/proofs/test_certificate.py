"""The certificate: ``python -m proofs`` / :func:`proofs.certify` print every step with its
verdict, write Markdown with LaTeX, and exit non-zero when any step is not proved.

A failing derivation is registered only for the duration of one test (monkeypatch restores the
registry), so no other test, and no other xdist worker, ever sees it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import proofs
from proofs import Derivation, Step
from proofs._main import main

FAST = "sm_dsm[gaussian-diagonal-d]"
a = sp.Symbol("a", positive=True)


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register ``test[failing]`` (one proved, one false step) for this test only."""
    name = "test[failing]"
    steps = (Step("true", (a**2 - 1) / (a - 1), a + 1, justification="algebra — test"),
             Step("false", 2 * a, a, justification="planted — test"))
    registry = proofs.DERIVATIONS
    monkeypatch.setitem(registry._builders, name,  # type: ignore[attr-defined]
                        lambda: Derivation(name, steps, claim="planted", citation="test"))
    monkeypatch.setattr(registry, "_built", dict(registry._built))  # type: ignore[attr-defined]
    return name


def test_certify_all_steps_proved_on_a_fast_derivation() -> None:
    certificate = proofs.certify([FAST])
    assert certificate.ok
    assert len(certificate.results) == len(proofs.DERIVATIONS[FAST].steps)
    text = certificate.to_text()
    assert "CERTIFIED" in text and "NOT CERTIFIED" not in text
    for result in certificate.results:
        assert result.id in {f"{FAST}::{s.name}" for s in proofs.DERIVATIONS[FAST].steps}
        assert result.step.name in text and result.verdict.method in text


def test_certify_reports_a_failing_step(failing: str) -> None:
    certificate = proofs.certify([failing])
    assert not certificate.ok
    assert [r.step.name for r in certificate.failures] == ["false"]
    text = certificate.to_text()
    assert "NOT CERTIFIED" in text and "REFUTED" in text and "lhs is larger" in text


def test_main_exits_nonzero_and_writes_markdown(failing: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "certificate.md"
    assert main(["--only", failing, "--markdown", str(out)]) == 1
    markdown = out.read_text(encoding="utf-8")
    assert "**refuted**" in markdown and "not certified" in markdown
    assert r"\frac" in markdown or "$" in markdown
    assert "NOT CERTIFIED" in capsys.readouterr().out


def test_main_exits_zero_and_writes_latex(tmp_path: Path) -> None:
    out = tmp_path / "certificate.md"
    assert main(["--only", FAST, "--markdown", str(out)]) == 0
    markdown = out.read_text(encoding="utf-8")
    assert markdown.startswith("# smeq certificate")
    assert "$" in markdown and "\\sum" in markdown   # the sums over coordinates, in LaTeX
    assert "| proved |" in markdown


def test_registry_is_left_clean() -> None:
    assert "test[failing]" not in proofs.DERIVATIONS


def test_python_dash_m_proofs_runs(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "proofs", "--only", FAST], cwd=root,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CERTIFIED" in result.stdout and "s total" in result.stdout


def test_unknown_derivation_is_an_invalid_argument() -> None:
    with pytest.raises(proofs.InvalidArgument, match="argument `names`"):
        proofs.certify(["no-such-derivation"])
