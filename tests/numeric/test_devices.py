"""Property 8: every estimator runs on every device; float32 on a device agrees with float64 on
the CPU within :func:`numeric.tolerance` (the one tolerance table), on the same draws."""

from __future__ import annotations

import torch

import numeric

MIX = numeric.GaussianMixture([0.4, 0.6], [[0.0, 1.0, -0.5], [1.5, -1.0, 0.5]],
                              [[0.5, 0.8, 1.0], [1.2, 0.6, 0.9]])
KERNEL = (0.8, 0.6)
T = 0.35


def _check(got: torch.Tensor, expected: torch.Tensor, device: str, what: str) -> None:
    """``got`` was computed in float32 on ``device``, ``expected`` in float64 on the CPU."""
    tol = numeric.tolerance(torch.float32, device)  # estimates are float64 views of float32 work
    torch.testing.assert_close(got.detach().to("cpu", torch.float64), expected.detach(),
                               rtol=tol.rtol, atol=tol.atol, msg=lambda m: f"{what}: {m}")


def test_estimators_run_on_the_device_in_float64(device: str) -> None:
    mix = MIX.to(device=device)
    net = numeric.random_score_network(0, 3, device=device)
    batch = numeric.coupled_batch(mix, *KERNEL, 128, generator=1)
    assert batch.xt.device.type == device
    sm = numeric.sm_coupled(net, batch, T)
    dsm = numeric.dsm_coupled(net, batch, T)
    for est in (sm, dsm, numeric.dsm_mc(net, mix, KERNEL, T, n=64, generator=2),
                numeric.implicit_sm(net, mix, KERNEL, T, n=64, generator=3),
                numeric.sliced_sm(net, mix, KERNEL, T, n=64, generator=4),
                numeric.ratio_sm(net, mix, KERNEL, T, batch_size=8, n_batches=4, generator=5)):
        assert est.value.dtype == torch.float64 and est.value.device.type == device
        assert bool(torch.isfinite(est.per_sample).all())
    assert bool((dsm.per_sample - sm.per_sample >= -1e-12).all())
    dsm.value.backward()
    assert all(p.grad is not None and p.grad.device.type == device for p in net.parameters())


def test_float32_on_the_device_agrees_with_float64_on_cpu(device: str) -> None:
    net64 = numeric.random_score_network(4, 3)
    net32 = numeric.random_score_network(4, 3, dtype=torch.float32, device=device)
    mix32 = MIX.to(dtype=torch.float32, device=device)
    batch64 = numeric.coupled_batch(MIX, *KERNEL, 128, generator=6)
    batch32 = batch64.to(dtype=torch.float32, device=device)
    _check(net32(batch32.xt, torch.full((128,), T, dtype=torch.float32, device=device)),
           net64(batch64.xt, torch.full((128,), T, dtype=torch.float64)), device, "network")
    for name, fn in (("sm_coupled", numeric.sm_coupled), ("dsm_coupled", numeric.dsm_coupled)):
        _check(fn(net32, batch32, T).per_sample, fn(net64, batch64, T).per_sample, device, name)
    xt64 = batch64.xt
    _check(numeric.sm_exact(net32, mix32, KERNEL, T, xt=xt64.to(device, torch.float32)).value,
           numeric.sm_exact(net64, MIX, KERNEL, T, xt=xt64).value, device, "sm_exact")
    _check(numeric.implicit_sm(net32, mix32, KERNEL, T, xt=xt64.to(device, torch.float32)).value,
           numeric.implicit_sm(net64, MIX, KERNEL, T, xt=xt64).value, device, "implicit_sm")
