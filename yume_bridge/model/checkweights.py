"""Check a weights folder without loading tensor data: files, key names, shapes, dtypes, truncation.

``check_weights(folder)`` reads only the safetensors JSON header, the pickled
index of each ``.pth`` zip archive and the zip directory, so it takes well
under a second on the full 27 GB folder. It returns one human-readable line
per problem; an empty list means a strict load will find what it expects.
"""

from __future__ import annotations

import collections
import difflib
import json
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from yume_bridge.model import layout
from yume_bridge.model.args import YumeArgs
from yume_bridge.model.dit import WanModel
from yume_bridge.model.taehv import reconcile_tiny_decoder_shapes
from yume_bridge.model.text import wan_t5_shapes
from yume_bridge.model.vae import wan_vae_shapes

__all__ = [
    "TensorInfo",
    "WeightFileError",
    "check_tiny_decoder",
    "check_weights",
    "read_safetensors_index",
    "read_torch_zip_index",
]

MAX_LINES_PER_KIND = 8
FLOAT_DTYPES = frozenset({"BF16", "F16", "F32"})

_ITEM_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}  # fmt: skip
_TORCH_STORAGES = {
    "BFloat16Storage": "BF16",
    "HalfStorage": "F16",
    "FloatStorage": "F32",
    "DoubleStorage": "F64",
    "LongStorage": "I64",
    "IntStorage": "I32",
    "ShortStorage": "I16",
    "CharStorage": "I8",
    "ByteStorage": "U8",
    "BoolStorage": "BOOL",
}


class WeightFileError(Exception):
    """A weights file cannot be indexed; the message is one line."""


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    """safetensors dtype name: BF16, F16, F32, ..."""
    shape: tuple[int, ...]


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def read_safetensors_index(path: Path) -> dict[str, TensorInfo]:
    """Keys, dtypes and shapes from the header; raises WeightFileError if the file is cut short."""
    size = path.stat().st_size
    with path.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise WeightFileError(f"{path.name} is truncated: {size} bytes, too short for a safetensors header")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > min(size - 8, 100_000_000):
            raise WeightFileError(f"{path.name} is truncated or not safetensors: header of {header_len:,} bytes")
        try:
            header = json.loads(f.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WeightFileError(f"{path.name} has an unreadable safetensors header: {exc}") from None
    index: dict[str, TensorInfo] = {}
    data_end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise WeightFileError(f"{path.name}: header entry {key!r} is malformed") from None
        expected_bytes = _numel(shape) * _ITEM_SIZES.get(dtype, 0)
        if dtype in _ITEM_SIZES and end - begin != expected_bytes:
            raise WeightFileError(
                f"{path.name}: {key} spans {end - begin:,} bytes but {dtype}{list(shape)} needs {expected_bytes:,}"
            )
        data_end = max(data_end, end)
        index[key] = TensorInfo(dtype, shape)
    needed = 8 + header_len + data_end
    if size < needed:
        raise WeightFileError(f"{path.name} is truncated: its header describes {needed:,} bytes, the file has {size:,}")
    return index


@dataclass(frozen=True)
class _StorageRef:
    dtype: str
    key: str
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, offset, size, stride, *_args) -> _TensorRef:  # noqa: ANN001 - pickle callback
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *_args) -> _TensorRef:  # noqa: ANN001 - pickle callback
    return data


class _IndexUnpickler(pickle.Unpickler):
    """Reads a torch.save index (data.pkl) into stand-ins; never touches tensor data or runs code."""

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch" and name in _TORCH_STORAGES:
            return _TORCH_STORAGES[name]
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a state dict")

    def persistent_load(self, pid):  # noqa: ANN001, ANN201
        kind, dtype, key, _location, numel = pid
        if kind != "storage" or not isinstance(dtype, str):
            raise pickle.UnpicklingError(f"unsupported storage record {pid!r}")
        return _StorageRef(dtype, str(key), int(numel))


def read_torch_zip_index(path: Path) -> dict[str, TensorInfo]:
    """Keys, dtypes and shapes of a ``torch.save`` zip state dict; checks every record is present and sized."""
    size = path.stat().st_size
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise WeightFileError(
            f"{path.name} is truncated or not a torch zip archive (no zip directory at its end)"
        ) from None
    with archive, path.open("rb") as raw:
        names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if not names:
            raise WeightFileError(f"{path.name} is a zip file but not a torch.save archive (no data.pkl)")
        root = names[0][: -len("data.pkl")]
        records = {info.filename: info for info in archive.infolist()}
        for info in records.values():
            raw.seek(info.header_offset)
            local = raw.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise WeightFileError(f"{path.name} is damaged: record {info.filename} has no local header")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            end = info.header_offset + 30 + name_len + extra_len + info.compress_size
            if end > size:
                raise WeightFileError(f"{path.name} is truncated: record {info.filename} ends at {end:,} of {size:,}")
        try:
            state = _IndexUnpickler(archive.open(names[0])).load()
        except (pickle.UnpicklingError, ValueError, TypeError, EOFError) as exc:
            raise WeightFileError(f"{path.name}: unreadable state-dict index: {exc}") from None
    if not isinstance(state, dict):
        raise WeightFileError(f"{path.name} holds a {type(state).__name__}, not a state dict")
    index: dict[str, TensorInfo] = {}
    for key, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise WeightFileError(f"{path.name}: entry {key!r} is not a tensor")
        record = records.get(f"{root}data/{ref.storage.key}")
        item = _ITEM_SIZES[ref.storage.dtype]
        if record is None:
            raise WeightFileError(f"{path.name} is damaged: the data of {key} is missing")
        if record.file_size < ref.storage.numel * item:
            raise WeightFileError(f"{path.name} is truncated: the data of {key} has {record.file_size:,} bytes")
        extent = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True)) + 1
        if _numel(ref.shape) and extent > ref.storage.numel:
            raise WeightFileError(f"{path.name}: {key} reaches past its storage")
        index[str(key)] = TensorInfo(ref.storage.dtype, ref.shape)
    return index


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"


