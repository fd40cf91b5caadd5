"""Generated images for tests: the good, the odd and the hostile. Nothing is downloaded."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def gradient(width: int = 32, height: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=-1) + rng.normal(0, 3, (height, width, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of zeros: a few KB on disk, width*height pixels once decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def exif_rotated_jpeg() -> bytes:
    """A 40x20 JPEG tagged with EXIF orientation 6 (display rotated 90 degrees clockwise)."""
    image = Image.fromarray(gradient(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(image, "JPEG", exif=exif.tobytes())


def odd_pictures() -> dict[str, bytes]:
    """The pictures whose decoding drifted between the lab and its scripts: a phone photo's EXIF
    rotation, transparency, 16 bits, a palette and CMYK. {file name: bytes}."""
    base = gradient(48, 32, seed=3)
    rgba = np.dstack([base, np.where(np.arange(48)[None, :] < 24, 0, 255).repeat(32, 0).astype(np.uint8)])
    deep = (base[..., 0].astype(np.uint16) * 257).astype(np.uint16)
    return {
        "phone.jpg": exif_rotated_jpeg(),
        "transparent.png": encode(Image.fromarray(rgba, "RGBA"), "PNG"),
        "deep.png": encode(Image.fromarray(deep), "PNG"),  # uint16: mode I;16
        "palette.png": encode(Image.fromarray(base).convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG"),
        "cmyk.jpg": encode(Image.fromarray(base).convert("CMYK"), "JPEG", quality=95),
    }
