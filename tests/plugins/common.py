"""Shared by the engine plugin tests: the plugins' host tests and their live interop against the daemon, from pytest.

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


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing tools in CI: {missing} (scripts/install-system-deps.sh installs them)")
        pytest.skip(f"needs {missing}: run `make test`, which installs them")


def run(command: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
    return result


def interop(command: list[str], tmp_path) -> dict:
    image = tmp_path / "start.jpg"
    image.write_bytes(jpeg_bytes(640, 360))
    result = run([*command, "--image", str(image)], timeout=120)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


