"""Property 4: ∇_θ SM = ∇_θ DSM (step 7 of docs/design.md §2; Vincent 2011, eq. 11).

Exact with posterior coupling: autograd gradients of the two coupled estimates agree to 1e-10
relative in float64. Plain Monte Carlo: the directional derivative of DSM − SM along a random
direction u of parameter space has mean 0; paired two-sided z-test at |z| ≤ 5.3 (false-alarm rate
≤ 1.2e-7 per assertion), per-sample derivatives by central differences on common random numbers.
"""

from __future__ import annotations

import math

import torch
from hypothesis import given

import numeric
from numeric import strategies as sst

Z = 5.3
RTOL = 1e-10


def _flat_grad(value: torch.Tensor, net: torch.nn.Module) -> torch.Tensor:
    grads = torch.autograd.grad(value, list(net.parameters()))
    return torch.cat([g.reshape(-1) for g in grads])


@given(sst.sm_problems(max_networks=2))
def test_coupled_gradients_of_sm_and_dsm_agree(problem: sst.SMProblem) -> None:
    batch = numeric.coupled_batch(problem.mixture, problem.alpha, problem.sigma, 64,
                                  generator=problem.seed)
    for net in problem.networks:
        sm = numeric.sm_exact(net, problem.mixture, (problem.alpha, problem.sigma), problem.t,
                              xt=batch.xt)
        g_sm = _flat_grad(sm.value, net)
        g_dsm = _flat_grad(numeric.dsm_coupled(net, batch, problem.t).value, net)
        err = (g_sm - g_dsm).abs()
        # Rounding is relative to the largest summand: ∇DSM carries the terms −2 h·∇s with
        # |h| ~ √d/σ, while the result is −2(∇log p − s)·∇s. Scale by their size ratio.
        h_rms = float(batch.target.pow(2).sum(-1).mean().sqrt())
        resid_rms = float(sm.per_sample.detach().mean().sqrt())
        scale = max(float(g_sm.abs().max()), 1e-300) * (1.0 + h_rms / max(resid_rms, 1e-300))
        i = int(err.argmax())
        assert float(err[i]) <= RTOL * scale, (
            f"got ∇SM[{i}] = {float(g_sm[i])!r}, expected ∇DSM[{i}] = {float(g_dsm[i])!r}, "
            f"largest error {float(err[i]):.3e} at {i} (allowed {RTOL * scale:.1e}) "
            f"[{problem.schedule!r}, t={problem.t}]")


def _perturbed(net: torch.nn.Module, u: list[torch.Tensor], step: float) -> torch.nn.Module:
    import copy

    out = copy.deepcopy(net)
    with torch.no_grad():
        for p, du in zip(out.parameters(), u, strict=True):
            p.add_(step * du)
    return out


@given(sst.sm_problems(min_networks=1, max_networks=1, max_dim=2))
def test_plain_mc_gradient_of_the_gap_has_mean_zero(problem: sst.SMProblem) -> None:
    net = problem.networks[0]
    g = torch.Generator().manual_seed(problem.seed)
    u = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in net.parameters()]
    h = 1e-5
    per_step = []
    for step in (h, -h):
        model = _perturbed(net, u, step)
        dsm = numeric.dsm_mc(model, problem.mixture, problem.schedule, problem.t, n=512,
                             generator=problem.seed)
        sm = numeric.sm_exact(model, problem.mixture, problem.schedule, problem.t, xt=dsm.xt)
        per_step.append((dsm.per_sample - sm.per_sample).detach())
    deriv = (per_step[0] - per_step[1]) / (2 * h)  # d/dε (DSM − SM)(θ + εu), per sample
    se = float(deriv.std()) / math.sqrt(deriv.numel())
    # central differences: truncation O(h²) and rounding ~ ulp(DSM)/h, both far below Z·se
    slack = 1e-9 * float(per_step[0].abs().mean()) / h
    assert abs(float(deriv.mean())) <= Z * se + slack, (
        f"got a directional derivative of DSM − SM of {float(deriv.mean())!r}, expected 0 "
        f"within {Z} standard errors (se={se!r})")


def test_dsm_gradient_is_unbiased_for_the_sm_gradient_with_a_linear_model() -> None:
    """For s = Ax + b and Gaussian p_0 the SM gradient is known: compare plain-MC DSM to it."""
    mix = numeric.GaussianMixture([1.0], [[0.5, -0.5]], [[[1.0, 0.3], [0.3, 0.5]]])
    a, s = 0.8, 0.6
    model = numeric.LinearScore([[0.2, -0.1], [0.0, -0.4]], [0.1, 0.2])
    cov_t = a * a * mix.covs[0] + s * s * torch.eye(2, dtype=torch.float64)
    m_t = a * mix.means[0]
    prec = torch.linalg.inv(cov_t)
    # SM = tr((P + A) S (P + A)ᵀ) + ‖A m + b‖²: ∇_A = 2(P + A)S + 2(Am + b)mᵀ, ∇_b = 2(Am + b)
    with torch.no_grad():
        r = model.A @ m_t + model.b
        grad_a = 2 * (prec + model.A) @ cov_t + 2 * torch.outer(r, m_t)
        grad_b = 2 * r
    outputs: list[torch.Tensor] = []

    def recording(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        outputs.append(model(x, t))
        return outputs[-1]

    est = numeric.dsm_mc(recording, mix, (a, s), 0.0, n=20000, generator=3)
    # L_i depends on θ only through s_i = A x_i + b: one backward pass gives every ∂L_i/∂s_i,
    # and the per-sample gradients are ∂L_i/∂A = (∂L_i/∂s_i) x_iᵀ, ∂L_i/∂b = ∂L_i/∂s_i.
    (d_out,) = torch.autograd.grad(est.per_sample.sum(), outputs[0], retain_graph=True)
    x = est.xt
    per_grad = torch.cat([(d_out.unsqueeze(-1) * x.unsqueeze(-2)).reshape(x.shape[0], -1),
                          d_out], 1)
    torch.testing.assert_close(per_grad.mean(0), torch.cat([g.reshape(-1) for g in
                               torch.autograd.grad(est.value, [model.A, model.b])]))
    mean, se = per_grad.mean(0), per_grad.std(0) / math.sqrt(x.shape[0])
    expected = torch.cat([grad_a.reshape(-1), grad_b])
    z = ((mean - expected) / se).abs()
    i = int(z.argmax())
    assert float(z[i]) <= Z, (f"got ∇DSM[{i}] = {float(mean[i])!r}, expected ∇SM[{i}] = "
                              f"{float(expected[i])!r}, largest z {float(z[i]):.2f}")
