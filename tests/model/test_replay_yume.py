"""A session on the tiny random Yume model, recorded through the daemon and replayed offline: the same latents."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import jpeg_bytes
from yume_bridge.backends.yume import YumeBackend, YumeBackendConfig
from yume_bridge.config import BridgeConfig, NetworkConfig
from yume_bridge.daemon.recorder import RecordingWriter
from yume_bridge.protocol import recording as rec
from yume_bridge.tools.client import ClientOptions, parse_script, run_client
from yume_bridge.tools.recording import ClientRecorder, load_recording
from yume_bridge.tools.replay import BackendChoice, OfflineReplay, build_replay_backend


class LatentTap(YumeBackend):
    """The Yume backend, keeping a copy of each chunk's latents, per world (whole chunks and sampled ones)."""

    def __init__(self, config: YumeBackendConfig) -> None:
        super().__init__(config)
        self.worlds: list[list] = []

    def open_world(self, start):
        world = super().open_world(start)
        latents: list = []
        self.worlds.append(latents)
        generate = world.generate_chunk

        def tapped(request):
            for index, frame in enumerate(generate(request)):
                if index == 0:  # the chunk's latents joined the history before its first frame was decoded
                    latents.append(world.session.history[:, :, -world.session.latent_shape[0]:].clone())
                yield frame

        sample = world.sample_chunk

        def tapped_sample(request):  # the daemon samples and decodes apart (overlap)
            sampled = sample(request)
            latents.append(world.session.history[:, :, -world.session.latent_shape[0]:].clone())
            return sampled

        world.generate_chunk = tapped
        world.sample_chunk = tapped_sample
        return world


def tiny_config(folder) -> YumeBackendConfig:
    return YumeBackendConfig(weights=folder, resolution="128x224", device="cpu", dtype="float32",
                             text_dtype="float32", allow_any_resolution=True)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_replayed_tiny_yume_session_makes_the_same_latents_and_frames(tiny_folder, tmp_path):
    from yume_bridge.daemon.app import run_bridge

    served = LatentTap(tiny_config(tiny_folder))
    stop = asyncio.Event()
    started = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_bridge(BridgeConfig(network=NetworkConfig(port=0)), stop=stop, started=started,
                                          backend=served))
    bridge, address = await asyncio.wait_for(started, 120)
    for _ in range(1200):  # loading and warming up take a while on a busy CPU; the session starts after
        if bridge.endpoint.readiness == "ready":
            break
        await asyncio.sleep(0.1)
    options = ClientOptions(port=address[1], image=jpeg_bytes(), prompt="a harbour at dusk", seed=99,
                            script=parse_script("W:1s,D+\u2190:4s"), tail_s=20.0, output=tmp_path / "frames",
                            events=((0.3, "a lighthouse turns on"),))
    recorder = ClientRecorder(RecordingWriter(tmp_path / "yume.ybr"), image=options.image, prompt=options.prompt)
    summary = await run_client(options, observer=recorder)
    recorder.close(summary.as_dict())
    stop.set()
    await asyncio.wait_for(task, 60)
    assert summary.connected and not summary.errors

    recording = load_recording(tmp_path / "yume.ybr")
    assert recording.header.backend == "yume" and recording.header.model_version == served.spec.model_version
    chunks = list(recording.of_type(rec.Chunk))
    assert len(chunks) >= 2
    replayed = build_replay_backend(recording.header, BackendChoice(weights=tiny_folder, allow_any_resolution=True))
    assert replayed.config.size == served.config.size
    tap = LatentTap(served.config)  # the same device and dtypes as the daemon's
    tap.load(lambda stage, fraction: None)
    replay = OfflineReplay(recording, tap)
    frames = {frame.frame: frame.jpeg for frame in replay.frames()}

    original = served.worlds[-1]  # the first world was the warm-up's
    assert len(tap.worlds) == 1 and len(tap.worlds[0]) == len(chunks) <= len(original)
    for index, latents in enumerate(tap.worlds[0]):
        assert latents.equal(original[index]), f"chunk {index}: latents differ"
    for path in sorted((tmp_path / "frames").glob("frame_*.jpg")):
        assert frames[int(path.stem.split("_")[1])] == path.read_bytes()
