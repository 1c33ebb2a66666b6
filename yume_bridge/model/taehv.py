"""A tiny streaming decoder for Wan2.2 latents: the TAEHV architecture, loadable from the published ``taew2_2`` file.

TAEHV ("tiny autoencoder for Hunyuan video", whose ``taew2_2`` weights are
trained for the Wan2.2-TI2V-5B latent space) replaces the 3-D causal VAE decoder
by 2-D convolutions that see each frame plus one remembered frame per block:

* input: the *normalised* latents the DiT produces (no mean/std step), softly
  limited to ±3 by ``3·tanh(x/3)``; 48 channels;
* three stages of three memory blocks (widths 256, 128, 64); each stage ends
  with a nearest 2× spatial upsample and a time upsample (×1, ×2, ×2: one
  latent becomes 4 frames) made by a 1×1 conv that emits the channels of
  consecutive frames side by side;
* a memory block adds a conv stack over ``[frame, previous frame's input]`` to
  its input (ReLU after); the first frame's "previous" is zeros;
* a last 3×3 conv to 12 channels, pixel-shuffled 2× to RGB in [0, 1]; 8× · 2× =
  16× spatial, as the full VAE;
* the first 3 of the 4 frames of the first latent are start-up frames and are
  dropped, so T latents give 4T − 3 frames, as the full VAE.

Parameter names are the published checkpoint's keys (``decoder.<index>.…`` in
one sequential list); the file's ``encoder.*`` tensors are accepted and ignored
(the start image is encoded by the full VAE). Each block is causal in time, so
decoding latent by latent with the per-block memories equals decoding a whole
clip at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LATENT_CHANNELS",
    "TinyDecoder",
    "TinyDecoderError",
    "TinyStreamingDecoder",
    "load_tiny_decoder",
    "read_tiny_decoder_state",
    "taehv_decoder_shapes",
    "taehv_encoder_shapes",
]

LATENT_CHANNELS = 48
"""Wan2.2 latent channels (the ``taew2_2`` weights)."""
PATCH_SIZE = 2
"""The decoder's 12 output channels are pixel-shuffled 2× into RGB, as the full VAE's 12 are."""
STAGE_WIDTHS = (256, 128, 64)
OUTPUT_WIDTH = 64
STAGE_TIME_STRIDES = (1, 2, 2)
BLOCKS_PER_STAGE = 3
ENCODER_WIDTH = 64
ENCODER_TIME_STRIDES = (2, 2, 1)
TIME_UPSCALE = 4
STARTUP_FRAMES = TIME_UPSCALE - 1
"""Frames of the first latent that only prime the memories; dropped as the full VAE makes 1 frame there."""


class TinyDecoderError(ValueError):
    """A tiny-decoder file cannot be used; the message says which tensors are wrong."""


class _SoftClamp(nn.Module):
    """Limits latents to ±3 smoothly, as the published decoder was trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 3.0 * torch.tanh(x / 3.0)


