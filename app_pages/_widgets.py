"""Widget helpers shared by several pages: URL-bound widgets, error display, the image input.

They hold no math: that lives in ``lab``. The run panel shared by the training pages is
:mod:`app_pages._runs`.

URL state: every widget that matters has a namespaced key (``"pool.size"``); :func:`from_url`
seeds it from ``st.query_params`` once per session and :func:`to_url` mirrors it back, so a
shared link reproduces the view.
"""

from __future__ import annotations

import errno
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import streamlit as st

from lab import codegen, images
from lab.errors import InputError

UPLOAD_TYPES = ["jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff"]
DISK_FULL = (
    "The server's disk is full, so nothing new can be saved. Your settings are kept: try again once the "
    "instructor has freed space (finished runs past the disk budget are removed, oldest first)."
)


def _parse(raw: str, default):
    if isinstance(default, list):  # a multiselect: comma-separated, in the options' own type
        return [item for item in raw.split(",") if item] if raw else []
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


JS_SAFE = 2**53 - 1  # the largest integer a browser's number holds exactly


def from_url(
    key: str, default, options: Sequence | None = None, bounds: tuple | None = None, max_items: int | None = None
) -> None:
    """Seed ``st.session_state[key]`` from the URL (or ``default``) the first time it is seen.

    A hostile or stale URL value never breaks the widget: the wrong type, a value not among
    ``options``, NaN or a number past what a browser can hold falls back to ``default``; a number
    outside ``bounds`` is clamped to the nearest bound.
    """
    if key in st.session_state:
        # Written back before the widget exists: a widget left out of a run (the page stopped above
        # it while an upload was awaited) otherwise comes back at its default (0), not at its value.
        st.session_state[key] = st.session_state[key]
        return
    value = default
    raw = st.query_params.get(key)
    if raw is not None:
        try:
            value = _parse(raw, default)
        except (TypeError, ValueError, OverflowError):
            value = default
        if isinstance(default, list):
            known = {str(option): option for option in options or []}
            value = [known[item] for item in value if item in known] if options is not None else value
            value = value[:max_items] if max_items else value  # a multiselect's max_selections
        elif options is not None and value not in options:
            value = default
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) <= JS_SAFE:
            value = default  # NaN, infinities and 20-digit numbers
        if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = type(default)(min(max(value, bounds[0]), bounds[1]))
    st.session_state[key] = value


def bound(widget, label: str, key: str, default, options: Sequence | None = None, **kwargs):
    """Create ``widget`` seeded from and mirrored to the URL; return its value.

    ``options`` is passed positionally (selectbox, radio, segmented_control); ``min_value`` and
    ``max_value`` also bound what the URL may set.
    """
    limits = (kwargs["min_value"], kwargs["max_value"]) if {"min_value", "max_value"} <= kwargs.keys() else None
    from_url(key, default, options, limits, kwargs.get("max_selections"))
    value = widget(label, options, key=key, **kwargs) if options is not None else widget(label, key=key, **kwargs)
    to_url(key)
    return value


def to_url(*keys: str) -> None:
    """Mirror the current values of ``keys`` into the URL's query string."""
    for key in keys:
        value = st.session_state.get(key)
        if value is not None:
            if isinstance(value, list):
                text = ",".join(map(str, value))
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
            if st.query_params.get(key) != text:
                st.query_params[key] = text


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show a lab ``InputError`` as ``st.error`` and stop this run; widgets keep their values."""
    try:
        yield
    except InputError as error:
        st.error(str(error), icon=":material/error:")
        st.stop()
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        st.error(DISK_FULL, icon=":material/hard_drive:")
        st.stop()


def show_code(code: codegen.Script | str) -> None:
    """The "Show the code" expander: a complete script for the current settings, with ``.py`` and
    ``.ipynb`` downloads (or, where a page has no script yet, its snippet). Downloads never rerun the
    page (``on_click="ignore"``): a rerun racing the browser's fetch of the file lost 1 download in 5
    under load, and cost a whole page run per click."""
    with st.expander("Show the code", icon=":material/code:"):
        if isinstance(code, str):
            st.code(code.strip(), language="python")
            return
        st.code(code.python(), language="python")
        name = code.title.lower().replace(" ", "_").replace(":", "").replace("/", "_")
        left, right = st.columns(2)
        left.download_button(
            "Download .py", code.python(), f"{name}.py", "text/x-python", key=f"code.py.{name}", on_click="ignore"
        )
        notebook = code.notebook()
        right.download_button(
            "Download .ipynb",
            notebook,
            f"{name}.ipynb",
            "application/x-ipynb+json",
            key=f"code.nb.{name}",
            on_click="ignore",
        )


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


def session_key() -> str:
    """A random id for this browser tab's session (lost on refresh)."""
    if "session_key" not in st.session_state:
        st.session_state["session_key"] = secrets.token_hex(16)
    return st.session_state["session_key"]


