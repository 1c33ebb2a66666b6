"""Load a published Yume-5B folder: check → meta device → mmap → rename table → strict load → cast once.

Every failure a user can cause (missing file, renamed key, wrong shape,
truncated file, unreadable config) surfaces as ``LoadError`` carrying one
line per problem; the backend turns it into a ``BackendError``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import safe_open
from torch import nn

from yume_bridge.model import layout
from yume_bridge.model.args import YumeArgs
from yume_bridge.model.checkweights import check_weights
from yume_bridge.model.dit import FP32_PARAMETERS, DitOptions, WanModel
from yume_bridge.model.taehv import TinyDecoder, TinyDecoderError, load_tiny_decoder
from yume_bridge.model.text import TextEncoder, build_text_encoder, convert_wan_t5_state_dict
from yume_bridge.model.vae import YumeVAE, build_vae, convert_wan_vae_state_dict, use_channels_last

__all__ = [
    "LoadError",
    "LoadOptions",
    "YumeModels",
    "build_random_models",
    "load_dit",
    "load_models",
    "load_text_encoder",
    "load_vae",
]

Progress = Callable[[str, float], None]
Component = TypeVar("Component")
Loader = Callable[[Path, YumeArgs, "LoadOptions", Progress], Component]


class LoadError(Exception):
    """The folder cannot be loaded; ``problems`` holds one line each."""

    def __init__(self, folder: Path, problems: list[str]) -> None:
        self.folder = folder
        self.problems = problems
        super().__init__(f"weights folder {folder} is not usable: " + "; ".join(problems))


@dataclass(frozen=True)
class LoadOptions:
    device: str = "cuda"
    dtype: torch.dtype = torch.bfloat16
    """DiT compute dtype; norms, modulation, time embedding and head stay fp32."""
    vae_dtype: torch.dtype = torch.float32
    vae_device: str | None = None
    """Where the VAE (and the tiny decoder) run; None = ``device``. Sampled latents are copied there to decode."""
    text_device: str | None = None
    """Where T5 runs; None = ``device``."""
    text_dtype: torch.dtype = torch.bfloat16
    rope_dtype: torch.dtype | None = None
    """Overrides ``dit_options.rope_dtype`` when set (older callers set it here)."""
    dit_options: DitOptions = field(default_factory=DitOptions)
    """The DiT's speed levers (compile, attention backend, caches, FP8), applied right after loading."""
    decoder: str = "full"
    """"full": the Wan2.2 VAE decoder; "tiny": the TAEHV ``taew2_2`` decoder (the VAE still encodes start images)."""
    tiny_decoder: Path | None = None
    """The ``taew2_2`` file for ``decoder="tiny"``; None = ``layout.find_tiny_decoder(folder)``."""
    vae_channels_last: bool = False
    """Channels-last 3-D VAE convs (CUDA; see ``vae.use_channels_last``)."""

    def __post_init__(self) -> None:
        if self.decoder not in ("full", "tiny"):
            raise ValueError(f"decoder must be 'full' or 'tiny', got {self.decoder!r}")

    @property
    def decode_device(self) -> str:
        return self.vae_device or self.device

    @property
    def effective_dit_options(self) -> DitOptions:
        if self.rope_dtype is None:
            return self.dit_options
        return replace(self.dit_options, rope_dtype=self.rope_dtype)


@dataclass
class YumeModels:
    """The three loaded networks and their sizes."""

    args: YumeArgs
    dit: WanModel
    vae: YumeVAE
    text: TextEncoder
    device: torch.device
    tiny_decoder: TinyDecoder | None = None
    """Set when frames are decoded by the tiny decoder instead of the VAE."""

    @property
    def decode_device(self) -> torch.device:
        """Where frames are decoded (the VAE's device, or the tiny decoder's); ``device`` is the DiT's."""
        return self.tiny_decoder.device if self.tiny_decoder is not None else self.vae.device


def _no_progress(stage: str, fraction: float) -> None:
    pass


