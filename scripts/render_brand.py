"""Render HomeIQ's brand icon (a house with a spark) as PNG, with numpy and zlib only."""

from __future__ import annotations

from pathlib import Path
import struct
import sys
import zlib

import numpy as np


def _png(rgba: np.ndarray) -> bytes:
    height, width, _ = rgba.shape
    raw = b"".join(b"\x00" + rgba[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def render(size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 4), dtype=np.uint8)
    # Rounded square background in HA blue.
    r = 0.18
    dx = np.maximum(np.abs(x - 0.5) - (0.5 - r), 0)
    dy = np.maximum(np.abs(y - 0.5) - (0.5 - r), 0)
    bg = dx**2 + dy**2 <= r**2
    img[bg] = (3, 169, 244, 255)
    # House: roof triangle and body.
    roof = (y >= 0.22) & (y <= 0.5) & (np.abs(x - 0.5) <= (y - 0.22) * 1.15)
    body = (x >= 0.27) & (x <= 0.73) & (y >= 0.48) & (y <= 0.8)
    img[roof | body] = (255, 255, 255, 255)
    # Spark (the "IQ"): a four-point star in the middle of the house.
    sx, sy = np.abs(x - 0.5), np.abs(y - 0.6)
    spark = np.sqrt(sx) + np.sqrt(sy) <= np.sqrt(0.12)
    img[spark] = (255, 193, 7, 255)
    return img


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "custom_components/homeiq/brand")
    out.mkdir(parents=True, exist_ok=True)
    (out / "icon.png").write_bytes(_png(render(256)))
    (out / "icon@2x.png").write_bytes(_png(render(512)))


if __name__ == "__main__":
    main()
