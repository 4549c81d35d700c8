"""Suite-wide settings: Hypothesis profiles, torch threads per xdist worker, device list."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# One thread per process: the tensors here are small, where extra threads only add overhead,
# and two xdist workers on two cores must not oversubscribe.
torch.set_num_threads(1)

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=25, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
settings.register_profile(
    "dev", deadline=None, max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
settings.register_profile(
    "thorough", deadline=None, max_examples=1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
settings.load_profile(os.environ.get("SMEQ_HYPOTHESIS_PROFILE",
                                     "ci" if os.environ.get("CI") else "dev"))


def _devices() -> list[str]:
    # Sorted, and CUDA is only probed here (at collection), never at `import numeric`.
    return sorted(["cpu"] + (["cuda"] if torch.cuda.is_available() else []))


DEVICES = _devices()


@pytest.fixture(params=[pytest.param(d, marks=[pytest.mark.gpu] if d == "cuda" else [])
                        for d in ["cpu", "cuda"]])
def device(request: pytest.FixtureRequest) -> str:
    """Every device test runs on CPU, and on CUDA where one is present."""
    if request.param not in DEVICES:
        pytest.skip("no CUDA device present")
    return str(request.param)
