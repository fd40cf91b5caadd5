"""Generated class-folder images and zips for the fine-tune tests (good and hostile)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image, ImageDraw

COLORS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220)}


def shape_image(color, seed: int, size: int = 96) -> bytes:
    """A coloured circle, square or triangle on a noisy light background, as PNG bytes."""
    rng = np.random.default_rng(seed)
    background = (rng.normal(225, 12, (size, size, 3))).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    x, y = rng.integers(10, size // 2, 2)
    extent = int(rng.integers(size // 3, size // 2))
    kind = seed % 3
    box = (int(x), int(y), int(x) + extent, int(y) + extent)
    if kind == 0:
        draw.ellipse(box, fill=color)
    elif kind == 1:
        draw.rectangle(box, fill=color)
    else:
        draw.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=color)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def make_zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None, encrypt_flag: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name.endswith("/"):
                info.external_attr = 0o40755 << 16
            archive.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    data = bytearray(buffer.getvalue())
    if encrypt_flag:  # zipfile cannot write encrypted members: set the "encrypted" flag bit by hand
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = data.find(signature)
            while start != -1:
                data[start + offset] |= 0x1
                start = data.find(signature, start + 4)
    return bytes(data)


def shapes_members(per_class: int = 8, root: str = "", classes=COLORS) -> dict[str, bytes]:
    return {f"{root}{name}/{i}.png": shape_image(color, i) for name, color in classes.items() for i in range(per_class)}
