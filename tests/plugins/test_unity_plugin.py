"""The Unity plugin: its NUnit tests, its package checks, and its core streaming from the daemon."""

from __future__ import annotations

import pytest

from tests.plugins.common import UNITY, interop, need, run


@pytest.fixture(scope="module")
def unity_build():
    need("mcs", "mono", "nunit-console")
    run(["bash", str(UNITY / "test.sh")])
    return UNITY / "build"


def test_the_unity_core_passes_its_nunit_tests_and_the_package_is_complete(unity_build):
    assert (unity_build / "Yume.Bridge.Core.dll").exists()


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_the_unity_core_streams_from_the_daemon(unity_build, daemon_process, tmp_path, token):
    port = daemon_process(*(["--token", token] if token else []))
    command = ["mono", str(unity_build / "YumeBridgeInterop.exe"), "--host", "127.0.0.1", "--port", str(port),
               "--expect-actions", "--check-errors"]
    summary = interop(command + (["--token", token] if token else []), tmp_path)
    assert summary["frames_complete"] > 0 and summary["width"] == 960 and summary["height"] == 544
    # Every frame taken goes back to the pool: a handful of buffers serve the whole stream.
    assert summary["frame_buffers_created"] <= 8 < summary["frames_complete"]


def test_the_unity_core_finds_the_daemon_by_dnssd_on_loopback_and_streams(unity_build, daemon_process, tmp_path):
    port = daemon_process("--advertise")
    command = ["mono", str(unity_build / "YumeBridgeInterop.exe"), "--host", "invalid.invalid", "--port", str(port),
               "--discover", "4"]
    summary = interop(command, tmp_path)
    assert summary["discovered_address"] == "127.0.0.1"
    assert summary["discovered_instance"].endswith(f"-{port}._yume-bridge._udp.local.")
    assert summary["discovered_protocol"] == 1
    assert summary["frames_complete"] > 0


def _package_json(relative: str) -> dict:
    import json

    return json.loads((UNITY / "com.yume.bridge" / relative).read_text("utf-8"))


def test_the_package_declares_what_its_sample_needs_and_leaves_out_webgl():
    assert "com.unity.ugui" in _package_json("package.json")["dependencies"]
    sample = _package_json("Samples~/BasicViewer/Yume.Bridge.Samples.BasicViewer.asmdef")
    assert {"Yume.Bridge", "UnityEngine.UI"} <= set(sample["references"])
    for asmdef in ("Runtime/Core/Yume.Bridge.Core.asmdef", "Runtime/Unity/Yume.Bridge.asmdef"):
        assert "WebGL" in _package_json(asmdef)["excludePlatforms"], asmdef


def test_the_shipped_input_actions_hold_every_action_the_sampler_reads():
    import re

    asset = _package_json("Runtime/Input/YumeBridgeControls.inputactions")
    actions = {f"{m['name']}/{a['name']}" for m in asset["maps"] for a in m["actions"]}
    sampler = (UNITY / "com.yume.bridge" / "Runtime" / "Unity" / "YumeInputSampler.cs").read_text("utf-8")
    wanted = set(re.findall(r'"(Yume/\w+)"', sampler))
    assert wanted and wanted <= actions
    bound = {b["action"] for m in asset["maps"] for b in m["bindings"]}
    assert {a.split("/")[1] for a in wanted} <= bound, "every action has a binding"


@pytest.mark.parametrize(("daemon_token", "client_token", "port_shift", "words"), [
    ("s3cret", "wrong", 0, "token"),  # the daemon refuses the token
    (None, None, 1, "yume-bridge serve"),  # nothing listens on the port
])
def test_the_unity_core_says_why_it_cannot_connect(unity_build, daemon_process, tmp_path, daemon_token, client_token,
                                                   port_shift, words):
    import json
    import subprocess

    from tests.conftest import jpeg_bytes

    port = daemon_process(*(["--token", daemon_token] if daemon_token else [])) + port_shift
    image = tmp_path / "start.jpg"
    image.write_bytes(jpeg_bytes(64, 48))
    command = ["mono", str(unity_build / "YumeBridgeInterop.exe"), "--host", "127.0.0.1", "--port", str(port),
               "--image", str(image), *(["--token", client_token] if client_token else [])]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode != 0 and summary["stage"] == "connect", summary
    assert words in summary["error"]
