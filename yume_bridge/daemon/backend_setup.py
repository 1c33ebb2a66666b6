"""From configuration to backend objects: one per configured device, not yet loaded.

A wrong Yume folder, weights file or device is reported here, before minutes of
loading; loading itself happens later, on the generation thread.
"""

from __future__ import annotations

import logging

from yume_bridge.backends.base import BackendError, WorldBackend, WorldSpec
from yume_bridge.config import BridgeConfig, ConfigError
from yume_bridge.daemon.start_images import decode_start_image

log = logging.getLogger("yume_bridge")


def build_backends(config: BridgeConfig) -> list[WorldBackend]:
    """One backend per configured device (``--devices``), each for its own generation worker."""
    devices = config.backend.devices
    if devices == ("all",):
        devices = _all_devices(config.backend.name)
    if len(devices) <= 1:
        return [build_backend(config, device=devices[0] if devices else None)]
    return [build_backend(config, device=device) for device in devices]


def _all_devices(backend: str) -> tuple[str, ...]:
    if backend != "yume":
        return ("cpu",)
    import torch

    count = torch.cuda.device_count()
    if count == 0:
        raise ConfigError("--devices all found no CUDA device; give --devices cpu or the devices to use")
    return tuple(f"cuda:{index}" for index in range(count))


def build_backend(config: BridgeConfig, device: str | None = None) -> WorldBackend:
    """The configured backend, not yet loaded (loading happens on the generation thread)."""
    stream, options = config.stream, config.backend
    if options.name == "yume":
        from yume_bridge.model.layout import TINY_DECODER_FILES, find_tiny_decoder, missing_files

        problems = missing_files(options.weights)  # seconds before torch, diffusers and transformers load
        if problems:
            raise ConfigError(f"{options.weights} is not a usable Yume-5B-720P folder:\n  " + "\n  ".join(problems))
        log.info("loading torch, diffusers and transformers to check %s ...", options.weights)
        from yume_bridge.backends.yume import YumeBackend, YumeBackendConfig  # torch only when asked for
        from yume_bridge.model.checkweights import check_weights

        tiny = None
        if options.decoder == "tiny":
            tiny = options.tiny_decoder or find_tiny_decoder(options.weights)
            if tiny is None:
                raise ConfigError(f"--decoder tiny needs the taew2_2 file: put {TINY_DECODER_FILES[0]} or "
                                  f"{TINY_DECODER_FILES[1]} in {options.weights} or pass --tiny-decoder PATH")
        problems = check_weights(options.weights, tiny_decoder=tiny)
        if problems:
            raise ConfigError(f"{options.weights} is not a usable Yume-5B-720P folder:\n  " + "\n  ".join(problems))
        try:
            backend = YumeBackend(YumeBackendConfig(weights=options.weights, resolution=stream.resolution,
                                                    steps=options.steps, shift=options.shift,
                                                    device=device or options.device,
                                                    dtype=options.dtype, fps=stream.fps, vae_dtype=options.vae_dtype,
                                                    decoder=options.decoder, tiny_decoder=options.tiny_decoder,
                                                    compile=options.compile, attention=options.attention,
                                                    fp8=options.fp8, latents_per_chunk=stream.latents_per_chunk,
                                                    sequence_parallel=options.sequence_parallel,
                                                    vae_device=options.vae_device, overlap=options.overlap))
            backend.load_options()  # every device named exists: said now, not after minutes of loading
        except (ValueError, BackendError) as exc:
            raise ConfigError(str(exc)) from None
        return backend
    from yume_bridge.backends.preview import PreviewBackend

    default_image = None
    if options.image is not None:
        try:
            default_image = decode_start_image(options.image.read_bytes(), config.limits.max_image_pixels,
                                               fit=(stream.width, stream.height))
        except OSError as exc:
            raise ConfigError(f"cannot read --image {options.image}: {exc.strerror}") from None
        except Exception as exc:  # BackendError: a readable reason
            raise ConfigError(f"--image {options.image}: {exc}") from None
    spec = WorldSpec("preview", "preview", "1", stream.width, stream.height, stream.fps, stream.chunk_frames)
    return PreviewBackend(spec=spec, default_image=default_image, fail_every=options.fail_every,
                          stall_at=options.stall_at, stall_seconds=options.stall_seconds, simulate=options.simulate,
                          overlap=options.overlap)
