"""Fixtures for the model tests: one tiny random weights folder in the published formats, loaded once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from yume_bridge.backends.yume import YumeBackend, YumeBackendConfig  # noqa: E402
from yume_bridge.model.loader import LoadOptions, load_models  # noqa: E402
from yume_bridge.model.testing import write_tiny_weights  # noqa: E402

CPU_FP32 = LoadOptions(device="cpu", dtype=torch.float32, text_dtype=torch.float32)

# Tiny models gain nothing from intra-op threads, and OpenMP's spin-waiting makes
# them many times slower when the cores are shared with other work (measured 9×).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """Read-only: copy it (``folder_copy``) before damaging it."""
    return write_tiny_weights(tmp_path_factory.mktemp("weights") / "Yume-5B-720P")


@pytest.fixture
def folder_copy(tiny_folder, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_folder, tmp_path / "copy"))


@pytest.fixture(scope="session")
def tiny_models(tiny_folder):
    return load_models(tiny_folder, CPU_FP32)


def config(folder, resolution="64x128", **overrides) -> YumeBackendConfig:
    """The Yume backend on the tiny weights, on the CPU in fp32; ``overrides`` change any field."""
    values = dict(weights=folder, resolution=resolution, device="cpu", dtype="float32", text_dtype="float32",
                  allow_any_resolution=True)
    return YumeBackendConfig(**(values | overrides))


@pytest.fixture(scope="module")
def backend(tiny_folder):
    """The tiny Yume backend, loaded once per test module."""
    backend = YumeBackend(config(tiny_folder))
    backend.load(lambda stage, fraction: None)
    yield backend
    backend.close()
