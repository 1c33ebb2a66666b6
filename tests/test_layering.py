"""Imports point one way: cli → tools → daemon → backends → model, with protocol, config and actions beneath."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "yume_bridge"
# Each layer may import the layers after it, never the ones before it.
LAYERS = ["cli", "tools", "daemon", "backends", "model"]
# The sans-IO and compute layers never touch the event loop.
PURE = ["protocol", "actions.py", "config.py", "model", "backends", "daemon/frames.py"]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _files(part: str) -> list[Path]:
    target = PACKAGE / part
    if target.with_suffix(".py").is_file():
        return [target.with_suffix(".py")]
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "yume_bridge" and parts[1] in LAYERS else None


@pytest.mark.parametrize("part", PURE)
def test_pure_layers_never_import_asyncio_or_the_shell(part):
    for path in _files(part):
        shell = {name for name in _imports(path) if name == "asyncio" or _layer_of(name) in {"cli", "tools", "daemon"}}
        assert not shell, f"{path.relative_to(PACKAGE)} imports {shell}"


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_imports_only_the_layers_beneath_it(layer):
    above = set(LAYERS[: LAYERS.index(layer)])
    for path in _files(layer):
        upward = {name for name in _imports(path) if _layer_of(name) in above}
        assert not upward, f"{path.relative_to(PACKAGE)} imports {upward} from a layer above it"


def test_the_protocol_core_imports_nothing_of_the_daemon_or_the_model():
    for path in _files("protocol"):
        outside = {name for name in _imports(path) if name.startswith("yume_bridge.") and _layer_of(name)}
        assert not outside, f"{path.relative_to(PACKAGE)} imports {outside}"