def _compare(
    file: str, found: dict[str, TensorInfo], expected: dict[str, tuple[int, ...]], dtypes: frozenset[str]
) -> list[str]:
    """Lines for renamed, missing, unexpected, mis-shaped and mis-typed tensors."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    renamed: list[str] = []
    for key in list(unexpected):
        candidates = [m for m in missing if expected[m] == found[key].shape]
        match = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        if match:
            renamed.append(f"{file}: tensor {key} should be named {match[0]}")
            missing.remove(match[0])
            unexpected.remove(key)
    lines: list[str] = []

    def add(kind: str, items: list[str]) -> None:
        lines.extend(items[:MAX_LINES_PER_KIND])
        if len(items) > MAX_LINES_PER_KIND:
            lines.append(f"{file}: … and {len(items) - MAX_LINES_PER_KIND} more {kind}")

    add("renamed tensors", renamed)
    add("missing tensors", [f"{file}: missing tensor {k} {_shape(expected[k])}" for k in missing])
    add("unexpected tensors", [f"{file}: unexpected tensor {k} {_shape(found[k].shape)}" for k in unexpected])
    shapes = [
        f"{file}: {k} has shape {_shape(found[k].shape)}, expected {_shape(expected[k])}"
        for k in expected
        if k in found and found[k].shape != expected[k]
    ]
    add("wrong shapes", shapes)
    allowed = "/".join(sorted(dtypes))
    add(
        "wrong dtypes",
        [f"{file}: {k} has dtype {found[k].dtype}, expected {allowed}" for k in found if found[k].dtype not in dtypes],
    )
    return lines


def _expected_dit_shapes(args: YumeArgs) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        model = WanModel(args.dit)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def _check_tokenizer(folder: Path) -> list[str]:
    tokenizer = folder / layout.TOKENIZER
    if not tokenizer.is_dir():
        return [f"{layout.TOKENIZER}/ is missing (the umT5 tokenizer folder)"]
    lines = []
    if not (tokenizer / "tokenizer_config.json").is_file():
        lines.append(f"{layout.TOKENIZER}/tokenizer_config.json is missing")
    if not ((tokenizer / "tokenizer.json").is_file() or (tokenizer / "spiece.model").is_file()):
        lines.append(f"{layout.TOKENIZER}/ has neither tokenizer.json nor spiece.model")
    return lines


def check_tiny_decoder(path: Path) -> list[str]:
    """One line per problem with a ``taew2_2`` tiny-decoder file (optional; used by ``--decoder tiny``)."""
    if not path.is_file():
        return [f"tiny decoder {path} is missing"]
    read_index = read_safetensors_index if path.suffix == ".safetensors" else read_torch_zip_index
    try:
        found = read_index(path)
    except WeightFileError as exc:
        return [str(exc)]
    except OSError as exc:
        return [f"{path.name} cannot be read: {exc.strerror or exc}"]
    shapes = {key: info.shape for key, info in found.items()}
    problems = [f"{path.name}: {line}" for line in reconcile_tiny_decoder_shapes(shapes)]
    problems += [f"{path.name}: {k} has dtype {v.dtype}, expected one of {'/'.join(sorted(FLOAT_DTYPES))}"
                 for k, v in found.items() if v.dtype not in FLOAT_DTYPES]
    return problems[: 3 * MAX_LINES_PER_KIND]


def check_weights(path: str | Path, *, tiny_decoder: str | Path | None = None) -> list[str]:
    """One line per problem with the weights folder at ``path``; [] when it is complete and consistent.

    ``tiny_decoder``: a ``taew2_2`` file to check as well (``layout.find_tiny_decoder`` finds one in a folder).
    """
    folder = Path(path)
    if not folder.is_dir():
        return [f"{folder} is not a directory"]
    problems: list[str] = []
    for name in layout.REQUIRED_FILES:
        if not (folder / name).is_file():
            problems.append(f"{name} is missing")
    problems.extend(_check_tokenizer(folder))
    try:
        args = layout.read_args(folder)
    except ValueError as exc:
        if (folder / layout.CONFIG).is_file():
            problems.append(str(exc))
        args = YumeArgs.preset("yume-5b")  # still check the tensors against the published sizes

    checks = (
        (layout.DIT, read_safetensors_index, lambda: _expected_dit_shapes(args)),
        (layout.VAE, read_torch_zip_index, lambda: wan_vae_shapes(args.vae)),
        (layout.T5, read_torch_zip_index, lambda: wan_t5_shapes(args.text)),
    )
    for name, read_index, expected_shapes in checks:
        file = folder / name
        if not file.is_file():
            continue
        try:
            found = read_index(file)
        except WeightFileError as exc:
            problems.append(str(exc))
            continue
        except OSError as exc:
            problems.append(f"{name} cannot be read: {exc.strerror or exc}")
            continue
        if name == layout.DIT:
            found = {k: v for k, v in found.items() if not k.startswith(layout.IGNORED_DIT_PREFIXES)}
        problems.extend(_compare(name, found, expected_shapes(), FLOAT_DTYPES))
    if tiny_decoder is not None:
        problems.extend(check_tiny_decoder(Path(tiny_decoder)))
    return problems