def _materialise(
    module: nn.Module,
    tensors: Mapping[str, torch.Tensor] | tuple[list[str], Callable[[str], torch.Tensor]],
    *,
    device: torch.device,
    dtype: torch.dtype,
    keep_fp32: Callable[[str], bool],
    stage: str,
    progress: Progress,
) -> None:
    """Cast each tensor once onto ``device`` and strict-load into a meta-built module.

    ``tensors`` is a mapping of (memory-mapped) tensors or (keys, getter) so
    that only one source tensor at a time needs to be read into memory.
    """
    keys, get = (list(tensors), tensors.__getitem__) if isinstance(tensors, Mapping) else tensors
    state: dict[str, torch.Tensor] = {}
    total = max(len(keys), 1)
    for i, key in enumerate(keys):
        tensor = get(key)
        target = torch.float32 if keep_fp32(key) or not tensor.is_floating_point() else dtype
        state[key] = tensor.to(device=device, dtype=target)
        if i % 16 == 0:
            progress(stage, i / total)
    # Strict: every missing or unexpected key is an error (reported readably, not as a traceback).
    result = module.load_state_dict(state, strict=False, assign=True)
    problems = [f"missing tensor {k}" for k in result.missing_keys]
    problems += [f"unexpected tensor {k}" for k in result.unexpected_keys]
    if problems:
        raise ValueError("; ".join(problems[:8]))
    progress(stage, 1.0)


def _load_dit(folder: Path, args: YumeArgs, options: LoadOptions, progress: Progress) -> WanModel:
    with torch.device("meta"):
        model = WanModel(args.dit)
    with safe_open(str(folder / layout.DIT), framework="pt", device="cpu") as f:  # memory-mapped
        keys = [k for k in f.keys() if not k.startswith(layout.IGNORED_DIT_PREFIXES)]
        _materialise(
            model,
            (keys, f.get_tensor),
            device=torch.device(options.device),
            dtype=options.dtype,
            keep_fp32=lambda key: any(part in key for part in FP32_PARAMETERS),
            stage="dit",
            progress=progress,
        )
    model = model.eval().requires_grad_(False)
    model.configure(options.effective_dit_options)
    return model


