"""Pictures as the lab reads them: any photo file -> an (H, W, 3) uint8 RGB array.

A phone photo is turned upright (its EXIF orientation), transparency is composited on white (as a
browser shows it), 16-bit and float images are scaled to 8 bits, palette, bilevel, CMYK and other
modes become RGB, and an animated file gives its first frame. The lab checks an upload (size, pixel
count, format) before it calls :func:`picture_array`; a script calls :func:`load_picture`.
"""

import numpy as np
from PIL import Image, ImageOps


def flatten_alpha(image):
    """Composite any transparency on white."""
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def high_depth_to_rgb(image):
    """Scale 16-bit, 32-bit integer and float images to 8 bits, then to RGB."""
    values = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16") or (image.mode == "I" and values.max(initial=0) > 255):
        scaled = values / 257.0  # 65535 -> 255
    elif image.mode == "F":
        low, high = float(values.min(initial=0)), float(values.max(initial=0))
        scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    else:
        scaled = values
    gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


def to_rgb(image):
    """Any Pillow image mode as RGB."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        return flatten_alpha(image)
    if image.mode.startswith("I") or image.mode == "F":
        return high_depth_to_rgb(image)
    if image.mode == "1":
        return image.convert("L").convert("RGB")
    return image.convert("RGB")  # RGB, L, P, CMYK, YCbCr, LAB, HSV


def picture_array(image):
    """An opened picture as (H, W, 3) uint8: its first frame, upright, RGB."""
    image.seek(0)  # animated GIF/WebP/TIFF: the first frame
    image.load()
    image = ImageOps.exif_transpose(image) or image
    return np.array(to_rgb(image), dtype=np.uint8)


def load_picture(path):
    """A picture file as (H, W, 3) uint8 RGB, as the lab reads an upload."""
    with Image.open(path) as image:
        return picture_array(image)


LUMA = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)  # ITU-R 601, as tf.image.rgb_to_grayscale
SAMPLE_PHOTOS = {"china": "china.jpg", "flower": "flower.jpg"}  # scikit-learn's, HOML's examples


def photo(source):
    """scikit-learn's sample photo by name (``china``, ``flower``), or your picture file: (H, W, 3) uint8."""
    if source in SAMPLE_PHOTOS:
        from sklearn.datasets import load_sample_image

        return load_sample_image(SAMPLE_PHOTOS[source])
    return load_picture(source)


def prepare(image, crop=None, grayscale=False):
    """uint8 pixels as float32 in [0, 1], cropped to (rows start, stop, columns start, stop), one luma
    channel when gray."""
    if crop is not None:
        top, bottom, left, right = crop
        image = image[top:bottom, left:right]
    scaled = image.astype(np.float32) / 255.0
    if grayscale:
        scaled = (scaled @ LUMA)[..., np.newaxis]
    return np.ascontiguousarray(scaled)
