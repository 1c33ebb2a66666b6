"""The published Yume-5B-720P folder layout and how its sizes are read (model-reference.md §6).

```
Yume-5B-720P/
  config.json                           DiT sizes (diffusers ConfigMixin dump of WanModel)
  diffusion_pytorch_model.safetensors   DiT, one file, published key names
  Wan2.2_VAE.pth                        VAE state dict, reference key names
  models_t5_umt5-xxl-enc-bf16.pth       umT5-XXL encoder state dict, reference key names
  google/umt5-xxl/                      tokenizer files
  yume_bridge.json                      optional, ours: VAE / text-encoder sizes of test folders
  taew2_2.safetensors or taew2_2.pth    optional: the TAEHV tiny decoder for ``--decoder tiny``
```
"""

from __future__ import annotations

import json
from pathlib import Path

from yume_bridge.model.args import ModelArgs, YumeArgs

__all__ = [
    "CONFIG",
    "DIT",
    "IGNORED_DIT_PREFIXES",
    "REQUIRED_FILES",
    "SIDECAR",
    "T5",
    "TINY_DECODER_FILES",
    "TOKENIZER",
    "VAE",
    "find_tiny_decoder",
    "missing_files",
    "read_args",
]

CONFIG = "config.json"
DIT = "diffusion_pytorch_model.safetensors"
VAE = "Wan2.2_VAE.pth"
T5 = "models_t5_umt5-xxl-enc-bf16.pth"
TOKENIZER = "google/umt5-xxl"
SIDECAR = "yume_bridge.json"
REQUIRED_FILES = (CONFIG, DIT, VAE, T5)
TINY_DECODER_FILES = ("taew2_2.safetensors", "taew2_2.pth")
"""The published tiny-decoder file names, looked for in the weights folder (optional)."""

IGNORED_DIT_PREFIXES = ("sideblock.", "mask_token")
"""Training-only modules (MDT masking) that a checkpoint might carry; never used at inference (§1.3)."""


def missing_files(folder: Path) -> list[str]:
    """A fast first look that needs no torch: one line per file the folder lacks; [] when all are there."""
    if not folder.is_dir():
        return [f"{folder} is not a directory"]
    if not any(folder.iterdir()):
        return [f"{folder} is empty: download the Yume-5B-720P weights into it (see docs/model.md)"]
    return [f"{name} is missing" for name in REQUIRED_FILES if not (folder / name).is_file()]


def read_args(folder: Path) -> YumeArgs:
    """Sizes of the model in ``folder``: DiT from config.json, the rest from yume_bridge.json or full size.

    Raises ValueError with a one-line reason when either file is unreadable.
    """
    try:
        config = json.loads((folder / CONFIG).read_text("utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{CONFIG} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{CONFIG} is not readable JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{CONFIG} must hold a JSON object")
    try:
        dit = ModelArgs.from_config(config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{CONFIG}: {exc}") from None
    try:
        sidecar = json.loads((folder / SIDECAR).read_text("utf-8")) if (folder / SIDECAR).exists() else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{SIDECAR} is not readable JSON: {exc}") from None
    if not isinstance(sidecar, dict):
        raise ValueError(f"{SIDECAR} must hold a JSON object")
    try:
        return YumeArgs.preset("yume-5b").with_sidecar(sidecar, dit=dit)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{CONFIG} / {SIDECAR}: {exc}") from None


def find_tiny_decoder(folder: Path) -> Path | None:
    """The tiny-decoder file in ``folder``, if it holds one."""
    for name in TINY_DECODER_FILES:
        if (folder / name).is_file():
            return folder / name
    return None
