"""Start images: a cheap check when an upload completes, and decoding to RGB no larger than the world needs."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from yume_bridge.backends.base import BackendError


class StartImageError(BackendError):
    """The uploaded start image cannot be used (answered with ``bad_image``)."""


START_IMAGE_MARGIN = 2
"""Start images are decoded to at most this many times the world's size in each direction (room to crop)."""


def decode_start_image(data: bytes, max_pixels: int, fit: tuple[int, int] | None = None) -> np.ndarray:
    """A JPEG/PNG file → RGB uint8; StartImageError with a readable reason otherwise.

    With ``fit`` (the world's width and height) the image is decoded no larger than it will be used:
    a JPEG is scaled down by its decoder (1/2 … 1/8), any other image is reduced before its colours are
    converted, so only one full-size copy (one byte per pixel for a palette PNG) ever exists.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG"):
                raise StartImageError(f"start image must be JPEG or PNG, not {image.format}")
            if image.width * image.height > max_pixels:
                raise StartImageError(f"start image has {image.width}x{image.height} pixels, over the limit of "
                                      f"{max_pixels}")
            if fit is not None and image.format == "JPEG":
                image.draft("RGB", (START_IMAGE_MARGIN * fit[0], START_IMAGE_MARGIN * fit[1]))
            image.load()
            if fit is not None:
                image = _reduced(image, fit)
            if image.mode in ("RGBA", "LA", "P", "PA"):
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
                image = Image.alpha_composite(background, rgba)
            return np.asarray(image.convert("RGB"))
    except StartImageError:
        raise
    except UnidentifiedImageError:
        raise StartImageError("start image is not a JPEG or PNG file") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise StartImageError(f"start image cannot be decoded: {exc}") from None


def _reduced(image: Image.Image, fit: tuple[int, int]) -> Image.Image:
    factor = min(image.width // (START_IMAGE_MARGIN * fit[0]), image.height // (START_IMAGE_MARGIN * fit[1]))
    if factor < 2:
        return image
    if image.mode in ("P", "PA", "1"):  # palette indices cannot be averaged: pick, then filter after converting
        return image.resize((image.width // factor, image.height // factor), Image.NEAREST)
    return image.reduce(factor)


def start_image_problem(data: bytes, max_pixels: int) -> str | None:
    """A cheap check when an upload completes (headers and chunk checksums, no pixels decoded):
    None if the file looks usable, else the reason, for ``bad_image``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG"):
                return f"start image must be JPEG or PNG, not {image.format}"
            if image.width * image.height > max_pixels:
                return f"start image has {image.width}x{image.height} pixels, over the limit of {max_pixels}"
            image.verify()  # PNG: every chunk's CRC and the end marker; JPEG: the markers
    except UnidentifiedImageError:
        return "start image is not a JPEG or PNG file"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return f"start image is damaged: {exc}"
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        return "start image is damaged: the JPEG has no end marker (truncated)"
    return None
