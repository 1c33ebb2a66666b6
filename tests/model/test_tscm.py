"""The TSCM schedule, token counts and RoPE positions equal the released code's (model-reference.md §2)."""

from __future__ import annotations

import pytest
import torch

from yume_bridge.model.tscm import (
    DEFAULT_MAX_HISTORY_LATENTS,
    MAX_SCHEDULED_HISTORY,
    REFERENCE_ROPE_POSITIONS,
    Rate,
    Segment,
    bounded_history_indices,
    compression_schedule,
    history_token_count,
    rope_frame_count,
    segment_grid,
    token_positions,
)

LATENT_704 = (44, 80)
LATENT_544 = (34, 60)


@pytest.mark.parametrize(
    ("n", "tokens_704", "tokens_544"),
    [
        (1, 1980, 1155),
        (2, 1980, 1155),
        (5, 2420, 1425),
        (8, 4080, 2390),
        (13, 4380, 2590),
        (21, 4860, 2910),
        (87, 5226, 3347),
        (342, 6756, 4367),
        (1013, 7427, 5038),
    ],
)
def test_history_token_count_matches_the_fact_sheet_table(n, tokens_704, tokens_544):
    assert history_token_count(n, *LATENT_704) == tokens_704
    assert history_token_count(n, *LATENT_544) == tokens_544


def test_history_token_count_grows_by_one_8x_frame_per_latent_from_22_to_86():
    for n in range(22, 87):
        assert history_token_count(n, *LATENT_704) == 4920 + 15 * (n - 22)
        assert history_token_count(n, *LATENT_544) == 2950 + 12 * (n - 22)
    assert history_token_count(86, *LATENT_704) == 5880


@pytest.mark.parametrize(
    ("rate", "grid_704", "grid_544"),
    [
        (Rate.FULL, (22, 40), (17, 30)),
        (Rate.X2, (11, 20), (9, 15)),
        (Rate.X4, (6, 10), (5, 8)),
        (Rate.X8, (3, 5), (3, 4)),
        (Rate.X16, (2, 3), (2, 2)),
        (Rate.X128, (1, 1), (1, 1)),
    ],
)
def test_tokens_per_frame_include_the_bottom_right_padding(rate, grid_704, grid_544):
    assert segment_grid(rate, *LATENT_704) == grid_704
    assert segment_grid(rate, *LATENT_544) == grid_544


def test_one_latent_is_embedded_three_times_full_2x_full():
    assert compression_schedule(1) == (Segment(Rate.FULL, 0, 1), Segment(Rate.X2, 0, 1), Segment(Rate.FULL, 0, 1))
    assert rope_frame_count(1) == 3


def test_two_latents_embed_the_newest_twice():
    assert compression_schedule(2) == (Segment(Rate.FULL, 0, 1), Segment(Rate.X2, 1, 2), Segment(Rate.FULL, 1, 2))
    assert rope_frame_count(2) == 3


@pytest.mark.parametrize("n", [3, 5, 6, 7, 8, 13, 21, 22, 23, 86, 87, 342, 343, 1013, 1366])
def test_from_three_latents_every_latent_is_embedded_once_oldest_first(n):
    segments = compression_schedule(n)
    covered = [i for segment in segments for i in range(segment.start, segment.stop)]
    assert covered == list(range(n))
    assert rope_frame_count(n) == n


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (13, [(Rate.FULL, 1), (Rate.X4, 7), (Rate.X2, 2), (Rate.FULL, 3)]),
        (30, [(Rate.FULL, 1), (Rate.X8, 8), (Rate.X4, 16), (Rate.X2, 2), (Rate.FULL, 3)]),
        (100, [(Rate.X2, 1), (Rate.X16, 14), (Rate.X8, 64), (Rate.X4, 16), (Rate.X2, 2), (Rate.FULL, 3)]),
        (400, [(Rate.X2, 1), (Rate.X128, 58), (Rate.X16, 256), (Rate.X8, 64), (Rate.X4, 16), (Rate.X2, 2),
               (Rate.FULL, 3)]),
    ],
)
def test_older_latents_get_coarser_rates_in_the_reference_tiers(n, expected):
    assert [(s.rate, s.frames) for s in compression_schedule(n)] == expected


