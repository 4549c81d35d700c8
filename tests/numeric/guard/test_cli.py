"""``smeq guard``: verdicts and exit codes, bad input as a message (exit 2), the λ(t) plot.

Runs ``numeric._cli.main([...])`` in-process on a user's module written to ``tmp_path``, plus one
subprocess run of the installed console script.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from numeric._cli import main

USER_MODULE = textwrap.dedent('''
    """A user's project: losses on VP-linear and on diffusers-style add_noise."""
    import torch
    from numeric import Schedule

    SCHEDULE = Schedule.vp_linear()
    NOT_A_FUNCTION = 42


    def _kernel(t):
        return SCHEDULE.alpha(t)[:, None], SCHEDULE.sigma(t)[:, None]


    def eps_loss(model, x0, t, noise):
        a, s = _kernel(t)
        return ((model(a * x0 + s * noise, t) - noise) ** 2).sum(-1)


    def eps_loss_mean(model, x0, t, noise):
        a, s = _kernel(t)
        return ((model(a * x0 + s * noise, t) - noise) ** 2).mean()


    def eps_loss_bug(model, x0, t, noise):
        a, s = _kernel(t)
        return ((model(a * x0 + s * s * noise, t) - noise) ** 2).sum(-1)


    def crashing_loss(model, x0, t, noise):
        raise RuntimeError("boom in user code")


    def to_score(model, xt, t):
        return -model(xt, t) / _kernel(t)[1]


    def add_noise(x0, noise, t):
        a, s = _kernel(t)
        return a * x0 + s * noise


    def train_step(model, x0):  # an unmodified training step: draws t and the noise itself
        t = torch.rand(x0.shape[0], dtype=x0.dtype) * 0.998 + 1e-3
        noise = torch.randn_like(x0)
        a, s = _kernel(t)
        return ((model(a * x0 + s * noise, t) - noise) ** 2).sum(-1)


    def threads_seen(model, x0, t, noise):  # records the thread count the guard runs with
        THREADS.append(torch.get_num_threads())
        return eps_loss(model, x0, t, noise)


    THREADS = []
