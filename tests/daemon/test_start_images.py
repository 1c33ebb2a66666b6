"""Start images are decoded no larger than the world will use them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_DECODE_IN_A_FRESH_PROCESS = """
import io, resource, sys
from PIL import Image
from yume_bridge.daemon.start_images import decode_start_image
image = Image.new("P", (6320, 6320))
image.putpalette([i % 256 for i in range(768)])
buffer = io.BytesIO()
image.save(buffer, "PNG", optimize=True)
data = buffer.getvalue()
del image, buffer
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rgb = decode_start_image(data, 40_000_000, fit=(960, 544))
print(len(data), rgb.shape[1], rgb.shape[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB is Linux's unit")
def test_a_small_file_of_many_pixels_is_decoded_at_the_size_it_will_be_used():
    result = subprocess.run([sys.executable, "-c", _DECODE_IN_A_FRESH_PROCESS], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[2])
    file_bytes, width, height, grown_kib = map(int, result.stdout.split())
    assert file_bytes < 100_000 and width <= 4 * 960 and height <= 4 * 544
    # One byte per pixel for the palette decode itself (40 MB) plus small copies; it was 848 MB.
    assert grown_kib < 200 * 1024
