"""Draws the plugin's 128x128 icon (YumeBridge/Resources/Icon128.png) with the standard library only.

A night-blue rounded square with a crescent moon and a few stars ("yume" is Japanese for dream),
and a row of three bars below for the stream of frames. Supersampled 4x for smooth edges.

    python3 plugins/unreal/tools/make_icon.py
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

SIZE = 128
SAMPLES = 4
TARGET = Path(__file__).resolve().parent.parent / "YumeBridge" / "Resources" / "Icon128.png"


def rounded_square(x: float, y: float, radius: float = 22.0) -> bool:
    cx = min(max(x, radius), SIZE - radius)
    cy = min(max(y, radius), SIZE - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2


def in_circle(x: float, y: float, cx: float, cy: float, r: float) -> bool:
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def star(x: float, y: float, cx: float, cy: float, r: float) -> bool:
    # a four-pointed star: |dx|^0.5 + |dy|^0.5 <= r^0.5
    return math.sqrt(abs(x - cx)) + math.sqrt(abs(y - cy)) <= math.sqrt(r)


def shade(x: float, y: float) -> tuple[float, float, float, float]:
    if not rounded_square(x, y):
        return (0.0, 0.0, 0.0, 0.0)
    t = y / SIZE
    r, g, b = 0.07 + 0.20 * t, 0.08 + 0.10 * t, 0.28 + 0.22 * t  # night gradient
    moon = in_circle(x, y, 64, 52, 30) and not in_circle(x, y, 78, 42, 26)
    if moon:
        return (0.99, 0.91, 0.62, 1.0)
    for cx, cy, size in ((96, 26, 7.0), (104, 62, 4.5), (30, 30, 4.5), (88, 80, 3.5)):
        if star(x, y, cx, cy, size):
            return (1.0, 1.0, 1.0, 1.0)
    for i, height in enumerate((10, 16, 12)):
        left = 34 + i * 22
        if left <= x <= left + 16 and 112 - height <= y <= 112:
            return (0.55 + 0.15 * i, 0.75, 1.0, 1.0)
    return (r, g, b, 1.0)


def render() -> bytes:
    rows = []
    for py in range(SIZE):
        row = bytearray([0])  # filter type 0
        for px in range(SIZE):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    r, g, b, a = shade(px + (sx + 0.5) / SAMPLES, py + (sy + 0.5) / SAMPLES)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            n = SAMPLES * SAMPLES
            alpha = acc[3] / n
            if alpha > 0:
                color = [acc[i] / acc[3] for i in range(3)]
            else:
                color = [0.0, 0.0, 0.0]
            row += bytes(int(round(min(max(c, 0.0), 1.0) * 255)) for c in (*color, alpha))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(render())
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")