def _load_pth(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def _load_vae(folder: Path, args: YumeArgs, options: LoadOptions, progress: Progress) -> YumeVAE:
    with torch.device("meta"):
        model = build_vae(args.vae)
    tensors = convert_wan_vae_state_dict(_load_pth(folder / layout.VAE))
    _materialise(
        model,
        tensors,
        device=torch.device(options.decode_device),
        dtype=options.vae_dtype,
        keep_fp32=lambda key: False,
        stage="vae",
        progress=progress,
    )
    vae = YumeVAE(model.eval().requires_grad_(False))
    if options.vae_channels_last:
        use_channels_last(vae)
    return vae


def _load_text(folder: Path, args: YumeArgs, options: LoadOptions, progress: Progress) -> TextEncoder:
    from transformers import AutoTokenizer

    with torch.device("meta"):
        model = build_text_encoder(args.text)
    tensors = convert_wan_t5_state_dict(_load_pth(folder / layout.T5))
    # transformers keeps the FFN output projection in fp32 for fp16 (T5 overflows there).
    fp32_modules = tuple(getattr(model, "_keep_in_fp32_modules", None) or ())
    if options.text_dtype != torch.float16:
        fp32_modules = ()
    _materialise(
        model,
        tensors,
        device=torch.device(options.text_device or options.device),
        dtype=options.text_dtype,
        keep_fp32=lambda key: any(f".{name}." in key for name in fp32_modules),
        stage="text_encoder",
        progress=progress,
    )
    model.tie_weights()
    tokenizer = AutoTokenizer.from_pretrained(str(folder / layout.TOKENIZER), local_files_only=True)
    return TextEncoder(
        model.eval().requires_grad_(False),
        tokenizer,
        text_len=args.text.text_len,
        output_dtype=options.dtype,
        output_device=options.device,
    )


def load_models(folder: str | Path, options: LoadOptions, progress: Progress = _no_progress) -> YumeModels:
    """Load DiT, VAE and text encoder from a published folder (or a ``testing`` fixture).

    Progress stages: "check", "dit", "vae", "text_encoder", each reported from 0 to 1.
    """
    folder = Path(folder)
    progress("check", 0.0)
    problems = check_weights(folder)
    if problems:
        raise LoadError(folder, problems)
    args = layout.read_args(folder)
    progress("check", 1.0)
    steps = (("dit", _load_dit), ("vae", _load_vae), ("text_encoder", _load_text))
    loaded = {name: _load_component(folder, args, name, load, options, progress) for name, load in steps}
    tiny = None
    if options.decoder == "tiny":
        path = options.tiny_decoder or layout.find_tiny_decoder(folder)
        if path is None:
            raise LoadError(folder, [f"--decoder tiny needs a tiny decoder file: put {layout.TINY_DECODER_FILES[0]} "
                                     "(or .pth) in the folder or pass its path"])
        try:
            tiny = load_tiny_decoder(path, device=options.decode_device, dtype=options.vae_dtype)
        except TinyDecoderError as exc:
            raise LoadError(folder, [str(exc)]) from None
        loaded["vae"].drop_decoder()  # the tiny decoder makes every frame: the full one would only hold memory
    return YumeModels(args, loaded["dit"], loaded["vae"], loaded["text_encoder"], torch.device(options.device),
                      tiny_decoder=tiny)


def _load_component(
    folder: Path, args: YumeArgs, name: str, load: Loader[Component], options: LoadOptions, progress: Progress
) -> Component:
    try:
        return load(folder, args, options, progress)
    except (ValueError, RuntimeError, OSError) as exc:
        # The files were checked, so this is a damaged file, an unsupported device/dtype or a refused option.
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LoadError(folder, [f"loading the {name.replace('_', ' ')} failed: {message}"]) from exc


def _load_alone(
    folder: str | Path,
    name: str,
    load: Loader[Component],
    files: tuple[str, ...],
    options: LoadOptions,
    progress: Progress,
) -> Component:
    folder = Path(folder)
    problems = [f"{file} is missing" for file in (layout.CONFIG, *files) if not (folder / file).exists()]
    if problems:
        raise LoadError(folder, problems)
    try:
        args = layout.read_args(folder)
    except ValueError as exc:
        raise LoadError(folder, [str(exc)]) from None
    return _load_component(folder, args, name, load, options, progress)


def load_dit(folder: str | Path, options: LoadOptions | None = None, progress: Progress = _no_progress) -> WanModel:
    """The DiT alone (config.json + diffusion_pytorch_model.safetensors), with ``options.dit_options`` applied."""
    return _load_alone(folder, "dit", _load_dit, (layout.DIT,), options or LoadOptions(), progress)


def load_vae(folder: str | Path, options: LoadOptions | None = None, progress: Progress = _no_progress) -> YumeVAE:
    """The Wan2.2 VAE alone (config.json + Wan2.2_VAE.pth; yume_bridge.json for test sizes)."""
    return _load_alone(folder, "vae", _load_vae, (layout.VAE,), options or LoadOptions(), progress)


def load_text_encoder(
    folder: str | Path, options: LoadOptions | None = None, progress: Progress = _no_progress
) -> TextEncoder:
    """The umT5 encoder and its tokenizer alone (the .pth and google/umt5-xxl/)."""
    return _load_alone(folder, "text_encoder", _load_text, (layout.T5, layout.TOKENIZER), options or LoadOptions(),
                       progress)


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def build_random_models(args: YumeArgs, options: LoadOptions, tokenizer, *, seed: int = 0) -> YumeModels:  # noqa: ANN001
    """Randomly initialised networks of these sizes, built directly on the device in their dtypes.

    For benchmarks without a checkpoint; the outputs are noise, the costs are real.
    """
    device = torch.device(options.device)
    text_device = torch.device(options.text_device or options.device)
    decode_device = torch.device(options.decode_device)
    torch.manual_seed(seed)
    with device, _default_dtype(options.dtype):
        dit = WanModel(args.dit)
    for name, param in dit.named_parameters():
        if any(part in name for part in FP32_PARAMETERS):
            param.data = param.data.float()
    dit.configure(options.effective_dit_options)
    with decode_device, _default_dtype(options.vae_dtype):
        vae = build_vae(args.vae)
    with text_device, _default_dtype(options.text_dtype):
        text = build_text_encoder(args.text)
    encoder = TextEncoder(
        text.eval().requires_grad_(False),
        tokenizer,
        text_len=args.text.text_len,
        output_dtype=options.dtype,
        output_device=device,
    )
    dit, vae = dit.eval().requires_grad_(False), YumeVAE(vae.eval().requires_grad_(False))
    if options.vae_channels_last:
        use_channels_last(vae)
    tiny = None
    if options.decoder == "tiny":
        with decode_device, _default_dtype(options.vae_dtype):
            tiny = TinyDecoder().eval().requires_grad_(False)
    return YumeModels(args, dit, vae, encoder, device, tiny_decoder=tiny)
