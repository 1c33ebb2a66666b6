"""RGB frames → JPEG bytes, behind one function so the encoder can be swapped.

simplejpeg bundles libjpeg-turbo in its wheel (no system library needed) and
releases the GIL while encoding, so encoding on the generation thread does not
stall the event loop.
"""

from __future__ import annotations

import numpy as np
import simplejpeg


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG, YCbCr 4:2:0, of an RGB uint8 (H, W, 3) frame."""
    return simplejpeg.encode_jpeg(np.ascontiguousarray(frame), quality=quality, colorspace="RGB",
                                  colorsubsampling="420", fastdct=True)

