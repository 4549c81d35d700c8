"""What every data distribution p_0 shares: immutability, dtype/device, the kernel check and
sampling of x_t = α x0 + σ ε from :meth:`sample`."""

from __future__ import annotations

from typing import Any

import torch

from ._validate import as_generator, kernel_scalars

__all__ = ["FrozenDistribution"]

Tensor = torch.Tensor


class FrozenDistribution:
    """Base of :class:`GaussianMixture` and :class:`EmpiricalDistribution` (immutable once built;
    subclasses set ``_dtype`` and ``_device`` with ``object.__setattr__`` and define ``sample``)."""

    _dtype: torch.dtype
    _device: torch.device

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {name!r}")

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def device(self) -> torch.device:
        return self._device

    def sample(self, n: int, *, generator: torch.Generator | int) -> Tensor:
        raise NotImplementedError

    def sample_xt(self, n: int, alpha: Any, sigma: Any, *,
                  generator: torch.Generator | int) -> tuple[Tensor, Tensor, Tensor]:
        """(x0, ε, x_t) with x0 ~ p_0, ε ~ N(0, I) and x_t = α x0 + σ ε, each [n, d]."""
        a, s = self._kernel(alpha, sigma)
        g = as_generator(generator, self._device)
        x0 = self.sample(n, generator=g)
        eps = torch.randn(x0.shape, generator=g, dtype=self._dtype, device=self._device)
        return x0, eps, a * x0 + s * eps

    def _kernel(self, alpha: Any, sigma: Any) -> tuple[Tensor, Tensor]:
        return kernel_scalars(alpha, sigma, dtype=self._dtype, device=self._device)
