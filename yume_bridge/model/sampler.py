"""Euler flow-matching sampler with the shift applied in σ space (model-reference.md §5.1–5.2).

x_σ = (1 − σ)·x0 + σ·ε and the model predicts the velocity v ≈ ε − x0, so one
Euler step is x ← x + (σ_next − σ)·v; the last step lands on σ = 0. There is no
classifier-free guidance: one model call per step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["DEFAULT_SHIFT", "DEFAULT_STEPS", "NUM_TRAIN_TIMESTEPS", "euler_sample", "sigma_schedule"]

DEFAULT_STEPS = 4
DEFAULT_SHIFT = 7.0
NUM_TRAIN_TIMESTEPS = 1000


def sigma_schedule(steps: int = DEFAULT_STEPS, shift: float = DEFAULT_SHIFT) -> list[float]:
    """σ_0..σ_steps: σ_i = s·u/(1 + (s−1)·u), u = linspace(1, 0, steps+1)[:steps], then a final 0.

    4 steps, shift 7 → 1.0, 0.954545, 0.875, 0.7, 0.0.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not shift > 0:
        raise ValueError(f"shift must be > 0, got {shift}")
    sigmas = []
    for i in range(steps):
        u = 1.0 - i / steps
        sigmas.append(shift * u / (1.0 + (shift - 1.0) * u))
    return [*sigmas, 0.0]


def euler_sample(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    noise: torch.Tensor,
    sigmas: list[float],
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Integrate from ``noise`` (σ = sigmas[0]) to σ = 0; ``velocity(x, t)`` gets t = σ·1000 as [B].

    The state stays fp32 whatever dtype the model computes in.
    """
    x = noise.float()
    batch = x.shape[0]
    for i, (sigma, sigma_next) in enumerate(zip(sigmas[:-1], sigmas[1:], strict=True)):
        t = torch.full((batch,), sigma * NUM_TRAIN_TIMESTEPS, dtype=torch.float64, device=x.device)
        x = x + (sigma_next - sigma) * velocity(x, t).float()
        if on_step is not None:
            on_step(i)
    return x
