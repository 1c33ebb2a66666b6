"""Euler flow matching with the σ-space shift (model-reference.md §5.1–5.2)."""

from __future__ import annotations

import pytest
import torch

from yume_bridge.model.sampler import euler_sample, sigma_schedule


def test_four_steps_at_shift_7_give_the_reference_sigmas():
    assert sigma_schedule(4, 7.0) == pytest.approx([1.0, 0.954545, 0.875, 0.7, 0.0], abs=1e-6)


def test_four_steps_at_shift_5_give_the_reference_sigmas():
    assert sigma_schedule(4, 5.0) == pytest.approx([1.0, 0.9375, 0.833333, 0.625, 0.0], abs=1e-6)


def test_defaults_are_four_steps_at_shift_7():
    assert sigma_schedule() == sigma_schedule(4, 7.0)


def test_model_sees_sigma_times_1000_and_one_call_per_step():
    seen = []

    def velocity(x, t):
        seen.append(t.tolist())
        return torch.zeros_like(x)

    euler_sample(velocity, torch.zeros(2, 3), sigma_schedule(4, 7.0))
    assert [len(t) for t in seen] == [2, 2, 2, 2]
    assert [t[0] for t in seen] == pytest.approx([1000.0, 954.5454545, 875.0, 700.0])


def test_with_the_exact_velocity_euler_lands_on_the_clean_sample():
    # On the straight path x_σ = (1−σ)·x0 + σ·ε the velocity ε − x0 is constant, so Euler is exact.
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(4, 5, generator=generator), torch.randn(4, 5, generator=generator)
    result = euler_sample(lambda x, t: noise - x0, noise, sigma_schedule(4, 7.0))
    torch.testing.assert_close(result, x0)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="steps"):
        sigma_schedule(0, 7.0)
    with pytest.raises(ValueError, match="shift"):
        sigma_schedule(4, 0.0)
