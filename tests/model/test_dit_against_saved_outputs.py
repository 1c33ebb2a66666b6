"""The DiT still gives the outputs it gave before any speed work (saved once, fp32, every TSCM branch)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from tests.model.dit_reference_outputs import FIXTURE, HISTORY_LENGTHS, reference_model, reference_output

TOLERANCE = 1e-5
"""Relative error ‖now − saved‖ / ‖saved‖ allowed: summation order may change, the maths may not."""


def relative_error(now: torch.Tensor, saved: torch.Tensor) -> float:
    return ((now.double() - saved.double()).norm() / saved.double().norm()).item()


@pytest.fixture(scope="module")
def saved() -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURE))


@pytest.fixture(scope="module")
def model():
    return reference_model()


@pytest.mark.parametrize("history", HISTORY_LENGTHS)
def test_the_dit_output_equals_the_saved_output_for_every_history_branch(model, saved, history):
    now = reference_output(model, history)
    assert now.shape == saved[f"history_{history}"].shape
    assert relative_error(now, saved[f"history_{history}"]) <= TOLERANCE
