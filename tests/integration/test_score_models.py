"""score_models: ``ScoreModel.loss_fn`` (``score_models.dsm.denoising_score_matching``), its draws
of the noise and then t intercepted by the guard (``numeric.check_training_step``).

The network outputs σ·score, so the loss ‖z + σŝ‖² summed over coordinates is σ²‖ŝ − h‖²:
λ = σ² ("eps", scale 1), on the VP and VE SDEs (Song et al. 2021). t is drawn in float32 whatever
the data's dtype, so α and σ are float32 values; the guard measures them per sample.
"""

from __future__ import annotations

import math
import types

import adapt_score_models as adapt
import pytest
import torch
from _verdict import Record, check_step

pytestmark = pytest.mark.integration

DIM = 3
N = 16


@pytest.mark.parametrize(("sde", "dtype"), [("vp", torch.float64), ("ve", torch.float64),
                                            ("vp", torch.float32)],
                         ids=["vp-float64", "ve-float64", "vp-float32"])
def test_loss_fn_is_score_matching_with_sigma_squared(
        score_models: types.ModuleType, record_property: Record, sde: str,
        dtype: torch.dtype) -> None:
    sm = adapt.score_model(sde, DIM, dtype)
    report = check_step(record_property,
                        f"score_models ScoreModel(sde={sde!r}).loss_fn {str(dtype)[6:]}",
                        adapt.training_step(sm), adapt.to_score(sm),
                        models=adapt.nets(4, DIM, dtype), dim=DIM, n_samples=N, dtype=dtype,
                        expected_weighting="eps")
    assert report.ok and report.matched == "eps", report.summary()
    assert report.scale is not None and math.isclose(report.scale, 1.0, rel_tol=1e-4), (
        report.summary())


def test_a_score_map_without_sigma_is_caught(score_models: types.ModuleType,
                                             record_property: Record) -> None:
    # The bug: the sampler takes the network's output as the score, forgetting that
    # score_models' networks output σ·score (ScoreModel.score divides by σ(t)).
    sm = adapt.score_model("vp", DIM)

    def raw_output(model: object, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model(t, xt)  # type: ignore[operator]

    report = check_step(record_property, "score_models planted bug: output read as the score",
                        adapt.training_step(sm), raw_output, models=adapt.nets(4, DIM),
                        dim=DIM, n_samples=N)
    assert not report.ok and report.residual > 1e-3, report.summary()
