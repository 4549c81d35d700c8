"""The pytest plugin (``_smeq_pytestplugin``), run the way users run it: through ``pytester``.

Inner runs are in-process (fast, xdist-safe: each worker has its own process and tmp dir); the
plugin is loaded by its ``pytest11`` entry point, or explicitly with ``-p`` where the package is
not installed.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

import pytest
import torch

pytest_plugins = ["pytester"]

_INSTALLED = any(e.name == "smeq" for e in importlib.metadata.entry_points(group="pytest11"))
#: The plugin is auto-loaded when installed; otherwise load it by name.
PLUGIN_ARGS: tuple[str, ...] = () if _INSTALLED else ("-p", "_smeq_pytestplugin")

USER_LOSSES = textwrap.dedent('''
    """A user's losses on the VP-linear schedule: a correct ε loss and one with σ for σ²."""
    from numeric import Schedule

    SCHEDULE = Schedule.vp_linear()


    def _kernel(t):
        return SCHEDULE.alpha(t)[:, None], SCHEDULE.sigma(t)[:, None]


    def eps_loss(model, x0, t, noise):
        a, s = _kernel(t)
        return ((model(a * x0 + s * noise, t) - noise) ** 2).sum(-1)


    def eps_loss_bug(model, x0, t, noise):
        a, s = _kernel(t)
        return ((model(a * x0 + s * s * noise, t) - noise) ** 2).sum(-1)


    def to_score(model, xt, t):
        return -model(xt, t) / _kernel(t)[1]
''')


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # pytest-benchmark (if installed) warns inside xdist workers; it has no part in these runs.
    return pytester.runpytest_inprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider",
                                        "-p", "no:benchmark", *args)


def test_loading_the_plugin_imports_neither_torch_nor_sympy() -> None:
    code = ("import sys, _smeq_pytestplugin; "
            "heavy = sorted({'torch', 'sympy', 'numeric', 'proofs'} & set(sys.modules)); "
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


def test_report_header_names_device_dtype_and_target(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = _run(pytester, "--smeq-target=mypkg.losses:dsm_loss")
    result.stdout.fnmatch_lines(["smeq: guard device=cpu, dtype=float64, seed=0, "
                                 "schedule=vp-linear, target=mypkg.losses:dsm_loss"])
    result.assert_outcomes(passed=1)


def test_settings_come_from_env_then_ini(pytester: pytest.Pytester,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nsmeq_dtype = float32\nsmeq_schedule = edm\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    monkeypatch.setenv("SMEQ_SEED", "7")
    monkeypatch.delenv("SMEQ_TARGET", raising=False)
    result = _run(pytester)
    result.stdout.fnmatch_lines(["smeq: guard device=cpu, dtype=float32, seed=7, "
                                 "schedule=edm, target=none*"])


@pytest.mark.parametrize(("option", "named"), [
    ("--smeq-dtype=float8", "--smeq-dtype"),
    ("--smeq-device=gpu0", "--smeq-device"),
    ("--smeq-seed=-3", "--smeq-seed"),
    ("--smeq-target=no_colon", "--smeq-target"),
])
def test_a_bad_option_is_a_usage_error_naming_it(pytester: pytest.Pytester, option: str,
                                                 named: str) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = _run(pytester, option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{named}*Fix:*"])


def test_fixtures_give_problem_models_and_a_working_guard(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(user_losses=USER_LOSSES)
    pytester.makepyfile(textwrap.dedent('''
        import torch
        import numeric
        import user_losses


        def test_problem_and_models(smeq_problem, smeq_models, smeq_device):
            assert isinstance(smeq_problem.mixture, numeric.GaussianMixture)
            assert isinstance(smeq_problem.schedule, numeric.Schedule)
            assert smeq_problem.dim == 3 and smeq_problem.times.shape == (8,)
            x = torch.zeros(5, 3, dtype=torch.float64)
            outs = [m(x, torch.full((5,), 0.5, dtype=torch.float64)) for m in smeq_models]
            assert len(outs) == 4 and all(o.shape == (5, 3) for o in outs)
            assert not torch.equal(outs[0], outs[1])   # distinct networks
            assert smeq_device == "cpu"


        def test_correct_loss_passes(smeq_check_loss):
            report = smeq_check_loss(user_losses.eps_loss, user_losses.to_score, n_samples=32)
            assert report.ok and report.matched == "eps", report.summary()


        def test_buggy_loss_fails(smeq_check_loss):
            report = smeq_check_loss(user_losses.eps_loss_bug, user_losses.to_score,
                                     n_samples=32)
            assert not report.ok and report.residual > 1e-3, report.summary()
    '''))
    pytester.syspathinsert()
    _run(pytester).assert_outcomes(passed=3)


def test_smeq_target_is_checked_and_skips_when_unset(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(user_losses=USER_LOSSES)
    pytester.makepyfile(textwrap.dedent('''
        def test_target(smeq_target):
            report = smeq_target.check(n_samples=32)
            assert report.ok, report.summary()
    '''))
    pytester.syspathinsert()
    unset = _run(pytester, "-rs")
    unset.assert_outcomes(skipped=1)
    unset.stdout.fnmatch_lines(["*no smeq target: pass --smeq-target MODULE:LOSS*"])
    good = _run(pytester, "--smeq-target=user_losses:eps_loss",
                "--smeq-to-score=user_losses:to_score")
    good.assert_outcomes(passed=1)
    bad = _run(pytester, "--smeq-target=user_losses:eps_loss_bug",
               "--smeq-to-score=user_losses:to_score")
    bad.assert_outcomes(failed=1)
    bad.stdout.fnmatch_lines(["*FAIL: user_losses:eps_loss_bug is NOT a correct*"])


def test_a_target_that_cannot_be_imported_fails_with_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_target(smeq_target):\n    pass\n")
    result = _run(pytester, "--smeq-target=no_such_module_xyz:loss")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*argument `--smeq-target`: no module named*Fix:*"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_absent_cuda_device_fails_loudly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_device(smeq_device):\n    pass\n")
    result = _run(pytester, "--smeq-device=cuda")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--smeq-device=cuda, but torch reports no cuda device*"])
