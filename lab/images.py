"""Safe image input: the only way an uploaded picture enters the lab.

Uploads are hostile until proven otherwise. :func:`load_image` sniffs the format from the bytes
(never the file name), refuses anything outside an allowlist, checks the pixel count from the
header *before* decoding (so a small-file decompression bomb never allocates its pixels), applies
EXIF orientation and normalises every colour mode to 8-bit RGB.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
from PIL import Image

from lab.errors import InputError, describe_value
from recipes import pictures

# Pillow decoders we accept. The JPEG decoder also opens MPO, the multi-picture JPEG of many phones.
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
FRIENDLY_FORMATS = "JPEG, PNG, GIF, WebP, BMP or TIFF"
DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: any phone photo, far below Pillow's 89.5 MP warning
DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # matches server.maxUploadSize in .streamlit/config.toml
HOML_CROP = (150, 220, 130, 250)  # rows 150:220, columns 130:250 (Hands-On ML, chapter 14)
SAMPLES = pictures.SAMPLE_PHOTOS
LUMA = pictures.LUMA  # ITU-R 601, as tf.image.rgb_to_grayscale
Image.init()  # register every plugin: WEBP and TIFF are not among Pillow's preloaded ones

# Signatures of common files that are not images we take, so the message can name them.
_KNOWN_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x89HDF", "an HDF5 file"),
    (b"8BPS", "a Photoshop file"),
    (b"<svg", "an SVG drawing"),
    (b"<?xml", "an XML/SVG file"),
    (b"\x00\x00\x01\x00", "an icon file"),
)

Source = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO


def _read_bytes(source: Source, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` (+1 to detect overflow) from bytes, a path or a file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as error:
            raise InputError(f"Could not read image file {describe_value(str(source))}: {error.strerror}.") from None
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read(max_bytes + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise InputError(f"Expected a binary file, got one that reads {type(data).__name__}.")
        data = bytes(data)
    else:
        raise InputError(f"Expected image bytes, a path or a file, got {type(source).__name__}.")
    if not data:
        raise InputError("The file is empty (0 bytes).")
    if len(data) > max_bytes:
        raise InputError(f"The file is larger than the {max_bytes / 2**20:.0f} MB limit for images.")
    return data


def _what_is(data: bytes) -> str:
    head = data[:16].lstrip()
    for signature, name in _KNOWN_SIGNATURES:
        if head.startswith(signature):
            return f"It looks like {name}."
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "It looks like a HEIC/AVIF photo: export it as JPEG or PNG first."
    return "It is not a picture Pillow recognises, or the file is damaged."


def load_image(
    source: Source,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> np.ndarray:
    """Decode an untrusted image into an (H, W, 3) uint8 RGB array.

    Args:
        source: Raw bytes, a filesystem path, or a binary file-like object (e.g. an upload).
        max_pixels: Largest width * height accepted, checked from the header before decoding.
            It cannot exceed Pillow's own bomb threshold.
        max_bytes: Largest file size accepted.

    Returns:
        A new, writeable ``uint8`` array of shape (height, width, 3).

    Raises:
        InputError: For empty, oversized, unknown, damaged or truncated files, and for
            images with too many pixels.
    """
    limit = min(int(max_pixels), int(Image.MAX_IMAGE_PIXELS or max_pixels))
    data = _read_bytes(source, max_bytes)
    try:
        img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError:
        raise InputError("The image declares more pixels than Pillow will ever decode; refused.") from None
    except Exception:  # Pillow raises many types for garbage headers
        raise InputError(f"Unsupported file: expected {FRIENDLY_FORMATS}. {_what_is(data)}") from None
    with img:
        width, height = img.size
        if width < 1 or height < 1:
            raise InputError(f"The image has no pixels ({width}x{height}).")
        if width * height > limit:
            raise InputError(
                f"The image is {width}x{height} = {width * height / 1e6:.1f} MP; the limit is "
                f"{limit / 1e6:.0f} MP. Resize it before uploading."
            )
        try:  # the recipe's decoder: what every script that loads a picture runs too
            return pictures.picture_array(img)
        except Exception as error:  # truncated or corrupt data surfaces only while decoding
            raise InputError(
                f"The {img.format} file is damaged or truncated and cannot be decoded ({type(error).__name__})."
            ) from None


@functools.lru_cache(maxsize=len(SAMPLES))
def _sample(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image  # ships its pictures; no network

    image = load_sample_image(SAMPLES[name])
    image.setflags(write=False)
    return image


def sample_image(name: str) -> np.ndarray:
    """One of the seeds' sample photos, offline: ``"china"`` or ``"flower"`` (427x640x3 uint8)."""
    if name not in SAMPLES:
        raise InputError(f"Unknown sample image {describe_value(name)}; choose one of {sorted(SAMPLES)}.")
    return _sample(name).copy()


def prepare(
    image: np.ndarray,
    *,
    grayscale: bool = False,
    crop: Sequence[int] | None = None,
) -> np.ndarray:
    """Scale a uint8 image to float32 in [0, 1], optionally cropped and converted to gray.

    Args:
        image: (H, W, 3) uint8 array, e.g. from :func:`load_image`.
        grayscale: Keep one channel (ITU-R 601 luma, as ``tf.image.rgb_to_grayscale``).
        crop: ``(row_start, row_stop, col_start, col_stop)``, e.g. :data:`HOML_CROP`.

    Returns:
        (H', W', 1 or 3) float32 array.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"Expected an (H, W, 3) image, got shape {image.shape}.")
    if crop is not None:
        crop = top, bottom, left, right = tuple(int(value) for value in crop)
        height, width = image.shape[:2]
        if not (0 <= top < bottom <= height and 0 <= left < right <= width):
            raise InputError(
                f"Crop rows {top}:{bottom}, columns {left}:{right} does not fit inside the {height}x{width} image."
            )
    return pictures.prepare(image, crop, grayscale)


def homl_crops() -> np.ndarray:
    """HOML's two crops (china, flower; rows 150:220, columns 130:250) as a (2, 70, 120, 3) batch in [0, 1]."""
    return np.stack([prepare(sample_image(name), crop=HOML_CROP) for name in SAMPLES])
