"""The picture input shared by the image pages: sample photos, uploads (capped, decoded safely), the
webcam, the crop and gray settings, and the :class:`lab.codegen.ImageChoice` their scripts read."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages._widgets import bound, from_url, to_url
from lab import codegen, images
from lab.errors import InputError

UPLOAD_TYPES = ["jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff"]


@st.cache_data(max_entries=16, show_spinner=False)
def _decode(data: bytes) -> np.ndarray:
    return images.load_image(data)


MAX_PICTURES = 8  # per multi-file uploader: what a page classifies at once


MAX_PICTURE_BYTES = 40 * 2**20  # per multi-file uploader, all files together


def pictures_uploader(label: str, key: str, container=st) -> list:
    """A multi-file picture uploader with caps a shared server can hold: at most
    :data:`MAX_PICTURES` files and :data:`MAX_PICTURE_BYTES` in all (30 photos of 20 MB pinned 1 GB
    per tab). Past a cap the upload is cleared, so Streamlit lets go of the files, and the page says
    why; the caps are in the label."""
    nonce = st.session_state.setdefault(f"{key}.nonce", 0)
    caps = f"{label} (up to {MAX_PICTURES} pictures, {MAX_PICTURE_BYTES // 2**20} MB in all, {images.DEFAULT_MAX_BYTES // 2**20} MB each)"
    files = container.file_uploader(caps, type=UPLOAD_TYPES, accept_multiple_files=True, key=f"{key}.{nonce}") or []
    total = sum(file.size for file in files)
    if len(files) > MAX_PICTURES or total > MAX_PICTURE_BYTES:
        st.session_state[f"{key}.nonce"] = nonce + 1  # a new uploader: the old one's files are released
        st.session_state[f"{key}.refused"] = (
            f"{len(files)} pictures, {total / 2**20:.0f} MB: more than {MAX_PICTURES} pictures or "
            f"{MAX_PICTURE_BYTES // 2**20} MB at once. The upload was cleared; pick fewer."
        )
        st.rerun()
    if refused := st.session_state.pop(f"{key}.refused", None):
        st.error(refused, icon=":material/error:")
    return list(files)


def decode_upload(upload) -> np.ndarray | None:
    """An uploaded image as (H, W, 3) uint8 (decoded once per content), or None with its error shown."""
    try:
        return _decode(upload.getvalue())
    except InputError as error:  # one bad file does not cost the others
        st.error(f"{upload.name}: {error}", icon=":material/error:")
        return None


def image_picker(prefix: str) -> np.ndarray | None:
    """Sample photo or upload -> (H, W, 3) uint8, or None (with a message shown) if none usable."""
    key = f"{prefix}.image"
    options = [*images.SAMPLES, "upload", "camera"]
    names = {"china": "China (sample)", "flower": "Flower (sample)", "upload": "Upload…", "camera": "Webcam"}
    from_url(key, "china", options)
    source = st.segmented_control("Image", options, key=key, format_func=names.get)
    to_url(key)
    if source == "camera":
        return camera_picture(prefix)
    if source != "upload":
        st.session_state[f"{prefix}.source"] = source or "china"
        return images.sample_image(source or "china")  # cached in lab (lru_cache), a copy each call
    upload = st.file_uploader(
        f"Your image (JPEG, PNG, GIF, WebP, BMP or TIFF; up to {images.DEFAULT_MAX_BYTES // 2**20} MB)",
        type=UPLOAD_TYPES,
        key=f"{prefix}.upload",
    )
    if upload is None:
        st.info("Upload an image, or pick a sample above.", icon=":material/upload:")
        return None
    st.session_state[f"{prefix}.source"] = upload.name
    return decode_upload(upload)


CAMERA_FILE = "camera.jpg"  # the name a page's script gives the webcam picture


def camera_picture(prefix: str) -> np.ndarray | None:
    """A webcam picture (``st.camera_input``), shown only when chosen: the browser asks for the camera
    then, not on every visit. The picture can be downloaded, for the page's script to read."""
    photo = st.camera_input("Take a picture", key=f"{prefix}.camera")
    if photo is None:
        st.info("Allow the camera, then press **Take Photo**.", icon=":material/photo_camera:")
        return None
    st.session_state[f"{prefix}.source"] = CAMERA_FILE
    st.download_button(
        f"Download {CAMERA_FILE}", photo.getvalue(), CAMERA_FILE, "image/jpeg", key=f"{prefix}.shot", on_click="ignore"
    )
    return decode_upload(photo)


def image_choice(prefix: str, crop, grayscale: bool) -> codegen.ImageChoice:
    """What :func:`image_picker` and :func:`image_settings_ui` chose, for the page's script."""
    source = st.session_state.get(f"{prefix}.source", "china")
    return codegen.ImageChoice(source, tuple(crop) if crop is not None else None, bool(grayscale))


CROPS = {"full": "Full image", "homl": "HOML crop (rows 150:220, cols 130:250)", "custom": "Custom box"}


def image_settings_ui(
    prefix: str, image: np.ndarray | None, default_crop: str = "full"
) -> tuple[tuple[int, int, int, int] | None, bool]:
    """Crop box and grayscale switch for an image (None: none picked yet); returns (crop or None, grayscale).

    Pages render their settings even while no image is there yet, and stop only after them: a
    widget that disappears for one run comes back blank in the browser, losing the learner's value.
    """
    cols = st.columns([2, 1])
    mode = bound(
        cols[0].radio, "Region", f"{prefix}.crop", default_crop, list(CROPS), format_func=CROPS.get, horizontal=True
    )
    gray = bound(cols[1].toggle, "Grayscale", f"{prefix}.gray", False)
    if mode == "full":
        return None, gray
    if mode == "homl":
        return images.HOML_CROP, gray
    height, width = image.shape[:2] if image is not None else (427, 640)  # the sample photos' size
    box = st.columns(4)
    # No min/max on purpose: a box that does not fit (say, after a smaller upload) gets a clear
    # message from lab.images.prepare instead of a widget exception.
    top = bound(box[0].number_input, "top row", f"{prefix}.top", 0, step=1)
    bottom = bound(box[1].number_input, "bottom row", f"{prefix}.bottom", min(height, 220), step=1)
    left = bound(box[2].number_input, "left col", f"{prefix}.left", 0, step=1)
    right = bound(box[3].number_input, "right col", f"{prefix}.right", min(width, 250), step=1)
    return (top, bottom, left, right), gray


def pixelated(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale of a [0, 1] float image for crisp display (no math: display only)."""
    shown = np.clip(image, 0, 1)
    if shown.shape[2] == 1:
        shown = np.repeat(shown, 3, axis=2)
    return np.repeat(np.repeat(shown, factor, axis=0), factor, axis=1)