def test_history_beyond_the_reference_schedule_is_refused():
    assert compression_schedule(MAX_SCHEDULED_HISTORY)
    with pytest.raises(ValueError, match="1366"):
        compression_schedule(MAX_SCHEDULED_HISTORY + 1)


def test_temporal_positions_count_compressed_frames_and_spatial_positions_are_not_rescaled():
    grids = [(s.frames, *segment_grid(s.rate, *LATENT_704)) for s in compression_schedule(13)]
    positions = token_positions([*grids, (8, 22, 40)])
    assert positions.shape == (history_token_count(13, *LATENT_704) + 8 * 880, 3)
    # Frame 0 (full): t = 0, h 0..21, w 0..39.
    first = positions[:880]
    assert first[:, 0].unique().tolist() == [0]
    assert first[:, 1].max() == 21 and first[:, 2].max() == 39
    # Frames 1..7 at 4x: t = 1..7, coarse grid indices 0..5 × 0..9 (not 0..21 × 0..39).
    coarse = positions[880 : 880 + 7 * 60]
    assert coarse[:, 0].unique().tolist() == list(range(1, 8))
    assert coarse[:, 1].unique().tolist() == list(range(6))
    assert coarse[:, 2].unique().tolist() == list(range(10))
    # Predicted frames follow the history: t = 13..20, full grid.
    predicted = positions[-8 * 880 :]
    assert predicted[:, 0].unique().tolist() == list(range(13, 21))
    assert predicted[:, 1].max() == 21 and predicted[:, 2].max() == 39


def test_tokens_within_a_segment_are_ordered_frame_row_column():
    positions = token_positions([(2, 2, 3)])
    expected = [[t, h, w] for t in range(2) for h in range(2) for w in range(3)]
    assert positions.tolist() == expected


def test_with_one_history_latent_predicted_frames_start_at_position_three():
    grids = [(s.frames, *segment_grid(s.rate, 4, 8)) for s in compression_schedule(1)]
    positions = token_positions([*grids, (8, 2, 4)])
    assert positions[-8 * 2 * 4 :, 0].unique().tolist() == list(range(3, 11))


def test_bounded_history_keeps_the_first_latent_and_the_newest():
    assert bounded_history_indices(20, 24) is None
    assert bounded_history_indices(29, 24) == [0, *range(6, 29)]


def _simulate(first: int, chunks: int, latent: tuple[int, int]) -> tuple[int, int, int]:
    """Run the history bookkeeping of ``chunks`` chunks; the largest token count, RoPE position and N seen."""
    n, largest_tokens, largest_position, largest_n = first, 0, 0, 0
    for _ in range(chunks):
        if n:
            largest_tokens = max(largest_tokens, history_token_count(n, *latent) + 8 * latent[0] * latent[1] // 4)
            largest_position = max(largest_position, rope_frame_count(n) + 8 - 1)
        else:
            largest_position = max(largest_position, 7)
        largest_n = max(largest_n, n)
        n += 8
        keep = bounded_history_indices(n, DEFAULT_MAX_HISTORY_LATENTS)
        n = n if keep is None else len(keep)
    return largest_tokens, largest_position, largest_n


@pytest.mark.parametrize("first", [5, 0], ids=["image start", "text start"])
def test_a_thousand_chunk_session_keeps_tokens_and_rope_positions_bounded(first):
    tokens, position, n = _simulate(first, 1000, LATENT_704)
    assert n == DEFAULT_MAX_HISTORY_LATENTS
    assert position == REFERENCE_ROPE_POSITIONS - 1
    assert tokens == history_token_count(DEFAULT_MAX_HISTORY_LATENTS, *LATENT_704) + 7040
    assert tokens < 14_500


def test_positions_of_a_full_history_stay_inside_the_reference_rope_table():
    n = DEFAULT_MAX_HISTORY_LATENTS
    grids = [(s.frames, *segment_grid(s.rate, *LATENT_544)) for s in compression_schedule(n)]
    positions = token_positions([*grids, (8, 17, 30)])
    assert positions[:, 0].max().item() == REFERENCE_ROPE_POSITIONS - 1
    assert torch.all(positions >= 0)
