"""The Yume backend with its DiT split over two processes: the frames of one process, and clean failures."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch

from tests.model.conftest import config
from tests.model.test_backend import chunks, picture
from yume_bridge.backends.base import BackendError, StartRequest
from yume_bridge.backends.yume import YumeBackend
from yume_bridge.model.loader import LoadOptions, load_dit
from yume_bridge.model.parallel_launch import ParallelLaunch, SequenceParallelRanks

SCENE = "A medieval castle on a hill at sunset."


def frames_of(backend: YumeBackend, image: np.ndarray | None, count: int = 2) -> np.ndarray:
    world = backend.open_world(StartRequest(image=image, prompt=SCENE, seed=5))
    try:
        return np.stack([frame for chunk in chunks(world, count) for frame in chunk]).astype(np.int16)
    finally:
        world.close()


def test_a_rank_that_cannot_load_the_dit_is_named_and_every_rank_released(tiny_folder, tmp_path):
    (tmp_path / "config.json").write_text((tiny_folder / "config.json").read_text("utf-8"), "utf-8")
    (tmp_path / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")  # what rank 1 will read
    ranks = SequenceParallelRanks.start(ParallelLaunch(tmp_path, LoadOptions(device="cpu", dtype=torch.float32), 2))
    dit = load_dit(tiny_folder, LoadOptions(device="cpu", dtype=torch.float32))
    with pytest.raises(RuntimeError, match="rank 1 on cpu"):
        ranks.attach(dit)
    assert dit.sequence_parallel is None and not multiprocessing.active_children()


def test_heads_that_do_not_split_over_the_ranks_are_refused_and_the_spawned_ranks_released(tiny_folder):
    backend = YumeBackend(config(tiny_folder, sequence_parallel=3))  # the tiny DiT has 4 heads
    with pytest.raises(BackendError, match="4 heads do not split over 3 ranks"):
        backend.load(lambda stage, fraction: None)
    assert not multiprocessing.active_children()  # both spawned ranks were told and have exited


@pytest.fixture(scope="module")
def backends(tiny_folder) -> dict[str, YumeBackend]:
    """One in a single process, one with rank 0 here and rank 1 spawned by the backend itself (gloo on CPU)."""
    loaded = {name: YumeBackend(config(tiny_folder, sequence_parallel=ranks))
              for name, ranks in (("single", 1), ("parallel", 2))}
    for backend in loaded.values():
        backend.load(lambda stage, fraction: None)
    yield loaded
    for backend in loaded.values():
        backend.close()


@pytest.mark.parametrize("start", ["image", "text"])
def test_two_ranks_give_the_frames_of_one_process_for_the_same_seed(backends, start):
    image = picture() if start == "image" else None
    parallel, single = frames_of(backends["parallel"], image), frames_of(backends["single"], image)
    assert parallel.shape == single.shape == (58, 64, 128, 3)
    difference = np.abs(parallel - single)
    # fp32 summation order differs between the split and the whole sequence: at most a rounding step apart.
    assert difference.max() <= 1
    assert (difference == 0).mean() > 0.99


def test_closing_the_backend_releases_the_spawned_rank(backends):
    # Runs last in this module: one process holds one process group at a time.
    processes = list(backends["parallel"]._ranks._processes)
    backends["parallel"].close()
    assert processes and not any(process.is_alive() for process in processes)
