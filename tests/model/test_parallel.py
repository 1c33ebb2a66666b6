"""Sequence parallelism: two gloo processes give what one process gives."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from yume_bridge.model.parallel import SequenceShard, gather_sequence, shard_sequence, ulysses_attention


def test_shards_cover_the_padded_sequence_once():
    shards = [SequenceShard(length=10, world_size=4, rank=r) for r in range(4)]
    assert [(s.start, s.stop) for s in shards] == [(0, 3), (3, 6), (6, 9), (9, 12)]
    assert all(s.padded_length == 12 for s in shards)


def test_segment_lengths_split_history_and_predicted_tokens_per_shard():
    # 5 history tokens, 6 predicted, 2 ranks: [0, 6) and [6, 12); rank 1's padding joins the predicted segment.
    assert SequenceShard(11, 2, 0).segment_lengths((5, 6)) == (5, 1)
    assert SequenceShard(11, 2, 1).segment_lengths((5, 6)) == (0, 6)
    assert SequenceShard(11, 3, 2).segment_lengths((5, 6)) == (0, 4)


def test_a_rank_outside_the_group_is_refused():
    with pytest.raises(ValueError, match="outside a group of 2"):
        SequenceShard(8, 2, 2)


def _ranks(rank: int, world_size: int, init_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        generator = torch.Generator().manual_seed(0)
        for length, heads in ((12, 4), (11, 6), (5, 2)):  # even, padded, and shorter than heads x ranks
            q, k, v = (torch.randn(1, length, heads, 8, generator=generator) for _ in range(3))
            expected = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                                      v.transpose(1, 2)).transpose(1, 2)
            shard = SequenceShard(length, world_size, rank)
            local = ulysses_attention(*(shard_sequence(t, shard) for t in (q, k, v)), shard)
            torch.testing.assert_close(gather_sequence(local, shard), expected, rtol=0, atol=1e-6)
        with pytest.raises(ValueError, match="do not split over"):
            shard = SequenceShard(4, world_size, rank)
            ulysses_attention(*(torch.zeros(1, 2, 3, 8) for _ in range(3)), shard)
    finally:
        dist.destroy_process_group()


def test_ulysses_attention_over_two_processes_equals_attention_in_one(tmp_path):
    mp.spawn(_ranks, args=(2, str(tmp_path / "rendezvous")), nprocs=2)
