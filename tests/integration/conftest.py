"""The guard on real third-party code (``integration``): diffusers, k-diffusion, toy-gradlogp,
denoising-diffusion-pytorch, torchcfm and score_models.

``tests/integration/install.sh`` installs the libraries beside the CPU torch. Without them the
tests skip, with the reason and the fix. When the run selects ``-m integration`` (the CI step
that runs right after install.sh) a missing library is an error instead: that run exists to
exercise them. Each test records the guard's verdict line (``record_property("smeq", ...)``),
and the terminal summary lists them: residual and matched weighting per library loss.
"""

from __future__ import annotations

import importlib
import importlib.util
import types
from collections.abc import Callable
from typing import Any

import pytest

INSTALL_HINT = "run tests/integration/install.sh"


def _required(config: pytest.Config) -> bool:
    expr = str(config.getoption("markexpr") or "")
    return "integration" in expr and "not integration" not in expr


def _absent(config: pytest.Config, what: str, exc: BaseException | None) -> None:
    reason = f"{what} is not installed ({INSTALL_HINT})" + (f": {exc}" if exc else "")
    if _required(config):
        pytest.fail(f"-m integration selected, but {reason}", pytrace=False)
    pytest.skip(reason)


def _import(config: pytest.Config, module: str, what: str) -> types.ModuleType:
    if not _required(config):
        return pytest.importorskip(module, reason=f"{what} is not installed ({INSTALL_HINT})")
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        _absent(config, what, exc)
        raise


@pytest.fixture(scope="session")
def diffusers(pytestconfig: pytest.Config) -> types.ModuleType:
    """The installed ``diffusers`` package."""
    return _import(pytestconfig, "diffusers", "diffusers")


def _light(config: pytest.Config, what: str, package: str,
           load: Callable[[], Any]) -> Any:
    """A library loaded without its package ``__init__`` (see _light_import): pytest's
    importorskip would run that ``__init__`` and fail on modules the losses never use."""
    if importlib.util.find_spec(package) is None:
        _absent(config, what, None)
    try:
        return load()
    except ImportError as exc:
        _absent(config, f"a module {what}'s losses import", exc)
        raise


@pytest.fixture(scope="session")
def toy_gradlogp(pytestconfig: pytest.Config) -> types.ModuleType:
    """``toy_gradlogp.energy`` (its ``Trainer`` holds the losses)."""
    import adapt_toy_gradlogp

    return _light(pytestconfig, "toy-gradlogp", "toy_gradlogp", adapt_toy_gradlogp.load)


@pytest.fixture(scope="session")
def k_diffusion(pytestconfig: pytest.Config) -> tuple[types.ModuleType, types.ModuleType]:
    """``(k_diffusion.layers, k_diffusion.external)``."""
    import adapt_k_diffusion

    return _light(pytestconfig, "k-diffusion", "k_diffusion", adapt_k_diffusion.load)


@pytest.fixture(scope="session")
def ddpm_pytorch(pytestconfig: pytest.Config) -> types.ModuleType:
    """``denoising_diffusion_pytorch.denoising_diffusion_pytorch`` (Unet, GaussianDiffusion)."""
    import adapt_ddpm_pytorch

    return _light(pytestconfig, "denoising-diffusion-pytorch", "denoising_diffusion_pytorch",
                  adapt_ddpm_pytorch.load)


@pytest.fixture(scope="session")
def torchcfm(pytestconfig: pytest.Config) -> types.ModuleType:
    """The installed ``torchcfm`` package (it imports POT's ``ot``)."""
    return _import(pytestconfig, "torchcfm", "torchcfm (or POT, which it imports)")


@pytest.fixture(scope="session")
def score_models(pytestconfig: pytest.Config) -> types.ModuleType:
    """The installed ``score_models`` package (it imports torch-ema)."""
    return _import(pytestconfig, "score_models", "score_models (or torch-ema, which it imports)")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = [value for report in terminalreporter.stats.get("passed", []) +
             terminalreporter.stats.get("failed", [])
             for key, value in getattr(report, "user_properties", ()) if key == "smeq"]
    if lines:
        terminalreporter.section("smeq guard on third-party losses")
        for line in sorted(lines):
            terminalreporter.write_line(line)
