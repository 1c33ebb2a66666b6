"""The command line, through click's CliRunner (and one real daemon process)."""

from __future__ import annotations

import json
from unittest import mock

from click.testing import CliRunner

from yume_bridge.cli import main
from yume_bridge.cli.daemon import config_from_options, serve


def _options(**changes):
    defaults = dict(host="127.0.0.1", port=47800, backend="preview", image=None, weights=None, resolution="544x960",
                    fps=16.0, max_quality=95, frames_per_chunk=29, steps=4, shift=7.0, device="auto", dtype="bfloat16",
                    vocabulary="camera", speed=False, max_sessions=4, idle_timeout=10.0, token=None,
                    token_file=None, advertise=None, fail_every=0, stall_at=0, stall_timeout=30.0, log_level="info",
                    log_format="text")
    return {**defaults, **changes}


def test_serve_with_no_arguments_runs_the_preview_world_on_loopback():
    with mock.patch("yume_bridge.cli.daemon._run_until_signal") as run:
        result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    config, backends = run.call_args.args
    assert config.network.host == "127.0.0.1" and config.backend.name == "preview"
    assert not config.network.advertise_enabled and [b.spec.width for b in backends] == [960]


def test_binding_beyond_loopback_generates_and_stores_a_token(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = config_from_options(_options(host="0.0.0.0"))
    stored = (tmp_path / "yume-bridge" / "token").read_text().strip()
    assert config.network.token == stored and len(stored) >= 20
    assert config.network.advertise_enabled
    assert config_from_options(_options(host="0.0.0.0")).network.token == stored  # the same on the next start


def test_a_toml_config_file_fills_options_and_flags_still_win(tmp_path):
    path = tmp_path / "bridge.toml"
    path.write_text('[serve]\nfps = 24.0\nmax-sessions = 2\nmax-quality = 70\n')
    with mock.patch("yume_bridge.cli.daemon._run_until_signal") as run:
        result = CliRunner().invoke(main, ["serve", "--config", str(path), "--max-quality", "90"])
    assert result.exit_code == 0, result.output
    config = run.call_args.args[0]
    assert (config.stream.fps, config.limits.max_sessions, config.stream.max_quality) == (24.0, 2, 90)


def test_the_yume_backend_without_weights_is_a_one_line_error():
    result = CliRunner().invoke(serve, ["--backend", "yume"])
    assert result.exit_code != 0 and "needs --weights" in result.output and "Traceback" not in result.output


def test_a_bad_script_is_reported_as_a_usage_error():
    result = CliRunner().invoke(main, ["client", "--host", "127.0.0.1", "--script", "W:forever"])
    assert result.exit_code == 2 and "KEYS:DURATION" in result.output


def test_the_client_command_prints_a_summary_against_a_running_daemon(daemon_process, tmp_path):
    port = daemon_process()
    result = CliRunner().invoke(main, ["client", "--port", str(port), "--script", "W:1s,W+\u2192:3s",
                                       "--event", "0.5s:a door opens", "--tail", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["complete_ratio"] >= 0.95 and summary["events_acknowledged"] == [1]
    assert 10 in summary["actions"]
    assert len(list(tmp_path.glob("frame_*.jpg"))) == summary["frames_complete"]


def test_the_client_explains_an_unreachable_daemon():
    with mock.patch("yume_bridge.protocol.client.HELLO_GIVE_UP_S", 0.5):
        result = CliRunner().invoke(main, ["client", "--host", "127.0.0.1", "--port", "9", "--script", "W:1s"])
    assert result.exit_code == 1
    assert "unreachable" in result.output


def test_the_dit_speed_flags_reach_the_backend_configuration():
    with mock.patch("yume_bridge.cli.daemon._run_until_signal") as run:
        result = CliRunner().invoke(main, ["serve", "--no-compile", "--attention", "cudnn", "--fp8"])
    assert result.exit_code == 0, result.output
    config, _ = run.call_args.args
    assert (config.backend.compile, config.backend.attention, config.backend.fp8) == (False, "cudnn", True)


def test_compile_is_left_to_the_device_unless_asked_for():
    with mock.patch("yume_bridge.cli.daemon._run_until_signal") as run:
        CliRunner().invoke(main, ["serve"])
    config, _ = run.call_args.args
    assert config.backend.compile is None and config.backend.attention == "auto" and not config.backend.fp8


def test_the_studio_is_on_at_loopback_and_off_beyond_it_unless_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_from_options(_options()).web.enabled
    assert not config_from_options(_options(host="0.0.0.0")).web.enabled
    beyond = config_from_options(_options(host="0.0.0.0", web=True, web_port=48001))
    assert beyond.web.enabled and beyond.web.port == 48001 and beyond.network.token  # never without the token
    assert not config_from_options(_options(web=False)).web.enabled


def test_a_busy_studio_port_is_explained_instead_of_a_traceback():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", "0", "--web-port", str(port), "--no-advertise"])
    assert result.exit_code != 0 and "cannot serve the studio" in result.output and "--no-web" in result.output
    assert "Traceback" not in result.output


def test_the_dit_speed_options_can_come_from_the_config_file(tmp_path):
    toml = tmp_path / "bridge.toml"
    toml.write_text('[serve]\ncompile = true\nattention = "math"\n', "utf-8")
    with mock.patch("yume_bridge.cli.daemon._run_until_signal") as run:
        result = CliRunner().invoke(main, ["serve", "--config", str(toml)])
    assert result.exit_code == 0, result.output
    config, _ = run.call_args.args
    assert config.backend.compile is True and config.backend.attention == "math"
