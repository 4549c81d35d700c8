"""smeq's pytest plugin (entry point ``pytest11: smeq``): run the score-matching guard from tests.

Loading it imports neither torch nor sympy; ``numeric`` is imported only inside the fixtures, so
projects that never ask for a ``smeq_*`` fixture pay nothing. The target, the device and the
dtype are named by options (or environment variables, or ini keys) and printed in the report
header, in the manner of array-api-tests:

====================  =================  ==================  =====================================
option                env var            ini key             meaning
====================  =================  ==================  =====================================
``--smeq-device``     ``SMEQ_DEVICE``    ``smeq_device``     torch device of the guard (``cpu``)
``--smeq-dtype``      ``SMEQ_DTYPE``     ``smeq_dtype``      ``float64`` (default) or ``float32``
``--smeq-seed``       ``SMEQ_SEED``      ``smeq_seed``       seed of problems, models, noise (0)
``--smeq-target``     ``SMEQ_TARGET``    ``smeq_target``     the loss under test, ``MODULE:LOSS``
``--smeq-to-score``   ``SMEQ_TO_SCORE``  ``smeq_to_score``   its model-to-score map, ``MODULE:FN``
``--smeq-schedule``   ``SMEQ_SCHEDULE``  ``smeq_schedule``   schedule name or ``MODULE:OBJ``
====================  =================  ==================  =====================================

Fixtures: ``smeq_config`` (the settings above), ``smeq_device``, ``smeq_schedule``,
``smeq_problem`` (a Gaussian mixture with a schedule and times), ``smeq_models`` (replayable
random score networks), ``smeq_check_loss`` (``numeric.check_loss`` on the configured device,
dtype and seed) and ``smeq_target`` (the loss named by ``--smeq-target``, checked by
``smeq_target.check()``; tests using it skip when no target is configured).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

__all__ = ["SmeqConfig", "SmeqProblem", "SmeqTarget"]

_DTYPES = ("float64", "float32")
_DEVICE = re.compile(r"^(cpu|cuda|mps|xpu)(:\d+)?$")
_OBJECT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_DEFAULT_SCHEDULE = "vp-linear"

#: name -> (help, default). Each setting is read from the option, then the env var, then the ini.
_SETTINGS: dict[str, tuple[str, str | None]] = {
    "device": ("torch device the guard runs on (cpu, cuda, cuda:1, ...)", "cpu"),
    "dtype": ("floating dtype of the guard: float64 or float32", "float64"),
    "seed": ("integer seed of the smeq problems, models and noise", "0"),
    "target": ("the loss under test as MODULE:LOSS (loss(model, x0, t, noise))", None),
    "to_score": ("the target's model-to-score map as MODULE:FN (to_score(model, x_t, t))", None),
    "schedule": ("noise schedule: a name (vp-linear, vp-cosine, ve, sub-vp, edm, "
                 "rectified-flow, ddpm) or MODULE:OBJ", _DEFAULT_SCHEDULE),
}


def _flag(name: str) -> str:
    return "--smeq-" + name.replace("_", "-")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smeq", "smeq score-matching guard")
    for name, (text, default) in _SETTINGS.items():
        env = "SMEQ_" + name.upper()
        group.addoption(_flag(name), dest="smeq_" + name, default=None,
                        help=f"{text}; also ${env} or ini smeq_{name} (default: {default})")
        parser.addini("smeq_" + name, f"smeq: {text}", default=default)


@dataclass(frozen=True)
class SmeqConfig:
    """The plugin's settings (plain strings and ints: building one imports nothing heavy)."""

    device: str = "cpu"
    dtype: str = "float64"
    seed: int = 0
    target: str | None = None
    to_score: str | None = None
    schedule: str = _DEFAULT_SCHEDULE

    def header(self) -> str:
        """The line ``pytest_report_header`` prints."""
        target = self.target or "none (set --smeq-target MODULE:LOSS)"
        extra = f", to_score={self.to_score}" if self.to_score else ""
        return (f"smeq: guard device={self.device}, dtype={self.dtype}, seed={self.seed}, "
                f"schedule={self.schedule}, target={target}{extra}")

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)


