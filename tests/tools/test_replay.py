"""Record a scripted session against the preview daemon, replay it, and get the same frames back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import jpeg_bytes
from yume_bridge.config import BridgeConfig, NetworkConfig, StreamConfig
from yume_bridge.daemon.recorder import RecordingWriter
from yume_bridge.protocol import recording as rec
from yume_bridge.tools.client import ClientOptions, parse_script, run_client
from yume_bridge.tools.recording import ClientRecorder, load_recording
from yume_bridge.tools.replay import BackendChoice, OfflineReplay, build_replay_backend
from yume_bridge.tools.replay_daemon import DaemonReplay, DaemonReplayOptions

SHORT_CHUNKS = BridgeConfig(network=NetworkConfig(port=0), stream=StreamConfig(fps=32.0, frames_per_chunk=8))


async def record_session(port: int, folder: Path, **overrides) -> tuple[Path, object]:
    """A scripted walk with a turn and an event, recorded by the client, with every frame kept beside it."""
    path = folder / "walk.ybr"
    options = ClientOptions(port=port, image=jpeg_bytes(), prompt="a harbour at dusk", seed=1234,
                            script=parse_script("W:0.8s,W+\u2192:0.8s,A:0.5s"), events=((0.6, "fog rolls in"),),
                            tail_s=1.0, output=folder / "frames", **overrides)
    recorder = ClientRecorder(RecordingWriter(path), image=options.image, prompt=options.prompt)
    summary = await run_client(options, observer=recorder)
    recorder.close(summary.as_dict())
    return path, summary


@pytest.mark.asyncio
@pytest.mark.parametrize("bridge", [SHORT_CHUNKS], indirect=True)
async def test_a_replayed_preview_session_gives_the_recorded_frames_bit_for_bit(bridge, tmp_path):
    _, port = bridge
    path, summary = await record_session(port, tmp_path)
    assert summary.connected and not summary.errors
    recording = load_recording(path)
    chunks = list(recording.of_type(rec.Chunk))
    assert len({c.action for c in chunks}) >= 2, "the walk should have applied more than one action"
    assert any(c.events == ("fog rolls in",) for c in chunks)

    replay = OfflineReplay(recording, build_replay_backend(recording.header, BackendChoice()))
    replayed = {frame.frame: frame.jpeg for frame in replay.frames()}
    received = sorted((tmp_path / "frames").glob("frame_*.jpg"))
    assert len(received) >= 3 * 8
    for path in received:
        number = int(path.stem.split("_")[1])
        assert replayed[number] == path.read_bytes(), f"frame {number} differs"
    assert not replay.warnings


@pytest.mark.asyncio
@pytest.mark.parametrize("bridge", [SHORT_CHUNKS], indirect=True)
async def test_a_session_replayed_through_the_daemon_gives_the_recorded_frames_bit_for_bit(bridge, tmp_path):
    _, port = bridge
    path, _ = await record_session(port, tmp_path)
    recording = load_recording(path)
    replay = DaemonReplay(recording, DaemonReplayOptions(port=port))
    replayed = await replay.run()
    received = sorted((tmp_path / "frames").glob("frame_*.jpg"))
    assert len(received) >= 3 * 8
    for path in received:
        number = int(path.stem.split("_")[1])
        assert replayed.get(number) == path.read_bytes(), f"frame {number} differs"
    assert not replay.warnings


def test_an_inbox_that_gets_chunk_inputs_waits_for_each_chunks_own_and_applies_it_exactly():
    from yume_bridge.actions import Action, Axes, AxisQuantizer, CaptionTemplates, Look, Movement
    from yume_bridge.daemon.conditioning import ConditioningInbox

    inbox = ConditioningInbox(templates=CaptionTemplates.load(), quantizer=AxisQuantizer(), speed=None)
    assert inbox.has_conditioning()  # an ordinary session never waits
    inbox.put_input(5, Axes(move_y=1.0), chunk=1)  # ahead of time: kept for chunk 1
    assert not inbox.has_conditioning()  # chunk 0 has none yet
    inbox.put_input(6, Axes(look_x=-1.0), chunk=0)
    inbox.put_input(7, Axes(move_x=1.0))  # an ordinary input does not disturb the schedule
    number, request, seq = inbox.take()
    assert (number, request.action, seq) == (0, Action(Movement.NONE, Look.LEFT), 6)
    number, request, seq = inbox.take()
    assert (number, request.action, seq) == (1, Action(Movement.W, Look.NONE), 5)
    assert not inbox.has_conditioning()
