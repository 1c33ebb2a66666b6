#!/usr/bin/env python3
"""Writes (or checks) the Unity .meta file of every file and folder in the com.yume.bridge package.

Unity ignores files without a .meta in an immutable package (one installed from a git URL or a tarball),
so every asset outside "~" folders needs one committed. The GUID of each is derived from the asset's
path inside the package (MD5 of "com.yume.bridge/<path>"), so metas are stable and reproducible.

    python3 plugins/unity/tools/make_meta.py            # create missing metas, delete orphaned ones
    python3 plugins/unity/tools/make_meta.py --check    # CI: exit 1 listing assets without metas and metas without assets
    python3 plugins/unity/tools/make_meta.py --force    # also rewrite existing metas to the canonical content

Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

PACKAGE_NAME = "com.yume.bridge"
DEFAULT_PACKAGE = Path(__file__).resolve().parent.parent / PACKAGE_NAME

COMMON_TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"

IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
           "  executionOrder: 0\n  icon: {instanceID: 0}\n" + COMMON_TAIL,
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n" + COMMON_TAIL,
    ".asmref": "AssemblyDefinitionReferenceImporter:\n  externalObjects: {}\n" + COMMON_TAIL,
    ".md": "TextScriptImporter:\n  externalObjects: {}\n" + COMMON_TAIL,
    ".txt": "TextScriptImporter:\n  externalObjects: {}\n" + COMMON_TAIL,
    ".json": "TextScriptImporter:\n  externalObjects: {}\n" + COMMON_TAIL,
    # The Input System's InputActionImporter (a ScriptedImporter; this GUID is its script's, fixed by the package).
    ".inputactions": "ScriptedImporter:\n  internalIDToNameTable: []\n  externalObjects: {}\n  serializedVersion: 2\n"
                     + COMMON_TAIL + "  script: {fileID: 11500000, guid: 8404be70184654265930450def6a9037, type: 3}\n"
                     "  generateWrapperCode: 0\n  wrapperCodePath: \n  wrapperClassName: \n  wrapperCodeNamespace: \n",
}
PACKAGE_MANIFEST = "PackageManifestImporter:\n  externalObjects: {}\n" + COMMON_TAIL
DEFAULT = "DefaultImporter:\n  externalObjects: {}\n" + COMMON_TAIL


def is_ignored(relative: Path) -> bool:
    """Unity skips hidden names and names ending in "~" (and everything below them)."""
    return any(part.startswith(".") or part.endswith("~") for part in relative.parts)


def guid_for(relative: Path) -> str:
    return hashlib.md5(f"{PACKAGE_NAME}/{relative.as_posix()}".encode("utf-8")).hexdigest()


def meta_text(package: Path, relative: Path) -> str:
    path = package / relative
    head = f"fileFormatVersion: 2\nguid: {guid_for(relative)}\n"
    if path.is_dir():
        return head + "folderAsset: yes\n" + DEFAULT
    if relative.as_posix() == "package.json":
        return head + PACKAGE_MANIFEST
    return head + IMPORTERS.get(path.suffix.lower(), DEFAULT)


def assets(package: Path) -> list[Path]:
    """Every file and folder Unity imports, relative to the package root (the root itself needs no meta)."""
    found = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if is_ignored(relative) or path.suffix == ".meta":
            continue
        found.append(relative)
    return found


def metas(package: Path) -> list[Path]:
    return [p.relative_to(package) for p in sorted(package.rglob("*.meta")) if not is_ignored(p.relative_to(package))]


def guid_in(meta: Path) -> str | None:
    for line in meta.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("guid:"):
            return line.split(":", 1)[1].strip()
    return None


def check(package: Path) -> int:
    problems = []
    wanted = {Path(str(a) + ".meta") for a in assets(package)}
    present = set(metas(package))
    for missing in sorted(wanted - present):
        problems.append(f"no meta: {missing.as_posix()[:-5]}")
    for orphan in sorted(present - wanted):
        problems.append(f"meta without asset: {orphan.as_posix()}")
    seen: dict[str, Path] = {}
    for meta in sorted(present & wanted):
        guid = guid_in(package / meta)
        if guid is None or len(guid) != 32:
            problems.append(f"meta without a valid guid: {meta.as_posix()}")
        elif guid in seen:
            problems.append(f"duplicate guid {guid}: {meta.as_posix()} and {seen[guid].as_posix()}")
        else:
            seen[guid] = meta
    for problem in problems:
        print(problem)
    if problems:
        print(f"make_meta.py --check: {len(problems)} problem(s) in {package}; run python3 {Path(__file__).name} to fix")
        return 1
    print(f"make_meta.py --check: {len(wanted)} assets, every one with a meta, no orphans")
    return 0


def write(package: Path, force: bool) -> int:
    created = rewritten = removed = 0
    wanted = set()
    for relative in assets(package):
        meta = package / (str(relative) + ".meta")
        wanted.add(meta)
        text = meta_text(package, relative)
        if not meta.exists():
            meta.write_text(text, encoding="utf-8")
            created += 1
        elif force and meta.read_text(encoding="utf-8") != text:
            meta.write_text(text, encoding="utf-8")
            rewritten += 1
    for relative in metas(package):
        meta = package / relative
        if meta not in wanted:
            meta.unlink()
            removed += 1
    print(f"make_meta.py: {created} created, {rewritten} rewritten, {removed} orphans removed, {len(wanted)} assets")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 on missing or orphaned metas")
    parser.add_argument("--force", action="store_true", help="rewrite existing metas to the canonical content")
    parser.add_argument("--package", type=Path, default=DEFAULT_PACKAGE, help="package root (default: %(default)s)")
    args = parser.parse_args(argv)
    if not (args.package / "package.json").is_file():
        print(f"make_meta.py: {args.package} has no package.json", file=sys.stderr)
        return 2
    return check(args.package) if args.check else write(args.package, args.force)


if __name__ == "__main__":
    sys.exit(main())
