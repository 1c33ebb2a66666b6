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
