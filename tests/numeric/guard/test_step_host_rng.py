"""A step that draws from NumPy or Python's random is refused with the draw named (§3b)."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from numeric import Schedule, SmeqError, check_training_step
from numeric.guard._host_rng import HostRngWatch

Tensor = torch.Tensor
VP = Schedule.vp_linear()

RNG = np.random.default_rng(0)      # created outside the step, used inside
PY = random.Random(0)
RS = np.random.RandomState(3)


def col(v: Tensor, like: Tensor) -> Tensor:
    return v.reshape(-1, *[1] * (like.dim() - 1)).to(like.dtype)


def eps_to_score(model: Any, xt: Tensor, t: Tensor) -> Tensor:
    return -model(xt, t) / col(VP.sigma(t), xt)


def _with_t(draw: Callable[[int], Any]) -> Callable[[Any, Tensor], Tensor]:
    def step(model: Any, x0: Tensor) -> Tensor:
        t = torch.as_tensor(draw(x0.shape[0]), dtype=x0.dtype).reshape(-1) * 0.9 + 0.05
        noise = torch.randn_like(x0)
        xt = col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise
        return ((model(xt, t) - noise) ** 2).sum(1)

    return step


def rng_step(model: Any, x0: Tensor) -> Tensor:
    t = torch.as_tensor(RNG.normal(0.5, 0.01, x0.shape[0]), dtype=x0.dtype)
    noise = torch.randn_like(x0)
    xt = col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise
    return ((model(xt, t) - noise) ** 2).sum(1)


class _Library:
    def __init__(self) -> None:
        self.generator = np.random.default_rng(1)

    def times(self, b: int) -> Any:
        return self.generator.uniform(size=b)


LIB = _Library()


CASES: dict[str, tuple[Callable[[Any, Tensor], Tensor], str]] = {
    "numpy Generator (global)": (rng_step, r"numpy\.random\.Generator\.normal\(\) \(the step's "
                                           r"`RNG`\)"),
    "numpy Generator (library attribute)": (
        _with_t(lambda b: LIB.times(b)), r"numpy\.random\.Generator\.uniform\(\)"),
    "numpy RandomState instance": (
        _with_t(lambda b, rs=RS: rs.rand(b)),
        r"numpy\.random\.RandomState\.rand\(\) \(the step's `rs`\)"),
    "numpy module function": (_with_t(lambda b: np.random.uniform(size=b)),
                              r"numpy\.random\.uniform\(\)"),
    "numpy Generator made inside": (_with_t(lambda b: np.random.default_rng(5).random(b)),
                                    r"numpy\.random\.default_rng\(\)"),
    "random.Random instance": (_with_t(lambda b: [PY.gauss(0.5, 0.01) for _ in range(b)]),
                               r"random\.Random\.gauss\(\)"),
    "random.Random.random": (_with_t(lambda b: [PY.random() for _ in range(b)]),
                             r"random\.Random\.random\(\)"),
    "random module function": (_with_t(lambda b: [random.uniform(0, 1) for _ in range(b)]),
                               r"random\.uniform\(\)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_host_draws_are_named_and_point_to_the_time_mode(case: str) -> None:
    step, pattern = CASES[case]
    states = (RNG.bit_generator.state, LIB.generator.bit_generator.state, PY.getstate(),
              random.getstate())
    with pytest.raises(SmeqError, match=pattern + r".*statistical='time'"):
        check_training_step(step, eps_to_score)
    # every generator the step drew from is left as it was
    assert states == (RNG.bit_generator.state, LIB.generator.bit_generator.state,
                      PY.getstate(), random.getstate())


def test_a_seeded_generator_that_makes_the_step_deterministic_is_still_named() -> None:
    """No global state changes and the step replays identically: only naming finds it."""
    def step(model: Any, x0: Tensor) -> Tensor:
        r = random.Random(7)
        t = torch.tensor([r.uniform(0.1, 0.9) for _ in range(x0.shape[0])], dtype=x0.dtype)
        noise = torch.randn_like(x0)
        xt = col(VP.alpha(t), x0) * x0 + col(VP.sigma(t), x0) * noise
        return ((model(xt, t) - noise) ** 2).sum(1)

    with pytest.raises(SmeqError, match=r"random\.Random\.uniform\(\)"):
        check_training_step(step, eps_to_score)


def test_the_profile_hook_is_restored_and_chained() -> None:
    seen: list[str] = []

    def outer(frame: Any, event: str, arg: Any) -> None:
        seen.append(event)

    old = sys.getprofile()
    sys.setprofile(outer)
    try:
        with HostRngWatch() as watch:
            PY.random()
        inner = sys.getprofile()
    finally:
        sys.setprofile(old)
    assert inner is outer
    assert watch.drawn == ["random.Random.random"]
    assert "c_call" in seen                  # the user's profiler kept seeing events
    with HostRngWatch() as quiet:
        float(torch.ones(2).sum())
    assert quiet.drawn == [] and quiet.description() == ""