def _read(config: pytest.Config, name: str) -> str | None:
    value = config.getoption("smeq_" + name)
    if value is None:
        value = os.environ.get("SMEQ_" + name.upper()) or None
    if value is None:
        ini = config.getini("smeq_" + name)
        value = str(ini) if ini not in (None, "") else None
    return value


def read_config(config: pytest.Config) -> SmeqConfig:
    """Parse and check the settings; a bad value is a usage error naming the option and fix."""
    values = {name: _read(config, name) for name in _SETTINGS}
    device = values["device"] or "cpu"
    if not _DEVICE.match(device):
        raise pytest.UsageError(f"{_flag('device')}: got {device!r}, not a torch device. "
                                "Fix: pass cpu, cuda or cuda:N")
    dtype = values["dtype"] or "float64"
    if dtype not in _DTYPES:
        raise pytest.UsageError(f"{_flag('dtype')}: got {dtype!r}. Fix: pass one of {_DTYPES}")
    try:
        seed = int(values["seed"] or "0")
    except ValueError:
        seed = -1
    if not 0 <= seed < 2**63:  # numeric's seeds: [0, 2**63), room for derived seeds seed + j
        raise pytest.UsageError(f"{_flag('seed')}: got {values['seed']!r}. "
                                "Fix: pass an integer in [0, 2**63)")
    for name in ("target", "to_score"):
        if values[name] is not None and not _OBJECT.match(values[name] or ""):
            raise pytest.UsageError(f"{_flag(name)}: got {values[name]!r}, not MODULE:NAME. "
                                    "Fix: pass e.g. mypkg.losses:dsm_loss")
    return SmeqConfig(device=device, dtype=dtype, seed=seed, target=values["target"],
                      to_score=values["to_score"],
                      schedule=values["schedule"] or _DEFAULT_SCHEDULE)


_CONFIG_KEY = pytest.StashKey[SmeqConfig]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_CONFIG_KEY] = read_config(config)


def pytest_report_header(config: pytest.Config) -> str:
    return config.stash[_CONFIG_KEY].header()


# ---- fixtures (numeric, and so torch, is imported only here) ----------------------------------

@pytest.fixture(scope="session")
def smeq_config(pytestconfig: pytest.Config) -> SmeqConfig:
    """The plugin's settings (device, dtype, seed, target, to_score, schedule)."""
    return pytestconfig.stash[_CONFIG_KEY]


@pytest.fixture(scope="session")
def smeq_device(smeq_config: SmeqConfig) -> str:
    """The configured device; a requested CUDA device that is absent fails the test loudly."""
    if smeq_config.device != "cpu":
        import torch

        kind = smeq_config.device.split(":")[0]
        backend = getattr(torch, kind, None)
        if backend is None or not backend.is_available():
            pytest.fail(f"{_flag('device')}={smeq_config.device}, but torch reports no {kind} "
                        "device here. Fix: pass --smeq-device=cpu or run on a machine with one",
                        pytrace=False)
    return smeq_config.device


@pytest.fixture(scope="session")
def smeq_schedule(smeq_config: SmeqConfig) -> Any:
    """The configured schedule as the guard takes it (a numeric.Schedule, or the user's object)."""
    from numeric.guard._cli import load_schedule

    return _usage(load_schedule, "--smeq-schedule", smeq_config.schedule)


@dataclass(frozen=True)
class SmeqProblem:
    """A data distribution with exact score and posterior, a schedule and the times to check."""

    mixture: Any
    schedule: Any
    times: Any
    seed: int = 0

    @property
    def dim(self) -> int:
        return int(self.mixture.dim)


