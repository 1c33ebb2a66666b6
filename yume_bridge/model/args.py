"""Every size of the Yume1.5 5B stack in frozen dataclasses, with named presets.

``YumeArgs.preset("yume-5b")`` is the published model (model-reference.md §1, §3, §4.1);
``YumeArgs.preset("tiny")`` is a few-megabyte random model with the same
structure, used by the tests and the CPU benchmark. A weights folder describes
its own DiT sizes in ``config.json`` (as the published one does); the VAE and
text-encoder sizes come from the optional ``yume_bridge.json`` sidecar that only
test folders carry, and default to the full-size values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

__all__ = ["ModelArgs", "TextEncoderArgs", "VaeArgs", "YumeArgs", "PRESETS"]


@dataclass(frozen=True)
class ModelArgs:
    """The DiT: Wan2.2-TI2V-5B backbone plus the five TSCM patch embeddings (§1)."""

    dim: int = 3072
    ffn_dim: int = 14336
    num_layers: int = 30
    num_heads: int = 24
    in_dim: int = 48
    out_dim: int = 48
    patch_size: tuple[int, int, int] = (1, 2, 2)
    text_len: int = 512
    text_dim: int = 4096
    freq_dim: int = 256
    eps: float = 1e-6
    rope_theta: float = 10000.0

    def __post_init__(self) -> None:
        if self.dim % self.num_heads:
            raise ValueError(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if self.head_dim % 2 or self.head_dim < 6:
            raise ValueError(f"head_dim {self.head_dim} must be even and >= 6 for the 3-axis RoPE")
        if self.freq_dim % 2:
            raise ValueError(f"freq_dim {self.freq_dim} must be even")

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def rope_pairs(self) -> tuple[int, int, int]:
        """Complex pairs per head for (time, height, width): 22/21/21 at head_dim 128.

        The reference splits the head_dim/2 pairs as c − 2·(c//3), c//3, c//3
        (c = head_dim/2): height and width get a third each, time the rest.
        """
        pairs = self.head_dim // 2
        spatial = pairs // 3
        return pairs - 2 * spatial, spatial, spatial

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelArgs:
        """Read a published ``config.json`` (diffusers ConfigMixin dump of WanModel).

        ``model_type`` is not checked: in Wan2.2 it does not change the parameter
        layout, and the key/shape check of the weights decides. Settings this
        implementation does not have (windowed attention, no q/k or cross-attention
        norm) are refused.
        """
        if tuple(config.get("window_size", (-1, -1))) != (-1, -1):
            raise ValueError(f"config.json window_size {config['window_size']} is not global attention (-1, -1)")
        for flag in ("qk_norm", "cross_attn_norm"):
            if not config.get(flag, True):
                raise ValueError(f"config.json {flag} is false; Yume-5B uses {flag}=true")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in config:
                value = config[f.name]
                values[f.name] = tuple(value) if f.name == "patch_size" else value
        return cls(**values)

    def to_config(self) -> dict[str, Any]:
        """The ``config.json`` the published folder carries for these sizes."""
        return {
            "_class_name": "WanModel",
            "_diffusers_version": "0.32.0",
            "model_type": "ti2v",
            "patch_size": list(self.patch_size),
            "text_len": self.text_len,
            "in_dim": self.in_dim,
            "dim": self.dim,
            "ffn_dim": self.ffn_dim,
            "freq_dim": self.freq_dim,
            "text_dim": self.text_dim,
            "out_dim": self.out_dim,
            "num_heads": self.num_heads,
            "num_layers": self.num_layers,
            "window_size": [-1, -1],
            "qk_norm": True,
            "cross_attn_norm": True,
            "eps": self.eps,
        }


@dataclass(frozen=True)
class VaeArgs:
    """The Wan2.2 VAE (§3) in diffusers ``AutoencoderKLWan`` terms (§11)."""

    base_dim: int = 160
    decoder_base_dim: int = 256
    z_dim: int = 48
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    temperal_downsample: tuple[bool, ...] = (False, True, True)
    in_channels: int = 12
    out_channels: int = 12
    patch_size: int = 2
    scale_factor_temporal: int = 4
    scale_factor_spatial: int = 16

    def diffusers_config(self) -> dict[str, Any]:
        config = asdict(self)
        config["dim_mult"] = list(self.dim_mult)
        config["temperal_downsample"] = list(self.temperal_downsample)
        config["is_residual"] = True
        return config


@dataclass(frozen=True)
class TextEncoderArgs:
    """The umT5-XXL encoder (§4.1) in the reference's own terms."""

    vocab_size: int = 256384
    dim: int = 4096
    dim_attn: int = 4096
    dim_ffn: int = 10240
    num_heads: int = 64
    num_layers: int = 24
    num_buckets: int = 32
    max_distance: int = 128
    eps: float = 1e-6
    text_len: int = 512

    def hf_config(self) -> dict[str, Any]:
        """Keyword arguments for ``transformers.UMT5Config``."""
        return {
            "vocab_size": self.vocab_size,
            "d_model": self.dim,
            "d_kv": self.dim_attn // self.num_heads,
            "d_ff": self.dim_ffn,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "relative_attention_num_buckets": self.num_buckets,
            "relative_attention_max_distance": self.max_distance,
            "feed_forward_proj": "gated-gelu",
            "layer_norm_epsilon": self.eps,
            "dropout_rate": 0.0,
            "is_encoder_decoder": False,
            "use_cache": False,
        }


def _from_mapping(cls: type, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown fields {unknown}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**converted)


@dataclass(frozen=True)
class YumeArgs:
    """The whole stack: DiT, VAE and text encoder."""

    name: str = "yume-5b"
    dit: ModelArgs = field(default_factory=ModelArgs)
    vae: VaeArgs = field(default_factory=VaeArgs)
    text: TextEncoderArgs = field(default_factory=TextEncoderArgs)
    predicted_latents: int = 8
    """Latent frames generated per chunk (``latent_frame_zero``, §5.1)."""

    def __post_init__(self) -> None:
        if self.dit.in_dim != self.vae.z_dim or self.dit.out_dim != self.vae.z_dim:
            raise ValueError(f"DiT in/out dim {self.dit.in_dim}/{self.dit.out_dim} != VAE z_dim {self.vae.z_dim}")
        if self.dit.text_dim != self.text.dim:
            raise ValueError(f"DiT text_dim {self.dit.text_dim} != text encoder dim {self.text.dim}")

    @property
    def frames_per_chunk(self) -> int:
        """Decoded frames per chunk: 1 + 4·(latents − 1) = 29 (§3)."""
        return 1 + self.vae.scale_factor_temporal * (self.predicted_latents - 1)

    @property
    def pixels_per_latent(self) -> int:
        return self.vae.scale_factor_spatial

    @classmethod
    def preset(cls, name: str) -> YumeArgs:
        try:
            return PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}") from None

    def with_sidecar(self, sidecar: Mapping[str, Any], dit: ModelArgs | None = None) -> YumeArgs:
        """Apply a ``yume_bridge.json`` sidecar {"vae": {...}, "text_encoder": {...}} and optionally DiT sizes."""
        unknown = sorted(set(sidecar) - {"format", "name", "vae", "text_encoder"})
        if unknown:
            raise ValueError(f"yume_bridge.json: unknown sections {unknown}")
        vae, text = self.vae, self.text
        if "vae" in sidecar:
            vae = _from_mapping(VaeArgs, sidecar["vae"], "yume_bridge.json vae")
        if "text_encoder" in sidecar:
            text = _from_mapping(TextEncoderArgs, sidecar["text_encoder"], "yume_bridge.json text_encoder")
        name = str(sidecar.get("name", self.name))
        return replace(self, name=name, dit=dit or self.dit, vae=vae, text=text)

    def sidecar(self) -> dict[str, Any]:
        vae = asdict(self.vae)
        vae["dim_mult"] = list(self.vae.dim_mult)
        vae["temperal_downsample"] = list(self.vae.temperal_downsample)
        return {"format": 1, "name": self.name, "vae": vae, "text_encoder": asdict(self.text)}


PRESETS: dict[str, YumeArgs] = {
    "yume-5b": YumeArgs(),
    "tiny": YumeArgs(
        name="tiny",
        # head_dim 16 → RoPE pairs 4/2/2; z_dim stays 48 so the §3 latent constants apply.
        dit=ModelArgs(dim=64, ffn_dim=128, num_layers=2, num_heads=4, text_dim=32, freq_dim=32),
        vae=VaeArgs(base_dim=4, decoder_base_dim=4),
        text=TextEncoderArgs(
            vocab_size=256, dim=32, dim_attn=32, dim_ffn=64, num_heads=4, num_layers=2, num_buckets=32
        ),
    ),
}
