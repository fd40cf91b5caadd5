"""lab.images: the generated corpus of good, odd and hostile uploads."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from lab import images
from lab.errors import InputError
from tests.imagegen import encode, exif_rotated_jpeg, gradient, png_bomb

RGB = gradient()


def rgba_image() -> Image.Image:
    rgba = np.zeros((24, 32, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red, fully transparent on the left half
    rgba[:, 16:, 3] = 255
    return Image.fromarray(rgba, "RGBA")


GOOD = {
    "jpeg": lambda: encode(Image.fromarray(RGB), "JPEG", quality=95),
    "png": lambda: encode(Image.fromarray(RGB), "PNG"),
    "webp": lambda: encode(Image.fromarray(RGB), "WEBP", lossless=True),
    "bmp": lambda: encode(Image.fromarray(RGB), "BMP"),
    "tiff": lambda: encode(Image.fromarray(RGB), "TIFF"),
    "gray": lambda: encode(Image.fromarray(RGB).convert("L"), "PNG"),
    "bilevel": lambda: encode(Image.fromarray(RGB).convert("1"), "PNG"),
    "palette": lambda: encode(Image.fromarray(RGB).convert("P"), "PNG"),
    "palette-transparent": lambda: encode(Image.fromarray(RGB).convert("P"), "PNG", transparency=0),
    "rgba": lambda: encode(rgba_image(), "PNG"),
    "la": lambda: encode(rgba_image().convert("LA"), "PNG"),
    "cmyk-jpeg": lambda: encode(Image.fromarray(RGB).convert("CMYK"), "JPEG"),
    "cmyk-tiff": lambda: encode(Image.fromarray(RGB).convert("CMYK"), "TIFF"),
    "16-bit": lambda: encode(Image.fromarray((np.arange(24 * 32).reshape(24, 32) * 80).astype(np.uint16)), "PNG"),
    "float-tiff": lambda: encode(
        Image.fromarray(np.linspace(-1, 1, 24 * 32, dtype=np.float32).reshape(24, 32)), "TIFF"
    ),
    "animated-gif": lambda: encode(
        Image.fromarray(RGB), "GIF", save_all=True, append_images=[Image.fromarray(255 - RGB)], duration=100
    ),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_odd_but_valid_images_normalise_to_rgb(name):
    result = images.load_image(GOOD[name]())
    assert result.dtype == np.uint8
    assert result.shape == (24, 32, 3)
    assert result.flags.writeable


def test_lossless_round_trip_is_exact():
    np.testing.assert_array_equal(images.load_image(GOOD["png"]()), RGB)


def test_alpha_is_composited_on_white():
    result = images.load_image(GOOD["rgba"]())
    np.testing.assert_array_equal(result[0, 0], [255, 255, 255])  # transparent -> white
    np.testing.assert_array_equal(result[0, 31], [255, 0, 0])  # opaque red stays red


def test_sixteen_bit_is_scaled_not_clipped():
    result = images.load_image(GOOD["16-bit"]())
    assert result.max() > 200 and result.min() == 0
    assert len(np.unique(result)) > 100  # a ramp, not a saturated block


def test_animated_gif_takes_first_frame():
    first = images.load_image(GOOD["animated-gif"]())
    assert abs(first.astype(int).mean() - RGB.astype(int).mean()) < 20


def test_exif_orientation_is_applied():
    assert images.load_image(exif_rotated_jpeg()).shape == (40, 20, 3)


def test_accepts_path_and_file_like(tmp_path):
    data = GOOD["png"]()
    path = tmp_path / "picture.bin"  # the name is irrelevant: content decides
    path.write_bytes(data)
    np.testing.assert_array_equal(images.load_image(path), RGB)
    np.testing.assert_array_equal(images.load_image(str(path)), RGB)
    np.testing.assert_array_equal(images.load_image(io.BytesIO(data)), RGB)


BAD = {
    "empty": (b"", "empty"),
    "random bytes": (np.random.default_rng(0).bytes(4096), "Unsupported"),
    "text named png": (b"hello, I am not a picture\n" * 10, "Unsupported"),
    "pdf": (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "PDF"),
    "zip": (b"PK\x03\x04" + b"\x00" * 60, "zip"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
    "hdf5 keras": (b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, "HDF5"),
    "heic": (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "HEIC"),
    "truncated jpeg": (encode(Image.fromarray(gradient(256, 256)), "JPEG")[:-2000], "damaged or truncated"),
    "truncated png": (GOOD["png"]()[:120], "damaged or truncated"),
    "bomb 10000x8000": (png_bomb(10_000, 8_000), "80.0 MP"),
    "bomb beyond pillow": (png_bomb(40_000, 40_000), "refused"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_hostile_or_broken_input_is_a_readable_input_error(name):
    data, fragment = BAD[name]
    with pytest.raises(InputError, match=fragment) as info:
        images.load_image(data)
    assert isinstance(info.value, ValueError)
    assert "Traceback" not in str(info.value)


def test_byte_cap_and_pixel_cap_are_configurable():
    data = GOOD["png"]()
    with pytest.raises(InputError, match="larger than"):
        images.load_image(data, max_bytes=100)
    with pytest.raises(InputError, match="limit is"):
        images.load_image(data, max_pixels=100)


def test_wrong_source_type_and_missing_path():
    with pytest.raises(InputError, match="int"):
        images.load_image(42)
    with pytest.raises(InputError, match="Could not read"):
        images.load_image("/nonexistent/picture.png")


def test_bomb_is_refused_without_allocating_its_pixels(tmp_path):
    """Decoding the 80 MP bomb would need 240 MB as RGB; refusing it must cost well under 100 MB."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(10_000, 8_000))
    script = textwrap.dedent(
        f"""
        import resource
        from lab import images
        from lab.errors import InputError
        images.load_image({str(tmp_path / "small.png")!r})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            images.load_image({str(bomb)!r})
        except InputError:
            pass
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
        """
    )
    (tmp_path / "small.png").write_bytes(GOOD["png"]())
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert int(result.stdout.strip()) < 100, result.stdout


def test_samples_are_the_seed_photos_and_cannot_be_corrupted():
    china = images.sample_image("china")
    assert china.shape == (427, 640, 3) and china.dtype == np.uint8
    china[:] = 0  # a copy: the cached original is untouched
    assert images.sample_image("china").max() > 0
    with pytest.raises(InputError, match="Unknown sample"):
        images.sample_image("mona lisa")


def test_prepare_crops_scales_and_grays():
    china = images.sample_image("china")
    crop = images.prepare(china, crop=images.HOML_CROP)
    assert crop.shape == (70, 120, 3) and crop.dtype == np.float32
    assert crop.min() >= 0.0 and crop.max() <= 1.0
    gray = images.prepare(china, grayscale=True)
    assert gray.shape == (427, 640, 1)
    with pytest.raises(InputError, match="does not fit"):
        images.prepare(china, crop=(0, 500, 0, 10))
