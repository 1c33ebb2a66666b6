"""Imports point one way: the sans-IO and compute layers never import asyncio or the shell."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "yume_bridge"
PURE = ["protocol", "actions.py", "model", "backends", "frames.py"]
SHELL = {"asyncio", "yume_bridge.app", "yume_bridge.transport", "yume_bridge.cli", "yume_bridge.worker",
         "yume_bridge.discovery"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("part", PURE)
def test_pure_layers_do_not_import_the_shell(part):
    target = PACKAGE / part
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    for path in files:
        assert not (_imports(path) & SHELL), f"{path.relative_to(PACKAGE)} imports {_imports(path) & SHELL}"