''')

SAMPLES = ["--n-samples", "32"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # `--path` puts the project on sys.path: restore it after the test. The module name is
    # unique to the test, since in-process runs share sys.modules.
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / f"user_{tmp_path.name.replace('-', '_')}.py").write_text(USER_MODULE)
    return tmp_path


def _guard(project: Path, loss: str, *extra: str) -> int:
    module = f"user_{project.name.replace('-', '_')}"
    return main(["guard", f"{module}:{loss}", "--to-score", f"{module}:to_score",
                 "--path", str(project), *(SAMPLES if "--n-samples" not in extra else ()),
                 *extra])


def test_a_correct_loss_passes_and_names_its_weighting(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _guard(project, "eps_loss", "--expected-weighting", "eps") == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS: ") and "eps: λ = σ²" in out


def test_a_scalar_mean_loss_is_named_with_its_dimension(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A scalar loss is evaluated one sample at a time: few samples keep the test fast.
    assert _guard(project, "eps_loss_mean", "--dim", "4", "--n-samples", "4") == 0
    assert "eps: λ = σ²/D with D=4" in capsys.readouterr().out


def test_a_buggy_loss_fails_with_exit_1(project: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _guard(project, "eps_loss_bug") == 1
    assert capsys.readouterr().out.startswith("FAIL: ")


def test_an_unexpected_weighting_fails(project: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert _guard(project, "eps_loss", "--expected-weighting", "x0") == 1
    assert "the weighting is not x0" in capsys.readouterr().out


def test_expected_scale_is_asserted(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # eps_loss sums over D = 3 coordinates: λ = σ² exactly, so scale 1 passes and 1/3 fails.
    assert _guard(project, "eps_loss", "--expected-weighting", "eps",
                  "--expected-scale", "1") == 0
    capsys.readouterr()
    assert _guard(project, "eps_loss", "--expected-weighting", "eps",
                  "--expected-scale", "0.3333") == 1
    assert capsys.readouterr().out.startswith("FAIL: ")


def test_expected_scale_with_step_is_a_usage_error(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _guard(project, "train_step", "--step", "--expected-weighting", "eps",
                  "--expected-scale", "1") == 2
    assert "--expected-scale" in capsys.readouterr().err


def test_a_schedule_given_as_module_object(project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    module = f"user_{project.name.replace('-', '_')}"
    for obj in ("SCHEDULE", "add_noise"):
        assert _guard(project, "eps_loss", "--schedule", f"{module}:{obj}") == 0
    assert capsys.readouterr().out.count("PASS: ") == 2


@pytest.mark.parametrize(("args", "named", "fix"), [
    (["no_such_module_xyz:loss"], "loss", "--path DIR"),
    (["{m}:missing"], "loss", "eps_loss"),
    (["{m}:NOT_A_FUNCTION"], "loss", "name a function"),
    (["nocolon"], "loss", "package.module:function"),
    (["{m}:eps_loss", "--schedule", "bogus"], "--schedule", "vp-linear"),
    (["{m}:eps_loss", "--times", "a,b"], "--times", "0.1,0.5,0.9"),
    (["{m}:eps_loss", "--expected-weighting", "nonsense"], "--expected-weighting", "eps"),
    (["{m}:eps_loss", "--dim", "0"], "--dim", "int >= 1"),
    (["{m}:eps_loss", "--device", "nodevice"], "--device", "'cpu'"),
    (["{m}:crashing_loss"], "loss", "accept a batch"),
    (["{m}:eps_loss", "--path", "/no/such/dir"], "--path", "existing directory"),
])
def test_bad_input_exits_2_with_a_message_not_a_traceback(
        project: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str,
        fix: str) -> None:
    module = f"user_{project.name.replace('-', '_')}"
    argv = ["guard", *(a.format(m=module) for a in args), "--to-score", f"{module}:to_score",
            *SAMPLES]
    if "--path" not in args:
        argv += ["--path", str(project)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"smeq guard: error: argument `{named}`"), err
    assert "Fix:" in err and fix in err and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_absent_cuda_device_is_bad_input(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _guard(project, "eps_loss", "--device", "cuda") == 2
    assert "argument `--device`: got 'cuda', but torch reports no cuda" in capsys.readouterr().err


def test_traceback_flag_shows_the_users_error(project: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert _guard(project, "crashing_loss", "--traceback") == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "boom in user code" in err


def test_plot_draws_the_measured_weighting(project: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="--plot needs the report extra")
    out = tmp_path / "weighting.png"
    assert _guard(project, "eps_loss", "--plot", str(out)) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_a_clear_error(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert _guard(project, "eps_loss", "--plot", str(project / "x.png")) == 2
    assert "pip install 'smeq[report]'" in capsys.readouterr().err


def test_the_console_script(project: Path) -> None:
    script = shutil.which("smeq") or str(Path(sys.executable).with_name("smeq"))
    if not Path(script).exists():
        pytest.skip("the smeq console script is not installed (pip install -e .)")
    module = f"user_{project.name.replace('-', '_')}"
    proc = subprocess.run([script, "guard", f"{module}:eps_loss_bug", "--to-score",
                           f"{module}:to_score", *SAMPLES], cwd=project, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("FAIL: ")


def test_step_mode_checks_an_unmodified_training_step(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _guard(project, "train_step", "--step", "--schedule", "vp-linear",
                  "--expected-weighting", "eps") == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS: ") and "t ← torch.rand([B]) (draw 1)" in out
    assert "agrees with the schedule" in out


def test_step_mode_refuses_times(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _guard(project, "train_step", "--step", "--times", "0.5") == 2
    assert "argument `--step`" in capsys.readouterr().err


@pytest.mark.parametrize("threads", ["0", "-2"])
def test_threads_below_one_is_bad_input(project: Path, capsys: pytest.CaptureFixture[str],
                                        threads: str) -> None:
    assert _guard(project, "eps_loss", "--threads", threads) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--threads {threads}" in err and "Fix:" in err


def test_guard_runs_with_one_thread_and_restores_the_setting(project: Path) -> None:
    import importlib

    module = f"user_{project.name.replace('-', '_')}"
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert _guard(project, "threads_seen") == 0
        assert torch.get_num_threads() == 2
        assert _guard(project, "threads_seen", "--threads", "3") == 0
        assert torch.get_num_threads() == 2
        seen = importlib.import_module(module).THREADS
        assert set(seen[:len(seen) // 2]) == {1} and set(seen[len(seen) // 2:]) == {3}
    finally:
        torch.set_num_threads(before)


def test_verify_refuses_threads_below_one(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    before = torch.get_num_threads()
    assert main(["verify", "--threads", "0", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("smeq verify: --threads 0:") and err.count("\n") == 1
    assert torch.get_num_threads() == before and not (tmp_path / "r").exists()


def test_step_mode_plot_without_a_schedule(project: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="--plot needs the report extra")
    out = tmp_path / "step.png"
    assert _guard(project, "train_step", "--step", "--plot", str(out)) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
