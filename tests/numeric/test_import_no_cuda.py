"""Importing numeric (and its strategies) and running it on the CPU never initialises CUDA."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import torch
import numeric
import numeric.strategies
assert not torch.cuda.is_initialized(), "import numeric initialised CUDA"
mix = numeric.GaussianMixture([1.0], [[0.0, 0.0]], [1.0])
net = numeric.random_score_network(0, 2)
batch = numeric.coupled_batch(mix, 0.5, 0.5, 8, generator=0)
numeric.dsm_coupled(net, batch, 0.1)
assert not torch.cuda.is_initialized(), "CPU evaluation initialised CUDA"
"""


def test_import_numeric_does_not_initialise_cuda() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
