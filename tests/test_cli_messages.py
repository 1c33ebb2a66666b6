"""What a newcomer meets on the command line: which daemon, progress, clear one-line errors, config typos."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
import time
from unittest import mock

import numpy as np
from click.testing import CliRunner
from PIL import Image

from tests.conftest import REPO
from yume_bridge.cli import main
from yume_bridge.cli.client import _start_image
from yume_bridge.protocol.wire import Limits


def test_the_client_without_a_host_uses_the_daemon_on_this_machine_and_says_so(daemon_process):
    port = daemon_process()
    with mock.patch("yume_bridge.daemon.discovery.browse") as browse:
        result = CliRunner().invoke(main, ["client", "--port", str(port), "--script", "W:2s", "--tail", "2"])
    assert result.exit_code == 0, result.output
    assert f"using the daemon on this machine, 127.0.0.1:{port} (preview)" in result.stderr
    browse.assert_not_called()


def test_the_client_without_a_host_and_no_daemon_anywhere_says_how_to_start_one():
    async def nobody(timeout):
        return []

    with mock.patch("yume_bridge.daemon.discovery.browse", nobody):
        result = CliRunner().invoke(main, ["client", "--port", "9", "--script", "W:1s"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no daemon answers on 127.0.0.1:9" in result.output and "yume-bridge serve" in result.output


def test_the_client_shows_progress_while_it_streams(daemon_process):
    port = daemon_process()
    result = CliRunner().invoke(main, ["client", "--host", "127.0.0.1", "--port", str(port), "--script", "W:2.5s",
                                       "--tail", "0.5"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"connecting to 127.0.0.1:{port} ..."
    assert any(line.startswith(f"connected to 127.0.0.1:{port}: preview world 960x544") for line in lines)
    assert sum(" fps " in line and "action" in line for line in lines) >= 2  # about one a second
    assert "W" in json.loads(result.stdout)["action_names"]  # (the release in the tail may show: pre-emption)


def test_ctrl_c_ends_the_client_with_its_summary_and_its_frames(daemon_process, tmp_path):
    port = daemon_process()
    client = subprocess.Popen([sys.executable, "-m", "yume_bridge", "client", "--host", "127.0.0.1", "--port",
                               str(port), "--script", "W:60s", "--out", str(tmp_path)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("frame_*.jpg")) and time.monotonic() < deadline:
        time.sleep(0.2)
    client.send_signal(signal.SIGINT)
    stdout, stderr = client.communicate(timeout=30)
    assert "interrupted" in stderr and "Traceback" not in stderr
    summary = json.loads(stdout)
    assert summary["frames_complete"] >= 1
    assert len(list(tmp_path.glob("frame_*.jpg"))) == summary["frames_complete"]


def test_an_empty_script_is_a_usage_error_not_a_traceback():
    result = CliRunner().invoke(main, ["client", "--host", "127.0.0.1", "--script", ""])
    assert result.exit_code == 2 and "the script is empty" in result.output


def test_a_text_file_given_as_the_image_is_named_in_one_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    result = CliRunner().invoke(main, ["client", "--host", "127.0.0.1", "--image", str(notes)])
    assert result.exit_code == 2 and "is not an image Pillow can read" in result.output
    assert "BytesIO" not in result.output and "Traceback" not in result.output


def test_an_image_over_the_upload_limit_is_sent_downscaled(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, size=(1900, 1900, 3), dtype=np.uint8)
    path = tmp_path / "huge.png"
    Image.fromarray(noise).save(path)
    assert path.stat().st_size > Limits().max_upload_bytes
    data = _start_image(path)
    assert len(data) <= Limits().max_upload_bytes
    with Image.open(io.BytesIO(data)) as sent:
        assert max(sent.size) == 1280


def test_a_typo_in_the_config_file_names_the_closest_option(tmp_path):
    path = tmp_path / "bridge.toml"
    path.write_text("[serve]\nmax-sesions = 2\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(path)])
    assert result.exit_code == 2
    assert "unknown option [serve] 'max-sesions' (did you mean 'max-sessions'?)" in result.output


def test_an_unknown_config_section_is_an_error(tmp_path):
    path = tmp_path / "bridge.toml"
    path.write_text("[server]\nport = 47806\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(path)])
    assert result.exit_code == 2 and "unknown section [server] (did you mean [serve]?)" in result.output


def test_print_config_shows_each_value_and_where_it_came_from(tmp_path):
    path = tmp_path / "bridge.toml"
    path.write_text("fps = 20.0\nport = 47806\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(path), "--port", "47900", "--print-config"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()}
    assert rows["fps"] == ["20.0", "config", "file"]
    assert rows["port"] == ["47900", "command", "line"]
    assert rows["max-sessions"] == ["4", "default"]


def test_check_weights_on_an_empty_folder_answers_before_loading_torch(tmp_path):
    script = ("import sys; from click.testing import CliRunner; from yume_bridge.cli import main; "
              f"r = CliRunner().invoke(main, ['check-weights', {str(tmp_path)!r}]); "
              "print(r.exit_code, 'torch' in sys.modules, r.output)")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("1 False") and "is empty" in out


def test_the_yume_backend_with_a_missing_file_is_refused_before_loading_torch(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    script = ("import sys; from click.testing import CliRunner; from yume_bridge.cli import main; "
              f"r = CliRunner().invoke(main, ['serve', '--backend', 'yume', '--weights', {str(tmp_path)!r}]); "
              "print(r.exit_code, 'torch' in sys.modules, r.output)")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("1 False") and "diffusion_pytorch_model.safetensors is missing" in out


def test_sequence_parallelism_with_the_preview_world_says_it_is_for_the_yume_backend():
    result = CliRunner().invoke(main, ["serve", "--sequence-parallel", "2"])
    assert result.exit_code != 0
    assert "--sequence-parallel splits the yume backend's DiT" in result.output


def test_sequence_parallelism_and_sessions_across_devices_are_refused_together(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--backend", "yume", "--weights", str(tmp_path),
                                       "--sequence-parallel", "2", "--devices", "cuda:0,cuda:1"])
    assert result.exit_code != 0
    assert "--sequence-parallel and --devices do not combine" in result.output


async def test_the_daemon_logs_each_sessions_chunks_at_a_bounded_rate_with_escaped_client_text(bridge, caplog):
    from yume_bridge.tools.client import ClientOptions, parse_script, run_client

    _, port = bridge
    caplog.set_level(logging.INFO, logger="yume_bridge")
    await run_client(ClientOptions(port=port, script=parse_script("W:4s"), events=((0.2, "a door\nopens"),),
                                   tail_s=0.5))
    lines = [record.getMessage() for record in caplog.records]
    chunks = [line for line in lines if " chunk " in line and "generated in" in line]
    assert chunks and all("JPEG" in line for line in chunks)
    assert any(": W" in line for line in chunks)
    assert any("events: 'a door\\nopens'" in line for line in chunks)  # one line, the newline escaped
    assert len(chunks) <= 4.5 / 2.0 + 1  # at most one line every two seconds per session


def test_a_vae_device_with_the_preview_world_says_it_is_for_the_yume_backend():
    result = CliRunner().invoke(main, ["serve", "--vae-device", "cuda:1"])
    assert result.exit_code != 0
    assert "--vae-device places the yume backend's VAE" in result.output