@pytest.fixture
def smeq_problem(smeq_config: SmeqConfig, smeq_device: str, smeq_schedule: Any) -> SmeqProblem:
    """The guard's default Gaussian mixture (d = 3, replayable from the seed) on the configured
    device and dtype, with the configured schedule and 8 interior times of it (``None`` for a
    schedule given as the user's own object)."""
    import torch

    import numeric
    from numeric.guard._inputs import default_mixture

    mixture = default_mixture(3, smeq_config.seed, torch.float64, torch.device("cpu"))
    # A user's schedule object has no grid: the guard then picks its own times.
    times = smeq_schedule.grid(8) if isinstance(smeq_schedule, numeric.Schedule) else None
    return SmeqProblem(mixture.to(dtype=smeq_config.torch_dtype(), device=smeq_device),
                       smeq_schedule, times, smeq_config.seed)


@pytest.fixture
def smeq_models(smeq_config: SmeqConfig, smeq_device: str) -> list[Any]:
    """Four replayable random score networks model(x_t, t) -> like x_t (d = 3)."""
    import numeric._networks as networks

    return [networks.random_score_network(smeq_config.seed + j, 3,
                                          dtype=smeq_config.torch_dtype(), device=smeq_device)
            for j in range(4)]


@pytest.fixture
def smeq_check_loss(smeq_config: SmeqConfig, smeq_device: str) -> Callable[..., Any]:
    """``numeric.check_loss`` with the configured device, dtype, seed and (default) schedule."""
    import numeric

    def check(loss: Callable[..., Any], to_score: Callable[..., Any], schedule: Any = None,
              **kwargs: Any) -> Any:
        if schedule is None:
            from numeric.guard._cli import load_schedule

            schedule = _usage(load_schedule, "--smeq-schedule", smeq_config.schedule)
        kwargs.setdefault("device", smeq_device)
        kwargs.setdefault("dtype", smeq_config.torch_dtype())
        kwargs.setdefault("seed", smeq_config.seed)
        return numeric.check_loss(loss, to_score, schedule, **kwargs)

    return check


@dataclass(frozen=True)
class SmeqTarget:
    """The loss named by ``--smeq-target``, its ``to_score`` and schedule, ready to check."""

    name: str
    loss: Callable[..., Any]
    to_score: Callable[..., Any] | None
    schedule: Any
    check_loss: Callable[..., Any] = field(repr=False)

    def check(self, **kwargs: Any) -> Any:
        """The guard's :class:`numeric.LossReport` for the target (``**kwargs`` to check_loss)."""
        if self.to_score is None:
            pytest.fail(f"{_flag('to_score')} is not set: the guard needs the target's "
                        "model-to-score map. Fix: pass --smeq-to-score MODULE:FN", pytrace=False)
        kwargs.setdefault("name", self.name)
        return self.check_loss(self.loss, self.to_score, self.schedule, **kwargs)

    def with_schedule(self, schedule: Any) -> SmeqTarget:
        return replace(self, schedule=schedule)


@pytest.fixture
def smeq_target(smeq_config: SmeqConfig, smeq_check_loss: Callable[..., Any]) -> SmeqTarget:
    """The configured target; tests that use it skip when no ``--smeq-target`` is set."""
    if smeq_config.target is None:
        pytest.skip("no smeq target: pass --smeq-target MODULE:LOSS (or set SMEQ_TARGET)")
    from numeric.guard._cli import load_object, load_schedule

    loss = _usage(load_object, "--smeq-target", smeq_config.target)
    to_score = (None if smeq_config.to_score is None
                else _usage(load_object, "--smeq-to-score", smeq_config.to_score))
    schedule = _usage(load_schedule, "--smeq-schedule", smeq_config.schedule)
    return SmeqTarget(smeq_config.target, loss, to_score, schedule, smeq_check_loss)


def _usage(load: Callable[[str, str], Any], option: str, spec: str) -> Any:
    """Run a loader; its error (naming the argument and the fix) fails the test without a
    traceback into smeq."""
    from numeric import SmeqError

    try:
        return load(option, spec)
    except SmeqError as exc:
        pytest.fail(str(exc), pytrace=False)
