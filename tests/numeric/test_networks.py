"""Score models (replayable random MLPs, linear, polynomial) and the estimators' model checks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numeric
from numeric import strategies as sst

MIX = numeric.GaussianMixture([1.0], [[0.0, 0.0]], [1.0])
KERNEL = (0.8, 0.6)


@given(st.integers(0, 2**31 - 1), st.sampled_from(["tanh", "relu", "silu", "softplus", "gelu"]),
       st.booleans())
def test_random_network_is_replayable_and_non_degenerate(seed: int, act: str, te: bool) -> None:
    make = lambda s: numeric.random_score_network(s, 3, width=16, activation=act,  # noqa: E731
                                                  time_embedding=te)
    x = torch.randn(256, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = torch.full((256,), 0.5, dtype=torch.float64)
    with torch.no_grad():
        out = make(seed)(x, t)
        again, other = make(seed)(x, t), make(seed + 1)(x, t)
    assert out.shape == (256, 3) and out.dtype == torch.float64
    torch.testing.assert_close(again, out, rtol=0, atol=0)  # same seed, same net
    assert not torch.equal(other, out)
    # O(1) and not degenerate: outputs vary with x on the scale of the inputs
    spread = float(out.std(0).min())
    assert 1e-3 < spread < 1e2, f"got an output spread {spread!r}, expected O(1)"
    assert float(out.abs().max()) < 1e3


def test_time_embedding_and_scalar_t() -> None:
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    net = numeric.random_score_network(3, 2)
    torch.testing.assert_close(net(x, 0.3), net(x, torch.full((8,), 0.3, dtype=torch.float64)))
    assert not torch.allclose(net(x, 0.1), net(x, 0.9))
    plain = numeric.random_score_network(3, 2, time_embedding=False)
    torch.testing.assert_close(plain(x, 0.1), plain(x, 0.9))


def test_same_seed_same_weights_in_every_dtype() -> None:
    n64 = numeric.random_score_network(9, 2)
    n32 = numeric.random_score_network(9, 2, dtype=torch.float32)
    for p64, p32 in zip(n64.parameters(), n32.parameters(), strict=True):
        torch.testing.assert_close(p64.to(torch.float32), p32, rtol=0, atol=0)
    assert "seed=9" in repr(n64)


def test_linear_and_polynomial_scores() -> None:
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    lin = numeric.LinearScore([[1.0, 2.0], [3.0, 4.0]], [0.5, -0.5])
    torch.testing.assert_close(lin(x), torch.tensor([[5.5, 10.5], [0.5, -1.5]],
                                                    dtype=torch.float64))
    poly = numeric.PolynomialScore([1.0, 0.0, -2.0, 0.5])
    assert poly.degree == 3
    torch.testing.assert_close(poly(x), 1 - 2 * x**2 + 0.5 * x**3)
    per_coord = numeric.PolynomialScore([[1.0, 0.0], [0.0, 1.0]])  # s = (1, x_2)
    torch.testing.assert_close(per_coord(x), torch.stack([torch.ones(2, dtype=torch.float64),
                                                          x[:, 1]], 1))


def test_bad_network_arguments_are_named() -> None:
    for kwargs, name in (({"seed": -1, "dim": 2}, "seed"), ({"seed": 0, "dim": 0}, "dim"),
                         ({"seed": 0, "dim": 2, "width": 0}, "width"),
                         ({"seed": 0, "dim": 2, "activation": "sigmoid"}, "activation"),
                         ({"seed": 0, "dim": 2, "dtype": torch.int64}, "dtype")):
        with pytest.raises(numeric.InvalidArgument, match=f"argument `{name}`.*Fix"):
            numeric.random_score_network(**kwargs)
    with pytest.raises(numeric.InvalidArgument, match="argument `A`"):
        numeric.LinearScore([1.0, 2.0], [0.0])
    with pytest.raises(numeric.InvalidArgument, match="argument `b`"):
        numeric.LinearScore([[1.0]], [0.0, 1.0])
    with pytest.raises(numeric.InvalidArgument, match="argument `coeffs`"):
        numeric.PolynomialScore([])


@given(st.lists(st.integers(1, 5), min_size=1, max_size=3).filter(lambda s: s != [64, 2]))
def test_wrong_shape_model_output_is_named(shape: list[int]) -> None:
    def bad(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros(shape, dtype=x.dtype)

    batch = numeric.coupled_batch(MIX, *KERNEL, 64, generator=0)
    for call in (lambda: numeric.dsm_mc(bad, MIX, KERNEL, 0.1, n=64),
                 lambda: numeric.sm_coupled(bad, batch, 0.1),
                 lambda: numeric.implicit_sm(bad, MIX, KERNEL, 0.1, n=64)):
        with pytest.raises(numeric.ShapeError, match=r"argument `model`.*shape.*Fix: make"):
            call()


def test_model_with_other_dtype_or_non_tensor_output_is_named() -> None:
    net32 = numeric.random_score_network(0, 2, dtype=torch.float32)
    with pytest.raises(numeric.DtypeError, match=r"argument `model`.*model\.to"):
        numeric.dsm_mc(net32, MIX, KERNEL, 0.1, n=8)
    with pytest.raises(numeric.DtypeError, match="argument `model`"):
        numeric.dsm_mc(lambda x, t: x.float(), MIX, KERNEL, 0.1, n=8)
    with pytest.raises(numeric.ShapeError, match=r"argument `model`.*not a Tensor"):
        numeric.dsm_mc(lambda x, t: x.tolist(), MIX, KERNEL, 0.1, n=8)  # type: ignore[arg-type, return-value]
    with pytest.raises(numeric.InvalidArgument, match=r"argument `model`.*not callable"):
        numeric.dsm_mc("net", MIX, KERNEL, 0.1, n=8)  # type: ignore[arg-type]
    with pytest.raises(numeric.InvalidArgument, match="argument `xt`"):
        numeric.sm_exact(numeric.random_score_network(0, 2), MIX, KERNEL, 0.1,
                         xt=torch.zeros(4, 3, dtype=torch.float64))


@given(sst.score_networks(2, max_width=8))
def test_strategy_networks_work_with_every_estimator(net: numeric.ScoreMLP) -> None:
    for est in (numeric.dsm_mc(net, MIX, KERNEL, 0.2, n=16, generator=0),
                numeric.implicit_sm(net, MIX, KERNEL, 0.2, n=16, generator=0)):
        assert est.value.dtype == torch.float64 and bool(torch.isfinite(est.value))
