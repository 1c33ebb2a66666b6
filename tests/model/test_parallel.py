"""Sequence parallelism: two gloo processes give what one process gives."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from tests.model.dit_reference_outputs import (
    HISTORY_LENGTHS,
    LATENT_SHAPE,
    TIMESTEP,
    reference_inputs,
    reference_model,
    reference_output,
)
from tests.model.test_dit_against_saved_outputs import relative_error
from yume_bridge.model.dit import DitOptions
from yume_bridge.model.loader import LoadOptions, load_dit
from yume_bridge.model.parallel import (
    SequenceShard,
    gather_sequence,
    sequence_parallel_forward,
    shard_sequence,
    ulysses_attention,
)
from yume_bridge.model.parallel_launch import ParallelLaunch, SequenceParallelRanks, follow_under_torchrun

WORLD_SIZE = 2
torch_dynamo = pytest.importorskip("torch._dynamo")


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


def _ranks(rank: int, world_size: int, init_file: str, out_dir: str, weights: str, port: int) -> None:
    """Every check that needs a process group, in one spawn (starting torch in a process is slow)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        _check_ulysses_attention(rank, world_size)
        _save_sequence_parallel_dit_outputs(rank, Path(out_dir))
    finally:
        dist.destroy_process_group()
    # The same processes again, now as torchrun would have started them.
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    launch = ParallelLaunch(Path(weights), LoadOptions(device="cpu", dtype=torch.float32), world_size)
    if rank == 0:
        torch.save(_run_rank_zero_under_torchrun(launch), Path(out_dir) / "torchrun.pt")
    else:
        torch.save(follow_under_torchrun(launch), Path(out_dir) / "torchrun_steps.pt")


def _run_rank_zero_under_torchrun(launch: ParallelLaunch) -> dict[str, list[torch.Tensor]]:
    """Two chunks (a text start, then one with history), two steps each: split, then in this process alone."""
    ranks = SequenceParallelRanks.start(launch)
    dit = load_dit(launch.folder, launch.options)
    ranks.attach(dit)
    generator = torch.Generator().manual_seed(3)
    text = torch.randn(1, 7, dit.args.text_dim, generator=generator)
    history = torch.randn(1, dit.args.in_dim, 5, 4, 8, generator=generator)
    noisy = torch.randn(1, dit.args.in_dim, 2, 4, 8, generator=generator)
    runs: dict[str, list[torch.Tensor]] = {"split": [], "alone": []}
    with torch.inference_mode():
        wrong = torch.zeros(1, dit.args.in_dim, 3, 4, 8)  # refused before the followers hear of it
        with pytest.raises(ValueError, match="as prepared"):
            dit(wrong, torch.tensor([900.0]), dit.prepare(text, (2, 4, 8)))
        for name in runs:
            for chunk_history in (None, history):
                inputs = dit.prepare(text, (2, 4, 8), chunk_history)
                runs[name] += [dit(noisy, torch.tensor([t]), inputs) for t in (900.0, 500.0)]
            if name == "split":
                ranks.close()
    return runs


def _save_sequence_parallel_dit_outputs(rank: int, out_dir: Path) -> None:
    model = reference_model()
    for name, options in (("eager", DitOptions()), ("compiled", DitOptions(compile=True, compile_backend="eager"))):
        # The "eager" compile backend runs dynamo's tracing, guards and recompilation without generating code.
        torch_dynamo.reset()
        torch_dynamo.utils.counters.clear()
        model.configure(options)
        outputs: dict = {}
        with torch.inference_mode():
            for history in HISTORY_LENGTHS:
                text, clean, noisy = reference_inputs(history)
                inputs = model.prepare(text, LATENT_SHAPE, clean)
                outputs[history] = sequence_parallel_forward(model, noisy, torch.tensor([TIMESTEP]), inputs)
                outputs.setdefault("graphs", []).append(torch_dynamo.utils.counters["stats"]["unique_graphs"])
        torch.save(outputs, out_dir / f"rank{rank}_{name}.pt")
    model.configure(DitOptions())


def _check_ulysses_attention(rank: int, world_size: int) -> None:
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def spawned(tmp_path_factory, tiny_folder) -> Path:
    """Two processes for the whole module (gloo); the folder where they left their results."""
    folder = tmp_path_factory.mktemp("parallel")
    mp.spawn(_ranks, args=(WORLD_SIZE, str(folder / "rendezvous"), str(folder), str(tiny_folder), _free_port()),
             nprocs=WORLD_SIZE)
    return folder


@pytest.fixture(scope="module")
def two_ranks(spawned) -> list[dict[int, torch.Tensor]]:
    """Each rank's sequence-parallel DiT outputs by history length."""
    return [torch.load(spawned / f"rank{rank}_eager.pt") for rank in range(WORLD_SIZE)]


@pytest.fixture(scope="module")
def two_ranks_compiled(spawned) -> list[dict]:
    """The same with compiled blocks, and how many graphs dynamo made on each rank."""
    return [torch.load(spawned / f"rank{rank}_compiled.pt") for rank in range(WORLD_SIZE)]


def test_ulysses_attention_over_two_processes_equals_attention_in_one(two_ranks):
    assert len(two_ranks) == WORLD_SIZE  # the checks ran inside the group; a failure there fails the spawn


@pytest.fixture(scope="module")
def model():
    return reference_model()


@pytest.mark.parametrize("history", HISTORY_LENGTHS, ids=lambda n: f"history{n}")
def test_compiled_blocks_split_over_two_processes_equal_the_single_process_dit(two_ranks_compiled, model,
                                                                                 history):
    expected = reference_output(model, history)
    for outputs in two_ranks_compiled:
        assert relative_error(outputs[history], expected) <= 1e-5


def test_compiled_blocks_under_sequence_parallelism_are_not_traced_again_for_every_history_length(
        two_ranks_compiled):
    # Graphs made so far after each history length: a text start, then the first chunk with history, and no new
    # ones after that. The all-to-all between a block's graphs is a graph break whose changing shard dynamo does
    # not see; a trace per length would show as a growing count.
    for graphs in (outputs["graphs"] for outputs in two_ranks_compiled):
        assert len(graphs) == len(HISTORY_LENGTHS) and len(set(graphs[1:])) == 1, graphs


@pytest.mark.parametrize("history", HISTORY_LENGTHS, ids=lambda n: f"history{n}")
def test_the_sequence_parallel_dit_equals_the_single_process_dit_on_every_rank(two_ranks, model, history):
    # History 0 is a text start (no history tokens); the others cover every TSCM compression branch.
    expected = reference_output(model, history)
    for outputs in two_ranks:
        assert outputs[history].shape == expected.shape
        assert relative_error(outputs[history], expected) <= 1e-5


def test_processes_started_by_torchrun_follow_rank_zero_through_two_chunks(spawned):
    runs = torch.load(spawned / "torchrun.pt")
    assert len(runs["split"]) == len(runs["alone"]) == 4
    for split, alone in zip(runs["split"], runs["alone"], strict=True):
        assert relative_error(split, alone) <= 1e-5
    # The follower ran every step (not the refused one), then was released.
    assert torch.load(spawned / "torchrun_steps.pt") == 4
