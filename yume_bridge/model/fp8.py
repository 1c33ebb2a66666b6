"""Optional FP8 linear layers for the DiT's blocks: torchao float8, dynamic row-wise scales.

Each ``nn.Linear`` inside the transformer blocks gets float8 (e4m3) weights with
one scale per output row and activations quantised per row at run time; the
patch embeddings, the text and time embeddings and the head keep their dtype.
torchao is an optional dependency (``pip install 'yume-bridge[fp8]'``) and its
float8 kernels need a CUDA GPU of compute capability 8.9 or newer (Ada, Hopper);
anything else is refused with a message that says so, before any weight changes.
"""

from __future__ import annotations

import importlib

import torch
from torch import nn

__all__ = ["FP8_MIN_CAPABILITY", "Fp8Unavailable", "convert_blocks_to_fp8"]

FP8_MIN_CAPABILITY = (8, 9)


class Fp8Unavailable(ValueError):
    """FP8 was asked for but cannot run here; the message says what is missing."""


def _torchao_quantization():  # noqa: ANN202 - a module
    try:
        return importlib.import_module("torchao.quantization")
    except ImportError:
        raise Fp8Unavailable(
            "FP8 linear layers need the torchao package: pip install 'yume-bridge[fp8]' (or turn fp8 off)"
        ) from None


def convert_blocks_to_fp8(model: nn.Module) -> None:
    """Swap the linear layers under ``model.blocks`` for torchao float8 row-wise ones, in place."""
    quantization = _torchao_quantization()
    weight = next(model.blocks.parameters())
    if weight.device.type != "cuda":
        raise Fp8Unavailable(f"FP8 linear layers need a CUDA GPU; the DiT is on {weight.device}")
    capability = torch.cuda.get_device_capability(weight.device)
    if capability < FP8_MIN_CAPABILITY:
        raise Fp8Unavailable(
            f"FP8 linear layers need compute capability ≥ {FP8_MIN_CAPABILITY[0]}.{FP8_MIN_CAPABILITY[1]}; "
            f"this GPU has {capability[0]}.{capability[1]}"
        )
    config = quantization.Float8DynamicActivationFloat8WeightConfig(granularity=quantization.PerRow())
    quantization.quantize_(model.blocks, config, filter_fn=lambda module, _: isinstance(module, nn.Linear))
