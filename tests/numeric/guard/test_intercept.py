"""numeric.guard._intercept: every supported draw is recorded and its value chosen."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
import torch

from numeric.guard._host_rng import HostRngWatch
from numeric.guard._intercept import Draw, DrawMode


def _fill(value: float) -> Any:
    def source(draw: Draw) -> torch.Tensor:
        if draw.law == "integer":
            return torch.full(draw.shape, 7, dtype=torch.int64)
        return torch.full(draw.shape, value, dtype=torch.float64)

    return source


CALLS = {
    "torch.rand": lambda x, g: torch.rand(2, 3, generator=g, dtype=torch.float64),
    "torch.randn": lambda x, g: torch.randn((2, 3), generator=g, dtype=torch.float64),
    "torch.rand_like": lambda x, g: torch.rand_like(x, generator=g),
    "torch.randn_like": lambda x, g: torch.randn_like(x, generator=g),
    "torch.randint": lambda x, g: torch.randint(0, 10, (2, 3), generator=g),
    "torch.randint_like": lambda x, g: torch.randint_like(x, 10, generator=g),
    "torch.normal": lambda x, g: torch.normal(0.0, 1.0, (2, 3), generator=g,
                                              dtype=torch.float64),
    "Tensor.normal_": lambda x, g: torch.empty_like(x).normal_(generator=g),
    "Tensor.uniform_": lambda x, g: torch.empty_like(x).uniform_(generator=g),
}


@pytest.mark.parametrize("generator", [False, True], ids=["global", "generator"])
@pytest.mark.parametrize("name", list(CALLS))
def test_each_draw_is_recorded_and_chosen_without_touching_any_generator(
        name: str, generator: bool) -> None:
    g = torch.Generator().manual_seed(1) if generator else None
    x = torch.zeros(2, 3, dtype=torch.float64)
    state = torch.random.get_rng_state()
    g_state = g.get_state() if g is not None else None
    mode = DrawMode(_fill(0.25))
    with mode:
        out = CALLS[name](x, g)
    assert [d.name for d in mode.draws] == [name]
    draw = mode.draws[0]
    assert draw.shape == (2, 3) and draw.generator == generator
    expected = 7 if draw.law == "integer" else 0.25
    assert bool((out == expected).all())
    assert torch.equal(state, torch.random.get_rng_state())
    if g is not None and g_state is not None:
        assert torch.equal(g_state, g.get_state())


def test_parameters_of_the_call_are_applied_and_dtype_is_cast() -> None:
    with DrawMode(_fill(0.5)) as mode:
        a = torch.normal(torch.full((4,), 2.0), 3.0)          # mean + std·z
        b = torch.empty(4, dtype=torch.float16).uniform_(-1.0, 3.0)  # low + (high − low)·u
        c = torch.rand(4)                                       # default dtype
        d = torch.randint(5, (4,))
    assert torch.equal(a, torch.full((4,), 3.5))
    assert b.dtype == torch.float16 and torch.equal(b, torch.full((4,), 1.0, dtype=b.dtype))
    assert c.dtype == torch.get_default_dtype()
    assert mode.draws[3].bounds == (0, 5) and d.dtype == torch.int64
    assert [dr.index for dr in mode.draws] == [1, 2, 3, 4]


def test_describe_reads_like_the_call() -> None:
    with DrawMode(_fill(0.1)) as mode:
        torch.rand(5)
        torch.randn_like(torch.zeros(5, 3))
        torch.randint(0, 1000, (5,), generator=torch.Generator())
    texts = [d.describe(5, (5, 3)) for d in mode.draws]
    assert texts == ["torch.rand([B])", "torch.randn_like(x0)",
                     "torch.randint(0, 1000, [B], generator=g)"]


def test_other_samplers_pass_through_and_are_named() -> None:
    with DrawMode(_fill(0.1)) as mode:
        torch.bernoulli(torch.full((3,), 0.5))
        torch.nn.functional.dropout(torch.ones(3), p=0.5, training=True)
        torch.nn.functional.dropout(torch.ones(3), p=0.5, training=False)  # inert: not named
    assert len(mode.foreign) == 2 and "bernoulli" in mode.foreign[0]
    assert "dropout" in mode.foreign[1]


def test_host_rng_draws_are_seen_and_the_states_restored() -> None:
    py = random.getstate()
    npy: Any = np.random.get_state()
    with HostRngWatch() as watch:
        random.random()
        np.random.randn(2)
    assert watch.changed == ["random", "numpy.random"]
    assert watch.description() == "random.random(), numpy.random.randn()"
    assert random.getstate() == py
    now: Any = np.random.get_state()
    assert (now[1] == npy[1]).all()
    with HostRngWatch() as quiet:
        pass
    assert quiet.description() == ""


def test_host_generators_reached_by_a_function_are_named_and_restored() -> None:
    gen = np.random.default_rng(0)
    py = random.Random(0)
    before = (gen.bit_generator.state, py.getstate())

    def fn() -> None:
        gen.normal(size=2)
        py.gauss(0.0, 1.0)

    with HostRngWatch((fn,)) as watch:
        fn()
    assert watch.drawn == ["random.Random.gauss", "numpy.random.Generator.normal() (the "
                           "step's `gen`)"]
    assert watch.changed == []                       # no global state moved ...
    assert "numpy.random.Generator.normal()" in watch.description()  # ... yet it is named
    assert (gen.bit_generator.state, py.getstate()) == before