def _cookie_secret() -> bytes | None:
    """The raw token of Streamlit's XSRF cookie: random per browser, and kept across refreshes."""
    value = st.context.cookies.get("_streamlit_xsrf", "").strip("\"'")
    parts = value.split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(masked)) if len(mask) == 4 and masked else None


def client_address() -> str | None:
    """The client's address: behind our own nginx, the last X-Forwarded-For hop (nginx appends the
    address it saw; anything before it the client may have written), else the socket's. None where
    there is none."""
    address = st.context.ip_address
    forwarded = (st.context.headers.get("X-Forwarded-For") or "").split(",")[-1].strip()
    return forwarded if forwarded and address in ("127.0.0.1", "::1") else address


def owner() -> str:
    """This browser's owner token for runs (:func:`lab.ownership.owner_token`): from its XSRF cookie, so a
    refresh keeps it. A client without the cookie (a script, a fresh cookie-less session) is its
    address: a new session each time no longer makes a new learner with a new run allowance. Only
    where neither is known (tests, XSRF off) is it this session."""
    if "owner" not in st.session_state:
        from lab import ownership

        address = client_address()
        key = _cookie_secret() or (f"address:{address}" if address else None) or session_key()
        st.session_state["owner"] = ownership.owner_token(key)
    return st.session_state["owner"]


def instructor() -> bool:
    """An instructor (``?instructor=<CNNLAB_INSTRUCTOR_TOKEN>``) may cancel or resume any run."""
    from lab import ownership

    return ownership.instructor(st.query_params.get("instructor"))


def stack_editor(key: str, specs) -> list[dict]:
    """The layer-stack table (one row per layer), editable, rows addable; returns the rows as dicts
    for :func:`lab.planner.parse_stack`. A new ``key`` starts it again from ``specs``."""
    import pandas as pd

    from lab import padding, planner

    rows = st.data_editor(
        pd.DataFrame([planner.spec_to_row(spec) for spec in specs]),
        num_rows="dynamic",
        key=key,
        column_config={
            "layer": st.column_config.SelectboxColumn(options=planner.LAYER_KINDS, required=True),
            "size": st.column_config.NumberColumn(help="filters, units, or zero-padding width", step=1),
            "padding": st.column_config.SelectboxColumn(options=padding.PADDINGS),
            "kernel": st.column_config.TextColumn(help="3 or 3x5; the window for pooling"),
            "stride": st.column_config.TextColumn(help="blank: 1 for conv, the window for pooling"),
            "bias": st.column_config.CheckboxColumn(help="convolutions and Dense only"),
            "activation": st.column_config.SelectboxColumn(options=planner.ACTIVATIONS),
            "rate": st.column_config.NumberColumn(help="Dropout only (blank: 0.5)", min_value=0.0, max_value=0.99),
        },
        width="stretch",
    )
    return rows.to_dict("records")


@st.cache_data(max_entries=16, show_spinner="Reading the model's layers…")
def _registry_stack(name: str, input_shape: tuple) -> list | None:
    from lab import training

    return training.registry_stack(name, input_shape)


def custom_stack_ui(prefix: str, input_shape: tuple) -> str:
    """A custom model's layers, as :func:`lab.planner.encode_stack` text mirrored in the URL
    (``{prefix}.stack``): starting from the link's stack, a sequential registry model or a planner
    preset, then edited in :func:`stack_editor`."""
    from lab import planner, training

    linked = st.session_state.setdefault(f"{prefix}.linked", st.query_params.get(f"{prefix}.stack", ""))
    models = [name for name in training.MODELS if _registry_stack(name, input_shape)]
    names = {"link": "the shared link's stack", **{name: f"{name} (registry)" for name in models}}
    starts = ["link"] * bool(linked) + models + list(planner.PRESETS)
    start = st.selectbox("Start from", starts, key=f"{prefix}.start", format_func=lambda name: names.get(name, name))
    with friendly_errors():
        specs = planner.decode_stack(linked) if start == "link" else _registry_stack(start, input_shape)
        rows = stack_editor(f"{prefix}.stack.{start}", specs or planner.PRESETS[start][1])
        text = planner.encode_stack(planner.parse_stack(rows))
    st.query_params[f"{prefix}.stack"] = text
    return text
