"""Writes one JSON Schema (draft 2020-12) per control message, for the JSON encoding.

Run ``python protocol/schema/make_schema.py`` after a protocol change; the test
suite fails while the committed schemas differ from what this script writes.
In MessagePack the same fields carry ``bytes`` as bin instead of base64 text.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from yume_bridge.protocol.messages import MESSAGE_TYPES, Spec

HERE = Path(__file__).parent
BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _range(schema: dict[str, Any], spec: Spec) -> dict[str, Any]:
    if spec.lo is not None:
        schema["minimum"] = spec.lo
    if spec.hi is not None:
        schema["maximum"] = spec.hi
    return schema


def field_schema(spec: Spec) -> dict[str, Any]:
    kind = spec.kind
    if kind == "str":
        return {"type": "string"} | ({"maxLength": spec.max_len} if spec.max_len else {})
    if kind == "int":
        return _range({"type": "integer"}, spec)
    if kind == "float":
        return _range({"type": "number"}, spec)
    if kind == "bool":
        return {"type": "boolean"}
    if kind == "bytes":
        schema = {"type": "string", "contentEncoding": "base64", "pattern": BASE64}
        length = spec.exact_len or spec.max_len
        schema["description"] = (f"exactly {spec.exact_len} bytes" if spec.exact_len else f"at most {length} bytes")
        return schema
    if kind in ("floats", "ints", "strs"):
        item = {"floats": _range({"type": "number"}, spec), "ints": _range({"type": "integer"}, spec),
                "strs": {"type": "string", "maxLength": 64}}[kind]
        schema = {"type": "array", "items": item}
        if spec.exact_len is not None:
            schema |= {"minItems": spec.exact_len, "maxItems": spec.exact_len}
        elif spec.max_len is not None:
            schema["maxItems"] = spec.max_len
        return schema
    if kind == "map":
        return object_schema(spec.nested)
    raise AssertionError(kind)


def object_schema(cls: type, type_name: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    if type_name is not None:
        properties["type"] = {"const": type_name}
        required.append("type")
    for f in dataclasses.fields(cls):
        spec: Spec = f.metadata["spec"]
        properties[f.name] = field_schema(spec)
        if spec.required:
            required.append(f.name)
    return {"type": "object", "properties": properties, "required": required}


def schemas() -> dict[str, str]:
    out = {}
    for name, cls in sorted(MESSAGE_TYPES.items()):
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "$id": f"yume-bridge/1/{name}.schema.json",
                  "title": f"yume_bridge protocol v1 '{name}' message (JSON encoding)",
                  "description": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
                  **object_schema(cls, name)}
        out[f"{name}.schema.json"] = json.dumps(schema, indent=1, ensure_ascii=False) + "\n"
    return out


def write_all(directory: Path | None = HERE) -> dict[str, str]:
    texts = schemas()
    if directory is not None:
        for name, text in texts.items():
            (directory / name).write_text(text, encoding="utf-8")
    return texts


if __name__ == "__main__":
    write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
