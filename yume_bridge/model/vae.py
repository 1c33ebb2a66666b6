"""The Wan2.2 VAE through diffusers' ``AutoencoderKLWan``: key table, normalisation, streaming decode.

diffusers reproduces the reference VAE once ``Wan2.2_VAE.pth`` is renamed
(model-reference.md §11); this module holds that rename table, the published key
layout (used to check a folder and to write test fixtures), the 48 latent
constants of §3, and a decoder that yields frames latent by latent through the
causal feature cache instead of decoding a whole clip at once.

Two lossless speed changes are made to diffusers' modules when the VAE is
built: spatial zero padding happens inside each convolution instead of by
``F.pad`` copying the whole activation first (only the causal time padding,
which the feature cache needs, is still concatenated), and on CUDA the convs
can be switched to channels-last 3-D memory (``use_channels_last``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLWan
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d, unpatchify

from yume_bridge.model.args import VaeArgs

__all__ = [
    "LATENTS_MEAN",
    "LATENTS_STD",
    "DecoderSnapshot",
    "StreamingDecoder",
    "YumeVAE",
    "build_vae",
    "use_channels_last",
    "convert_wan_vae_key",
    "convert_wan_vae_state_dict",
    "wan_vae_shapes",
]

# fmt: off
LATENTS_MEAN = (
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891,
    0.1570, -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
    -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230, -0.0313, -0.1649, 0.0117, 0.0723,
    -0.2839, -0.2083, -0.0520, 0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
)
LATENTS_STD = (
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901,
    0.6885, 0.6165, 0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
    0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944,
    0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
)
# fmt: on

# Published (Wan) key → diffusers key; applied in order, every matching rule rewrites (§11).
_WAN_TO_DIFFUSERS: tuple[tuple[str, str], ...] = (
    (r"^conv1\.", "quant_conv."),
    (r"^conv2\.", "post_quant_conv."),
    (r"^(encoder|decoder)\.conv1\.", r"\1.conv_in."),
    (r"^(encoder|decoder)\.head\.0\.", r"\1.norm_out."),
    (r"^(encoder|decoder)\.head\.2\.", r"\1.conv_out."),
    (r"^(encoder|decoder)\.middle\.0\.", r"\1.mid_block.resnets.0."),
    (r"^(encoder|decoder)\.middle\.1\.", r"\1.mid_block.attentions.0."),
    (r"^(encoder|decoder)\.middle\.2\.", r"\1.mid_block.resnets.1."),
    (
        r"^encoder\.downsamples\.(\d+)\.downsamples\.\d+\.(resample|time_conv)\.",
        r"encoder.down_blocks.\1.downsampler.\2.",
    ),
    (r"^encoder\.downsamples\.(\d+)\.downsamples\.(\d+)\.", r"encoder.down_blocks.\1.resnets.\2."),
    (r"^decoder\.upsamples\.(\d+)\.upsamples\.\d+\.(resample|time_conv)\.", r"decoder.up_blocks.\1.upsampler.\2."),
    (r"^decoder\.upsamples\.(\d+)\.upsamples\.(\d+)\.", r"decoder.up_blocks.\1.resnets.\2."),
    (r"\.residual\.0\.", ".norm1."),
    (r"\.residual\.2\.", ".conv1."),
    (r"\.residual\.3\.", ".norm2."),
    (r"\.residual\.6\.", ".conv2."),
    (r"\.shortcut\.", ".conv_shortcut."),
)
_RULES = tuple((re.compile(pattern), replacement) for pattern, replacement in _WAN_TO_DIFFUSERS)


def convert_wan_vae_key(key: str) -> str:
    for pattern, replacement in _RULES:
        key = pattern.sub(replacement, key)
    return key


def convert_wan_vae_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {convert_wan_vae_key(key): value for key, value in state_dict.items()}


def wan_vae_shapes(args: VaeArgs) -> dict[str, tuple[int, ...]]:
    """Every key of a published ``Wan2.2_VAE.pth`` for these sizes, with its shape.

    Written from the reference module layout (WanVAE_: Encoder3d, Decoder3d,
    residual blocks with RMS norms and causal convs), independently of diffusers.
    """
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name: str, cin: int, cout: int, kernel: tuple[int, ...]) -> None:
        shapes[f"{name}.weight"] = (cout, cin, *kernel)
        shapes[f"{name}.bias"] = (cout,)

    def rms(name: str, channels: int, images: bool = False) -> None:
        shapes[f"{name}.gamma"] = (channels, 1, 1) if images else (channels, 1, 1, 1)

    def residual(prefix: str, cin: int, cout: int) -> None:
        rms(f"{prefix}.residual.0", cin)
        conv(f"{prefix}.residual.2", cin, cout, (3, 3, 3))
        rms(f"{prefix}.residual.3", cout)
        conv(f"{prefix}.residual.6", cout, cout, (3, 3, 3))
        if cin != cout:
            conv(f"{prefix}.shortcut", cin, cout, (1, 1, 1))

    def middle(prefix: str, channels: int) -> None:
        residual(f"{prefix}.middle.0", channels, channels)
        rms(f"{prefix}.middle.1.norm", channels, images=True)
        conv(f"{prefix}.middle.1.to_qkv", channels, 3 * channels, (1, 1))
        conv(f"{prefix}.middle.1.proj", channels, channels, (1, 1))
        residual(f"{prefix}.middle.2", channels, channels)

    z = args.z_dim
    levels = len(args.dim_mult)
    # Encoder: 12 patchified channels in, 2·z out (mean and log-variance).
    dims = [args.base_dim * m for m in (1, *args.dim_mult)]
    conv("encoder.conv1", args.in_channels, dims[0], (3, 3, 3))
    for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        prefix = f"encoder.downsamples.{i}.downsamples"
        for j in range(args.num_res_blocks):
            residual(f"{prefix}.{j}", cin if j == 0 else cout, cout)
        if i != levels - 1:
            conv(f"{prefix}.{args.num_res_blocks}.resample.1", cout, cout, (3, 3))
            if args.temperal_downsample[i]:
                conv(f"{prefix}.{args.num_res_blocks}.time_conv", cout, cout, (3, 1, 1))
    middle("encoder", dims[-1])
    rms("encoder.head.0", dims[-1])
    conv("encoder.head.2", dims[-1], 2 * z, (3, 3, 3))
    conv("conv1", 2 * z, 2 * z, (1, 1, 1))
    conv("conv2", z, z, (1, 1, 1))
    # Decoder: widest first, one more residual block per level than the encoder.
    dims = [args.decoder_base_dim * m for m in (args.dim_mult[-1], *reversed(args.dim_mult))]
    temperal_upsample = tuple(reversed(args.temperal_downsample))
    conv("decoder.conv1", z, dims[0], (3, 3, 3))
    middle("decoder", dims[0])
    for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        prefix = f"decoder.upsamples.{i}.upsamples"
        for j in range(args.num_res_blocks + 1):
            residual(f"{prefix}.{j}", cin if j == 0 else cout, cout)
        if i != levels - 1:
            conv(f"{prefix}.{args.num_res_blocks + 1}.resample.1", cout, cout, (3, 3))
            if temperal_upsample[i]:
                conv(f"{prefix}.{args.num_res_blocks + 1}.time_conv", cout, 2 * cout, (3, 1, 1))
    rms("decoder.head.0", dims[-1])
    conv("decoder.head.2", dims[-1], args.out_channels, (3, 3, 3))
    return shapes


class InPlacePaddingCausalConv3d(WanCausalConv3d):
    """diffusers' causal conv with its spatial zero padding done by the convolution itself.

    diffusers pads height, width and time with ``F.pad`` before every conv: a
    full copy of the activation (≈22 GB of traffic per latent at 544×960). The
    convolution pads height and width for free, so only the causal time padding
    (cache frames or zeros in front) is still concatenated. Same numbers.
    """

    def forward(self, x: torch.Tensor, cache_x: torch.Tensor | None = None) -> torch.Tensor:
        time_padding = self._padding[4]
        if cache_x is not None and time_padding > 0:
            x = torch.cat([cache_x.to(x.device), x], dim=2)  # [B, C, cached + T, H, W]
            time_padding -= cache_x.shape[2]
        if time_padding > 0:
            x = F.pad(x, (0, 0, 0, 0, time_padding, 0))
        return self._conv_forward(x, self.weight, self.bias)


def _pad_inside_convolutions(model: AutoencoderKLWan) -> None:
    for module in model.modules():
        if type(module) is WanCausalConv3d:
            width, _, height, _, _, _ = module._padding
            module.padding = (0, height, width)
            module.__class__ = InPlacePaddingCausalConv3d


def build_vae(args: VaeArgs) -> AutoencoderKLWan:
    """The diffusers VAE for these sizes, on the current default device (use ``torch.device('meta')``)."""
    model = AutoencoderKLWan(**args.diffusers_config(), latents_mean=list(LATENTS_MEAN), latents_std=list(LATENTS_STD))
    _pad_inside_convolutions(model)
    return model


def use_channels_last(vae: YumeVAE) -> None:
    """Store the 3-D convs' weights channels-last, which cuDNN runs faster in bf16 on recent GPUs.

    Activations follow the weights' layout after the first conv; outputs are the
    same numbers. Worth it only on CUDA: the benchmark measures both.
    """
    formats = {5: torch.channels_last_3d, 4: torch.channels_last}  # 3-D convs, and the 2-D resample/attention convs
    for param in vae.model.parameters():
        if param.dim() in formats:
            param.data = param.data.contiguous(memory_format=formats[param.dim()])


@dataclass(frozen=True)
class DecoderSnapshot:
    """A streaming decoder's causal state at a latent boundary: restore it to decode from there again.

    diffusers replaces the cache entries instead of writing into them, so the
    snapshot holds references, not copies: it costs only the memory of the
    entries that later latents would otherwise have freed.
    """

    next_latent: int
    cache: tuple[object, ...]


class StreamingDecoder:
    """Decodes one chunk's latents one at a time with its own causal feature cache.

    The first latent gives 1 frame, every later one 4 (§3); each chunk starts
    from a fresh cache, as the reference decodes chunks independently. The causal
    state is an explicit object (``snapshot``/``restore``) so that a caller can go
    back to any latent boundary it kept, e.g. after pre-emption; another decoder
    (one with memory across chunks) offers the same two methods.
    """

    def __init__(self, vae: YumeVAE, latents: torch.Tensor) -> None:
        if not vae.has_decoder:
            raise RuntimeError("this VAE was loaded without its decoder (frames come from the tiny decoder)")
        self._vae = vae
        decoder = vae.model.decoder
        # Un-normalise and apply the 1×1 post-quant conv up front: both are per-frame.
        self._x = vae.model.post_quant_conv(vae.denormalize(latents).to(vae.dtype))  # [B, z, T, h, w]
        self._cache: list[torch.Tensor | None] = [None] * sum(isinstance(m, WanCausalConv3d) for m in decoder.modules())
        self._next = 0

    @property
    def remaining(self) -> int:
        return self._x.shape[2] - self._next

    @property
    def next_latent(self) -> int:
        return self._next

    def snapshot(self) -> DecoderSnapshot:
        """The state before the next latent; cheap (references only)."""
        return DecoderSnapshot(self._next, tuple(self._cache))

    def restore(self, snapshot: DecoderSnapshot) -> None:
        """Continue from ``snapshot`` as if nothing had been decoded after it."""
        if not 0 <= snapshot.next_latent <= self._x.shape[2]:
            raise ValueError(f"snapshot at latent {snapshot.next_latent} is outside this chunk's "
                             f"{self._x.shape[2]} latents")
        self._next = snapshot.next_latent
        self._cache = list(snapshot.cache)

    def decode_next(self) -> torch.Tensor:
        """Frames of the next latent, [B, 3, 1 or 4, H, W] in [−1, 1]."""
        i = self._next
        if i >= self._x.shape[2]:
            raise IndexError("all latents of this chunk are decoded")
        model = self._vae.model
        out = model.decoder(self._x[:, :, i : i + 1], feat_cache=self._cache, feat_idx=[0], first_chunk=i == 0)
        if model.config.patch_size is not None:
            out = unpatchify(out, patch_size=model.config.patch_size)  # [B, 3, n, H, W]
        self._next += 1
        return out.clamp(-1.0, 1.0)


class YumeVAE:
    """Normalised encode/decode around a loaded ``AutoencoderKLWan``."""

    def __init__(self, model: AutoencoderKLWan) -> None:
        self.model = model.eval()
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self._mean = torch.tensor(LATENTS_MEAN, dtype=torch.float32, device=self.device).view(1, -1, 1, 1, 1)
        self._inv_std = 1.0 / torch.tensor(LATENTS_STD, dtype=torch.float32, device=self.device).view(1, -1, 1, 1, 1)
        if self._mean.shape[1] != model.config.z_dim:
            raise ValueError(f"VAE z_dim {model.config.z_dim} does not match the {len(LATENTS_MEAN)} latent constants")

    def normalize(self, mu: torch.Tensor) -> torch.Tensor:
        return (mu.float() - self._mean) * self._inv_std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z.float() / self._inv_std + self._mean

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """RGB video [B, 3, 1+4k, H, W] in [−1, 1] → normalised latents [B, z, 1+k, H/16, W/16] (fp32).

        The latent is the mean of the posterior; no sampling (§3).
        """
        posterior = self.model.encode(video.to(device=self.device, dtype=self.dtype)).latent_dist
        return self.normalize(posterior.mean)

    @property
    def has_decoder(self) -> bool:
        return self.model.decoder is not None

    def drop_decoder(self) -> None:
        """Free the decoder half (another decoder makes the frames); encoding start images still works."""
        self.model.decoder = None
        self.model.post_quant_conv = None

    def decode_stream(self, latents: torch.Tensor) -> Iterator[torch.Tensor]:
        """Yield [B, 3, n, H, W] frames per latent: 1 for the first, 4 for each later one."""
        decoder = StreamingDecoder(self, latents)
        while decoder.remaining:
            yield decoder.decode_next()

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return torch.cat(list(self.decode_stream(latents)), dim=2)
