"""The engine plugins' host tests and their live interop against the daemon, from pytest.

The Unity core builds with mono's mcs and runs under NUnit; the Unreal core builds with cmake and
g++ and runs under doctest. Each then connects to a real ``yume-bridge serve`` on loopback.
``make test`` installs the toolchains; without them (and outside CI) these tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO, jpeg_bytes

UNITY = REPO / "plugins" / "unity"
UNREAL = REPO / "plugins" / "unreal"


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing tools in CI: {missing} (scripts/install-system-deps.sh installs them)")
        pytest.skip(f"needs {missing}: run `make test`, which installs them")


def _run(command: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
    return result


def _interop(command: list[str], tmp_path) -> dict:
    image = tmp_path / "start.jpg"
    image.write_bytes(jpeg_bytes(640, 360))
    result = _run([*command, "--image", str(image)], timeout=120)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


@pytest.fixture(scope="module")
def unity_build():
    _need("mcs", "mono", "nunit-console")
    _run(["bash", str(UNITY / "test.sh")])
    return UNITY / "build"


@pytest.fixture(scope="module")
def unreal_build():
    _need("cmake", "g++")
    _run(["bash", str(UNREAL / "test.sh")])
    return UNREAL / "tests" / "build"


def test_the_unity_core_passes_its_nunit_tests_and_the_package_is_complete(unity_build):
    assert (unity_build / "Yume.Bridge.Core.dll").exists()


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_the_unity_core_streams_from_the_daemon(unity_build, daemon_process, tmp_path, token):
    port = daemon_process(*(["--token", token] if token else []))
    command = ["mono", str(unity_build / "YumeBridgeInterop.exe"), "--host", "127.0.0.1", "--port", str(port)]
    summary = _interop(command + (["--token", token] if token else []), tmp_path)
    assert summary["frames_complete"] > 0 and summary["width"] == 960 and summary["height"] == 544


def test_the_unreal_core_passes_its_doctest_tests_and_the_strict_build(unreal_build):
    assert (unreal_build / "yume_interop").exists()


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_the_unreal_core_streams_from_the_daemon(unreal_build, daemon_process, tmp_path, token):
    port = daemon_process(*(["--token", token] if token else []))
    command = [str(unreal_build / "yume_interop"), "--host", "127.0.0.1", "--port", str(port)]
    summary = _interop(command + (["--token", token] if token else []), tmp_path)
    assert summary["frames_complete"] > 0 and summary["width"] == 960 and summary["height"] == 544