class _Upsample2x(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")


def _conv3x3(in_channels: int, out_channels: int, *, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias)


class MemoryBlock(nn.Module):
    """``relu(x + convs([x, memory]))``; ``memory`` is the input this block saw one frame earlier."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _conv3x3(2 * channels, channels), nn.ReLU(), _conv3x3(channels, channels), nn.ReLU(),
            _conv3x3(channels, channels),
        )

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(torch.cat([x, memory], dim=1)) + x)


class TimeUpsample(nn.Module):
    """One frame → ``stride`` consecutive frames: a 1×1 conv emits their channels side by side."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(channels, channels * stride, 1, bias=False)

    def forward(self, x: torch.Tensor, batch: int) -> torch.Tensor:
        frames, channels, height, width = x.shape  # [B·F, C, H, W], frames batch-major
        y = self.conv(x)  # [B·F, stride·C, H, W]; channel group j is frame f·stride + j
        return y.reshape(batch * (frames // batch) * self.stride, channels, height, width)


def _decoder_layers() -> list[nn.Module]:
    """The published sequential order; a layer's index is its checkpoint key prefix."""
    layers: list[nn.Module] = [_SoftClamp(), _conv3x3(LATENT_CHANNELS, STAGE_WIDTHS[0]), nn.ReLU()]
    outputs = (*STAGE_WIDTHS[1:], OUTPUT_WIDTH)
    for width, out_width, stride in zip(STAGE_WIDTHS, outputs, STAGE_TIME_STRIDES, strict=True):
        layers += [MemoryBlock(width) for _ in range(BLOCKS_PER_STAGE)]
        layers += [_Upsample2x(), TimeUpsample(width, stride), _conv3x3(width, out_width, bias=False)]
    layers += [nn.ReLU(), _conv3x3(OUTPUT_WIDTH, 3 * PATCH_SIZE**2)]
    return layers


class TinyDecoder(nn.Module):
    """The decoder half of ``taew2_2``; its ``state_dict`` keys are the published ``decoder.*`` keys."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder = nn.Sequential(*_decoder_layers())
        self.memory_slots = [i for i, layer in enumerate(self.decoder) if isinstance(layer, MemoryBlock)]

    @property
    def dtype(self) -> torch.dtype:
        return self.decoder[1].weight.dtype

    @property
    def device(self) -> torch.device:
        return self.decoder[1].weight.device

    def run(self, latents: torch.Tensor, memories: dict[int, torch.Tensor]) -> torch.Tensor:
        """Consecutive latents [B, 48, T, h, w] → raw frames [B, 3, 4T, 16h, 16w] in [−1, 1].

        ``memories`` (layer index → the last input frame that block saw, [B, C, H, W])
        carries the state from the previous call and is updated in place; empty = a new clip.
        """
        batch, channels, time, height, width = latents.shape
        if channels != LATENT_CHANNELS:
            raise ValueError(f"the tiny decoder takes {LATENT_CHANNELS}-channel latents, got {channels}")
        x = latents.to(self.dtype).permute(0, 2, 1, 3, 4).reshape(batch * time, channels, height, width)
        for index, layer in enumerate(self.decoder):
            if isinstance(layer, MemoryBlock):
                frames = x.reshape(batch, -1, *x.shape[1:])  # [B, F, C, H, W]
                previous = memories.get(index)
                if previous is None:
                    previous = torch.zeros_like(frames[:, 0])
                past = torch.cat([previous.unsqueeze(1), frames[:, :-1]], dim=1)  # each frame's predecessor
                memories[index] = frames[:, -1]
                x = layer(x, past.reshape(x.shape))
            elif isinstance(layer, TimeUpsample):
                x = layer(x, batch)
            else:
                x = layer(x)
        x = F.pixel_shuffle(x, PATCH_SIZE)  # [B·4T, 3, H, W] in about [0, 1]
        x = x.reshape(batch, -1, *x.shape[1:]).permute(0, 2, 1, 3, 4)  # [B, 3, 4T, H, W]
        return (x.float().clamp(0.0, 1.0) * 2.0 - 1.0).clamp(-1.0, 1.0)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """A whole clip at once: [B, 48, T, h, w] → [B, 3, 4T − 3, 16h, 16w] in [−1, 1]."""
        return self.run(latents, {})[:, :, STARTUP_FRAMES:]


class TinyStreamingDecoder:
    """Decodes one chunk latent by latent (1 frame for the first, 4 for each later one), as the full VAE streams.

    Same interface as ``vae.StreamingDecoder``; each chunk starts with empty
    memories, as the full VAE decodes chunks independently.
    """

    def __init__(self, decoder: TinyDecoder, latents: torch.Tensor) -> None:
        self._decoder = decoder
        self._latents = latents.to(device=decoder.device)  # [B, 48, T, h, w]
        self.memories: dict[int, torch.Tensor] = {}
        self._next = 0

    @property
    def remaining(self) -> int:
        return self._latents.shape[2] - self._next

    def decode_next(self) -> torch.Tensor:
        """Frames of the next latent, [B, 3, 1 or 4, H, W] in [−1, 1]."""
        i = self._next
        if i >= self._latents.shape[2]:
            raise IndexError("all latents of this chunk are decoded")
        frames = self._decoder.run(self._latents[:, :, i : i + 1], self.memories)
        self._next += 1
        return frames[:, :, STARTUP_FRAMES:] if i == 0 else frames


def taehv_decoder_shapes() -> dict[str, tuple[int, ...]]:
    """Every ``decoder.*`` key of the published ``taew2_2`` file with its shape."""
    with torch.device("meta"):
        return {key: tuple(value.shape) for key, value in TinyDecoder().state_dict().items()}


def taehv_encoder_shapes() -> dict[str, tuple[int, ...]]:
    """The ``encoder.*`` keys the published file also holds (ignored here; used to write faithful fixtures).

    Encoder layout: a 3×3 conv 12→64 and ReLU, then three stages of [time pool
    (1×1 conv over ``stride`` frames' channels, no bias), 3×3 stride-2 conv (no
    bias), three memory blocks], then a 3×3 conv 64→48.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    width = ENCODER_WIDTH
    shapes["encoder.0.weight"] = (width, 3 * PATCH_SIZE**2, 3, 3)
    shapes["encoder.0.bias"] = (width,)
    index = 2
    for stride in ENCODER_TIME_STRIDES:
        shapes[f"encoder.{index}.conv.weight"] = (width, width * stride, 1, 1)
        shapes[f"encoder.{index + 1}.weight"] = (width, width, 3, 3)
        for block in range(index + 2, index + 2 + BLOCKS_PER_STAGE):
            shapes[f"encoder.{block}.conv.0.weight"] = (width, 2 * width, 3, 3)
            for conv in (0, 2, 4):
                if conv:
                    shapes[f"encoder.{block}.conv.{conv}.weight"] = (width, width, 3, 3)
                shapes[f"encoder.{block}.conv.{conv}.bias"] = (width,)
        index += 2 + BLOCKS_PER_STAGE
    shapes[f"encoder.{index}.weight"] = (LATENT_CHANNELS, width, 3, 3)
    shapes[f"encoder.{index}.bias"] = (LATENT_CHANNELS,)
    return shapes


def _time_upsample_keys() -> dict[str, int]:
    """Time-upsample conv key → its time stride."""
    with torch.device("meta"):
        model = TinyDecoder()
    return {f"decoder.{i}.conv.weight": layer.stride for i, layer in enumerate(model.decoder)
            if isinstance(layer, TimeUpsample)}


def reconcile_tiny_decoder_shapes(found: Mapping[str, tuple[int, ...]]) -> list[str]:
    """One line per key or shape in ``found`` (a file's key → shape) that a strict load would refuse.

    Accepted besides the exact decoder keys: the file's ``encoder.*`` tensors, and a
    time-upsample conv with more output rows than this decoder uses (a file trained
    with a larger time stride there: its last frame's rows are kept, as the
    published code does when time upsampling is turned off).
    """
    expected = taehv_decoder_shapes()
    time_keys = _time_upsample_keys()
    problems = [f"missing tensor {key} {list(shape)}" for key, shape in expected.items() if key not in found]
    for key, shape in found.items():
        if key.startswith("encoder."):
            continue
        if key not in expected:
            problems.append(f"unexpected tensor {key} {list(shape)}")
        elif shape != expected[key] and not (
            key in time_keys and shape[1:] == expected[key][1:] and shape[0] % expected[key][0] == 0
        ):
            problems.append(f"{key} has shape {list(shape)}, expected {list(expected[key])}")
    return problems


def read_tiny_decoder_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``taew2_2`` file (``.safetensors`` or the published ``.pth``), on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise TinyDecoderError(f"tiny decoder file {path} does not exist (the published taew2_2.pth or "
                               "taew2_2.safetensors)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file becomes one readable line
        raise TinyDecoderError(f"tiny decoder file {path.name} cannot be read: {exc}") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise TinyDecoderError(f"tiny decoder file {path.name} does not hold a state dict of tensors")
    return dict(state)


def load_tiny_decoder(path: str | Path, *, device: str | torch.device = "cpu",
                      dtype: torch.dtype = torch.float32) -> TinyDecoder:
    """Strictly load the decoder half of a ``taew2_2`` file; TinyDecoderError lists what does not fit."""
    state = read_tiny_decoder_state(path)
    problems = reconcile_tiny_decoder_shapes({key: tuple(value.shape) for key, value in state.items()})
    if problems:
        shown = "; ".join(problems[:8]) + (f"; … and {len(problems) - 8} more" if len(problems) > 8 else "")
        raise TinyDecoderError(f"{Path(path).name} is not a taew2_2 tiny decoder: {shown}")
    expected = taehv_decoder_shapes()
    decoder_state = {}
    for key, shape in expected.items():
        tensor = state[key]
        if tensor.shape[0] != shape[0]:  # a wider time-upsample conv: keep the last frame's rows
            tensor = tensor[-shape[0]:]
        decoder_state[key] = tensor.to(device=device, dtype=dtype)
    with torch.device("meta"):
        model = TinyDecoder()
    model.load_state_dict(decoder_state, strict=True, assign=True)
    return model.eval().requires_grad_(False)
