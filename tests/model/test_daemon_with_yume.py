"""The daemon serving a whole client session over loopback with the tiny random Yume model."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from click.testing import CliRunner

from tests.conftest import jpeg_bytes
from yume_bridge.backends.yume import YumeBackend, YumeBackendConfig
from yume_bridge.cli import main
from yume_bridge.config import BridgeConfig, NetworkConfig
from yume_bridge.tools.client import ClientOptions, parse_script, run_client


@pytest.mark.asyncio
@pytest.mark.parametrize("ranks", [1, 2], ids=["dit_in_one_process", "dit_split_over_two_processes"])
async def test_a_client_walks_a_tiny_yume_world_over_loopback(tiny_folder, ranks):
    from yume_bridge.daemon.app import run_bridge

    backend = YumeBackend(YumeBackendConfig(weights=tiny_folder, resolution="128x224", device="cpu",
                                            dtype="float32", text_dtype="float32", allow_any_resolution=True,
                                            sequence_parallel=ranks))
    stop = asyncio.Event()
    started = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_bridge(BridgeConfig(network=NetworkConfig(port=0)), stop=stop, started=started,
                                          backend=backend))
    _, address = await asyncio.wait_for(started, 120)
    frames, enough = [], asyncio.Event()

    def on_frame(event) -> None:  # a whole chunk, however long this machine takes to load and make it
        frames.append(event)
        if len(frames) >= 29:
            enough.set()

    summary = await run_client(ClientOptions(port=address[1], image=jpeg_bytes(), prompt="a harbour at dusk",
                                             script=parse_script("W:120s"), tail_s=0.0,
                                             events=((0.5, "a dragon circles the tower"),)),
                               on_frame=on_frame, stop=enough)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert summary.connected and not summary.errors
    assert (summary.width, summary.height) == (224, 128)
    assert summary.frames_complete >= 29 and summary.events_acknowledged == [1]
    assert "generating" in summary.status_states


def test_serve_refuses_a_broken_weights_folder_with_one_line_per_problem(folder_copy):
    (folder_copy / "Wan2.2_VAE.pth").unlink()
    result = CliRunner().invoke(main, ["serve", "--backend", "yume", "--weights", str(folder_copy)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "Wan2.2_VAE.pth" in result.output


def test_check_weights_passes_a_good_folder_and_fails_a_truncated_one(folder_copy, tmp_path):
    assert CliRunner().invoke(main, ["check-weights", str(folder_copy)]).exit_code == 0
    broken = tmp_path / "broken"
    shutil.copytree(folder_copy, broken)
    dit = broken / "diffusion_pytorch_model.safetensors"
    dit.write_bytes(dit.read_bytes()[:-100])
    result = CliRunner().invoke(main, ["check-weights", str(broken)])
    assert result.exit_code == 1 and "diffusion_pytorch_model.safetensors" in result.output
