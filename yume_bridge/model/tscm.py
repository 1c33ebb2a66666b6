"""TSCM history compression: which history latent is embedded at which rate, and where.

This is the temporal–spatial compression that the released Yume-5B code
implements (model-reference.md §2): the older a history latent, the coarser the
spatial patchify it goes through. Everything here is plain Python over frame
indices and grid sizes, so the schedule, token counts and RoPE positions can be
tested without building a model. ``dit.py`` turns these segments into tokens.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torch

__all__ = [
    "DEFAULT_MAX_HISTORY_LATENTS",
    "MAX_SCHEDULED_HISTORY",
    "REFERENCE_ROPE_POSITIONS",
    "Rate",
    "Segment",
    "bounded_history_indices",
    "compression_schedule",
    "history_token_count",
    "rope_frame_count",
    "segment_grid",
    "token_positions",
]

MAX_SCHEDULED_HISTORY = 1366
"""The largest history length with a branch in the reference schedule (§2.3)."""

REFERENCE_ROPE_POSITIONS = 1024
"""Size of the reference's temporal RoPE table; positions above 1023 were never seen (§2.6)."""

DEFAULT_MAX_HISTORY_LATENTS = REFERENCE_ROPE_POSITIONS - 8
"""1016: with 8 predicted latents the newest predicted frame sits at temporal position 1023."""


class Rate(enum.Enum):
    """Spatial compression of one history segment; value = total patch side in latent pixels / 2."""

    FULL = 1
    X2 = 2
    X4 = 4
    X8 = 8
    X16 = 16
    X128 = 128

    def patch_side(self, base_patch: int = 2) -> int:
        """Side of the square latent area one token covers (2 for FULL, 256 for X128)."""
        return base_patch * self.value


@dataclass(frozen=True)
class Segment:
    """History latents ``start:stop`` (0 = oldest) embedded together at one rate."""

    rate: Rate
    start: int
    stop: int

    @property
    def frames(self) -> int:
        return self.stop - self.start


def compression_schedule(num_history: int) -> tuple[Segment, ...]:
    """The reference's segments for ``num_history`` clean latents, oldest first (§2.3).

    For N ≤ 2 the newest latent is embedded a second time at 2x, so the
    history always spans at least 3 RoPE frames.
    """
    n = num_history
    if n < 1:
        raise ValueError(f"history must hold at least one latent, got {n}")
    if n > MAX_SCHEDULED_HISTORY:
        raise ValueError(f"history of {n} latents exceeds the reference schedule ({MAX_SCHEDULED_HISTORY})")
    if n <= 6:
        middle = Segment(Rate.X2, 1, n - 1) if n >= 3 else Segment(Rate.X2, n - 1, n)
        return Segment(Rate.FULL, 0, 1), middle, Segment(Rate.FULL, n - 1, n)
    # Newest first: 3 full, 2 at 2x, 16 at 4x, 64 at 8x, 256 at 16x, the rest at the oldest rate.
    tail = (
        (Rate.FULL, 3),
        (Rate.X2, 2),
        (Rate.X4, 16),
        (Rate.X8, 64),
        (Rate.X16, 256),
        (Rate.X128, MAX_SCHEDULED_HISTORY),
    )
    if n <= 22:
        oldest_rate, first_rate, tiers = Rate.X4, Rate.FULL, 2
    elif n <= 86:
        oldest_rate, first_rate, tiers = Rate.X8, Rate.FULL, 3
    elif n <= 342:
        oldest_rate, first_rate, tiers = Rate.X16, Rate.X2, 4
    else:
        oldest_rate, first_rate, tiers = Rate.X128, Rate.X2, 5
    segments = []
    stop = n
    for rate, count in tail[:tiers]:
        segments.append(Segment(rate, stop - count, stop))
        stop -= count
    segments.append(Segment(oldest_rate, 1, stop))
    segments.append(Segment(first_rate, 0, 1))
    return tuple(reversed(segments))


def segment_grid(rate: Rate, latent_height: int, latent_width: int, base_patch: int = 2) -> tuple[int, int]:
    """Tokens (rows, cols) of one latent frame at ``rate``, after bottom/right zero padding.

    The 128x rate is a 4×4 latent-space conv followed by the 16x patchify, each
    with its own padding (§2.3), hence the two-stage ceil.
    """
    if rate is Rate.X128:
        quarter_h, quarter_w = -(-latent_height // 4), -(-latent_width // 4)
        side = Rate.X16.patch_side(base_patch)
        return -(-quarter_h // side), -(-quarter_w // side)
    side = rate.patch_side(base_patch)
    return -(-latent_height // side), -(-latent_width // side)


def history_token_count(num_history: int, latent_height: int, latent_width: int) -> int:
    """H(N): tokens the compressed history adds to the sequence (§2.3 tables)."""
    total = 0
    for segment in compression_schedule(num_history):
        rows, cols = segment_grid(segment.rate, latent_height, latent_width)
        total += segment.frames * rows * cols
    return total


def rope_frame_count(num_history: int) -> int:
    """Temporal RoPE positions the history occupies (N, or 3 when N ≤ 2)."""
    return sum(segment.frames for segment in compression_schedule(num_history))


def token_positions(grids: list[tuple[int, int, int]]) -> torch.Tensor:
    """RoPE positions (t, h, w) of every token of consecutive (frames, rows, cols) grids.

    Time is a running counter over the grids' frames; height and width are the
    grid's own indices, not rescaled to the full-resolution grid (§2.6).
    Returns int64 [L, 3] in token order (each grid flattened (f, h, w) row-major).
    """
    parts = []
    counter = 0
    for frames, rows, cols in grids:
        t, h, w = torch.meshgrid(
            torch.arange(counter, counter + frames),
            torch.arange(rows),
            torch.arange(cols),
            indexing="ij",
        )
        parts.append(torch.stack((t, h, w), dim=-1).reshape(-1, 3))  # [f*h*w, 3]
        counter += frames
    if not parts:
        return torch.zeros(0, 3, dtype=torch.int64)
    return torch.cat(parts)


def bounded_history_indices(num_history: int, max_history: int) -> list[int] | None:
    """Which latents to keep when the history outgrows ``max_history``; None = keep all.

    Policy (docs/model.md): keep history latent 0 (the start image, or the first
    generated latent) as the anchor the reference always keeps, and the newest
    ``max_history − 1`` latents; drop the oldest others. Those sit at the 128x
    rate (one token each) long before they are dropped, and the running
    temporal counter re-bases automatically because positions count kept frames.
    """
    if not 2 <= max_history <= MAX_SCHEDULED_HISTORY:
        raise ValueError(f"max_history must be in 2..{MAX_SCHEDULED_HISTORY}, got {max_history}")
    if num_history <= max_history:
        return None
    return [0, *range(num_history - (max_history - 1), num_history)]
