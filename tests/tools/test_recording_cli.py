"""The record → replay → export → report path as a user runs it: `yume-bridge serve --record`, `client --record
--video`, `replay`, `report`."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
import zipfile
from fractions import Fraction

import pytest
from click.testing import CliRunner

from tests.conftest import free_udp_port, jpeg_bytes, wait_until_answering
from yume_bridge.cli import main
from yume_bridge.protocol import recording as rec
from yume_bridge.tools.export import frame_files
from yume_bridge.tools.recording import load_recording

av = pytest.importorskip("av")

SCRIPT = "W:0.8s,W+\u2192:0.8s,none:0.4s"


def decoded(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return frames, Fraction(stream.average_rate)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A scripted client session against a preview daemon that records too; both recordings and the frames.

    Made once for the module: the tests below only read it (or write beside it).
    """
    tmp_path = tmp_path_factory.mktemp("recorded")
    port = free_udp_port()
    daemon = subprocess.Popen([sys.executable, "-m", "yume_bridge", "serve", "--port", str(port),
                               "--frames-per-chunk", "8", "--fps", "32", "--record", str(tmp_path / "daemon")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_answering(port, daemon)
    (tmp_path / "port").write_text(str(port))
    try:
        _record(tmp_path, port)
        (daemon_recording,) = (tmp_path / "daemon").glob("*.ybr")
        deadline = time.monotonic() + 10
        while load_recording(daemon_recording, allow_truncated=True).truncated and time.monotonic() < deadline:
            time.sleep(0.1)  # the daemon closes the file when it has handled the client's bye
        daemon_recording.rename(tmp_path / "daemon-walk.ybr")  # later sessions (replays) record beside it
        yield tmp_path
    finally:
        daemon.terminate()
        daemon.wait(10)


def _record(tmp_path, port):
    image = tmp_path / "start.jpg"
    image.write_bytes(jpeg_bytes())
    result = CliRunner().invoke(main, ["client", "--host", "127.0.0.1", "--port", str(port), "--image", str(image),
                                       "--seed", "7", "--script", SCRIPT, "--event", "0.5s:snow begins to fall",
                                       "--tail", "1", "--out", str(tmp_path / "frames"),
                                       "--record", str(tmp_path / "walk.ybr"),
                                       "--video", str(tmp_path / "walk.mp4"), "--captions"])
    assert result.exit_code == 0, result.output
    return tmp_path


def test_the_client_video_has_every_received_frame_at_the_stream_fps_and_half_size(recorded):
    frames, rate = decoded(recorded / "walk.mp4")
    received = frame_files(recorded / "frames")
    assert len(frames) == received[-1][0] - received[0][0] + 1  # lost frames would repeat their predecessor
    assert frames[0].shape == (544 // 2, 960 // 2, 3)
    assert rate == 32


def test_an_offline_replay_writes_the_received_frames_again_and_a_full_size_video(recorded):
    out = recorded / "replayed"
    result = CliRunner().invoke(main, ["replay", str(recorded / "walk.ybr"), "--offline", "--out", str(out),
                                       "--video", str(recorded / "replay.mp4"), "--full-size"])
    assert result.exit_code == 0, result.output
    replayed = dict(frame_files(out))
    for number, path in frame_files(recorded / "frames"):
        assert replayed[number].read_bytes() == path.read_bytes(), f"frame {number} differs"
    frames, rate = decoded(recorded / "replay.mp4")
    assert len(frames) == len(replayed) and frames[0].shape == (544, 960, 3) and rate == 32


def test_the_daemons_own_recording_replays_to_the_frames_the_client_received(recorded):
    daemon_recording = recorded / "daemon-walk.ybr"
    out = recorded / "from-daemon"
    result = CliRunner().invoke(main, ["replay", str(daemon_recording), "--offline", "--out", str(out)])
    assert result.exit_code == 0, result.output
    replayed = dict(frame_files(out))
    for number, path in frame_files(recorded / "frames"):
        assert replayed[number].read_bytes() == path.read_bytes(), f"frame {number} differs"


def test_nothing_is_overwritten_without_force(recorded):
    before = (recorded / "walk.mp4").read_bytes()
    result = CliRunner().invoke(main, ["replay", str(recorded / "walk.ybr"), "--offline",
                                       "--video", str(recorded / "walk.mp4")])
    assert result.exit_code != 0 and "--force" in result.output
    assert (recorded / "walk.mp4").read_bytes() == before


def test_a_truncated_recording_is_refused_in_one_line(recorded):
    data = (recorded / "walk.ybr").read_bytes()
    (recorded / "cut.ybr").write_bytes(data[: len(data) * 2 // 3])
    result = CliRunner().invoke(main, ["replay", str(recorded / "cut.ybr"), "--offline"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "truncated" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_report_bundles_the_recording_versions_last_status_and_logs(recorded):
    log = recorded / "daemon.log"
    log.write_text("session 1 opened\n")
    result = CliRunner().invoke(main, ["report", "--recording", str(recorded / "walk.ybr"), "--log", str(log),
                                       "-o", str(recorded / "report.zip")])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(recorded / "report.zip") as archive:
        names = archive.namelist()
        facts = json.loads(archive.read("report.json"))
    assert "recording/walk.ybr" in names and "logs/daemon.log" in names
    assert facts["versions"]["yume_bridge"] and facts["recording"]["daemon_version"]
    assert set(facts["recording"]["last_status"]["latency"]) >= {"queue_ms", "generate_ms", "encode_ms", "send_ms"}


def test_a_replay_through_the_daemon_writes_the_received_frames_again(recorded):
    out = recorded / "through-daemon"
    port = (recorded / "port").read_text()
    result = CliRunner().invoke(main, ["replay", str(recorded / "walk.ybr"), "--port", port, "--out", str(out)])
    assert result.exit_code == 0, result.output
    replayed = dict(frame_files(out))
    for number, path in frame_files(recorded / "frames"):
        assert replayed[number].read_bytes() == path.read_bytes(), f"frame {number} differs"


def test_a_recording_from_another_model_version_replays_with_a_warning(recorded):
    original = load_recording(recording_path := recorded / "walk.ybr")
    header = dataclasses.replace(original.header, model_version="2")
    (recorded / "other.ybr").write_bytes(rec.file_prefix() + b"".join(
        rec.encode_record(header if r is original.header else r) for r in original.records))
    result = CliRunner().invoke(main, ["replay", str(recorded / "other.ybr"), "--offline"])
    assert result.exit_code == 0, result.output
    assert "warning: the recording was made with preview 2" in result.output
    assert json.loads(result.output[result.output.index("{"):])["frames"] > 0
    assert recording_path.exists()


def test_a_report_can_ask_a_running_daemon_for_its_status(recorded):
    port = (recorded / "port").read_text()
    result = CliRunner().invoke(main, ["report", "--host", "127.0.0.1", "--port", port, "--timeout", "10",
                                       "-o", str(recorded / "live.zip")])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(recorded / "live.zip") as archive:
        facts = json.loads(archive.read("report.json"))
    assert facts["daemon"]["welcome"]["backend"] == "preview"
    assert facts["daemon"]["status"]["state"] in ("ready", "loading", "warming")
