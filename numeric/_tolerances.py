"""The one tolerance table, keyed by (dtype, device type), used by every numeric check."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._errors import invalid

__all__ = ["TOLERANCES", "Tolerance", "tolerance"]


@dataclass(frozen=True)
class Tolerance:
    """Relative and absolute tolerance for one (dtype, device) pair."""

    rtol: float
    atol: float


# float64 rounding is ~1e-16; sums over a few thousand terms and log-sum-exp lose ~2 digits.
# float32 (~6e-8) on GPU reorders reductions (TF32 is off in our code paths), hence the margin.
TOLERANCES: dict[tuple[torch.dtype, str], Tolerance] = {
    (torch.float64, "cpu"): Tolerance(rtol=1e-10, atol=1e-12),
    (torch.float64, "cuda"): Tolerance(rtol=1e-10, atol=1e-12),
    (torch.float32, "cpu"): Tolerance(rtol=2e-4, atol=1e-5),
    (torch.float32, "cuda"): Tolerance(rtol=5e-4, atol=1e-5),
}


def tolerance(dtype: torch.dtype, device: str | torch.device = "cpu") -> Tolerance:
    """The tolerance for comparing results computed in ``dtype`` on ``device``."""
    from ._validate import resolve_device, resolve_dtype

    dtype = resolve_dtype(dtype)
    kind = resolve_device(device, available=False).type
    try:
        return TOLERANCES[(dtype, kind)]
    except KeyError:
        raise invalid("dtype", f"no tolerance for {dtype} on {kind}",
                      f"use one of {sorted({str(k[0]) for k in TOLERANCES})}") from None
