"""The Unreal plugin: its doctest tests, the strict build, and its core streaming from the daemon."""

from __future__ import annotations

import pytest

from tests.plugins.common import UNREAL, interop, need, run


@pytest.fixture(scope="module")
def unreal_build():
    need("cmake", "g++")
    run(["bash", str(UNREAL / "test.sh")])
    return UNREAL / "tests" / "build"


def test_the_unreal_core_passes_its_doctest_tests_and_the_strict_build(unreal_build):
    assert (unreal_build / "yume_interop").exists()


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_the_unreal_core_streams_from_the_daemon(unreal_build, daemon_process, tmp_path, token):
    port = daemon_process(*(["--token", token] if token else []))
    command = [str(unreal_build / "yume_interop"), "--host", "127.0.0.1", "--port", str(port)]
    summary = interop(command + (["--token", token] if token else []), tmp_path)
    assert summary["frames_complete"] > 0 and summary["width"] == 960 and summary["height"] == 544


def test_the_unreal_core_finds_the_daemon_by_dns_sd_and_streams_from_it(unreal_build, daemon_process, tmp_path):
    port = daemon_process("--advertise")
    command = [str(unreal_build / "yume_interop"), "--find", "8", "--port", str(port)]
    summary = interop(command, tmp_path)
    assert summary["found_instance"].endswith(f"-{port}._yume-bridge._udp.local.")
    assert summary["host"] == "127.0.0.1"
    assert summary["frames_complete"] > 0
