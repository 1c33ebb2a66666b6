"""Which attention kernel the DiT runs: FlashAttention-3 or one of PyTorch's SDPA backends, chosen by probing.

``AttentionBackend.AUTO`` on CUDA tries, in order, FlashAttention-3 (when the
``flash_attn_interface`` package is installed), cuDNN attention, FlashAttention-2,
memory-efficient attention and the maths fallback; the first that runs a small
probe at the model's head size and dtype is used for every call, so the
backend that ran is known exactly (``WanModel.attention_backend_used``). On
CPU, AUTO keeps PyTorch's own choice. A backend asked for by name that cannot
run raises instead of silently falling back.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

__all__ = ["CUDA_PREFERENCE", "AttentionBackend", "attend", "resolve_attention_backend"]


class AttentionBackend(enum.Enum):
    AUTO = "auto"
    """Resolve at configuration time: the first of ``CUDA_PREFERENCE`` that runs on CUDA, DEFAULT elsewhere."""
    DEFAULT = "default"
    """PyTorch's own SDPA dispatch, unconstrained."""
    FA3 = "fa3"
    CUDNN = "cudnn"
    FLASH = "flash"
    EFFICIENT = "efficient"
    MATH = "math"


CUDA_PREFERENCE = (
    AttentionBackend.FA3,
    AttentionBackend.CUDNN,
    AttentionBackend.FLASH,
    AttentionBackend.EFFICIENT,
    AttentionBackend.MATH,
)
"""Fastest first on Hopper: FA3 and cuDNN attention are ≈1.7× the FA2 default (docs/model.md)."""

_SDPA_BACKENDS = {
    AttentionBackend.CUDNN: SDPBackend.CUDNN_ATTENTION,
    AttentionBackend.FLASH: SDPBackend.FLASH_ATTENTION,
    AttentionBackend.EFFICIENT: SDPBackend.EFFICIENT_ATTENTION,
    AttentionBackend.MATH: SDPBackend.MATH,
}


_flash_attention_3: Callable[..., torch.Tensor] | None = None
"""``flash_attn_interface.flash_attn_func``, imported by the first FA3 probe (not inside compiled code)."""


def _import_flash_attention_3() -> Callable[..., torch.Tensor]:
    """The FlashAttention-3 Hopper build's entry point; ImportError when the package is absent."""
    global _flash_attention_3
    if _flash_attention_3 is None:
        _flash_attention_3 = importlib.import_module("flash_attn_interface").flash_attn_func
    return _flash_attention_3


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backend: AttentionBackend) -> torch.Tensor:
    """Unmasked, non-causal attention with scale 1/√d; q, k, v and the result are [B, L, heads, d]."""
    if backend is AttentionBackend.FA3:
        out = (_flash_attention_3 or _import_flash_attention_3())(q, k, v)
        return out[0] if isinstance(out, tuple) else out  # some releases also return the log-sum-exp
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, n, L, d]
    if backend in (AttentionBackend.DEFAULT, AttentionBackend.AUTO):
        out = F.scaled_dot_product_attention(q, k, v)
    else:
        with sdpa_kernel([_SDPA_BACKENDS[backend]]):
            out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2)  # [B, L, n, d]


def _runs(backend: AttentionBackend, device: torch.device, dtype: torch.dtype, head_dim: int, heads: int) -> bool:
    probe = torch.randn(1, 64, heads, head_dim, device=device, dtype=dtype)
    try:
        attend(probe, probe, probe, backend)
    except (ImportError, RuntimeError, NotImplementedError, AttributeError):
        return False
    return True


def resolve_attention_backend(
    requested: AttentionBackend, *, device: torch.device, dtype: torch.dtype, head_dim: int, heads: int
) -> AttentionBackend:
    """The backend that will actually run: AUTO resolved by probing; a named one checked, or ValueError."""
    if requested is AttentionBackend.AUTO:
        if device.type != "cuda":
            return AttentionBackend.DEFAULT
        for candidate in CUDA_PREFERENCE:
            if _runs(candidate, device, dtype, head_dim, heads):
                return candidate
        return AttentionBackend.DEFAULT
    if requested is not AttentionBackend.DEFAULT and not _runs(requested, device, dtype, head_dim, heads):
        why = "the flash_attn_interface package is not installed" if requested is AttentionBackend.FA3 else (
            "PyTorch has no such kernel for this device, dtype and head size"
        )
        raise ValueError(
            f"attention backend {requested.value!r} cannot run on {device} in {dtype} (head_dim {head_dim}): "
            f"{why}; use 'auto'"
        )
    return requested
