"""The Yume backend with its DiT split over two processes makes the frames one process makes."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from tests.model.test_backend import chunks, config, picture
from yume_bridge.backends.base import BackendError, StartRequest
from yume_bridge.backends.yume import YumeBackend

SCENE = "A medieval castle on a hill at sunset."


def frames_of(backend: YumeBackend, image: np.ndarray | None, count: int = 2) -> np.ndarray:
    world = backend.open_world(StartRequest(image=image, prompt=SCENE, seed=5))
    try:
        return np.stack([frame for chunk in chunks(world, count) for frame in chunk]).astype(np.int16)
    finally:
        world.close()


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
