"""Widget helpers shared by several pages. They hold no math: that lives in ``lab``.

URL state: every widget that matters has a namespaced key (``"pool.size"``); :func:`from_url`
seeds it from ``st.query_params`` once per session and :func:`to_url` mirrors it back, so a
shared link reproduces the view.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import streamlit as st

from lab import figures, images, jobs
from lab.errors import InputError

UPLOAD_TYPES = ["jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff"]


def _parse(raw: str, default):
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def from_url(key: str, default, options: Sequence | None = None, bounds: tuple | None = None) -> None:
    """Seed ``st.session_state[key]`` from the URL (or ``default``) the first time it is seen.

    A hostile or stale URL value (wrong type, not among ``options``, outside ``bounds``) falls back
    to ``default``: a widget given an out-of-range value would raise instead of rendering.
    """
    if key in st.session_state:
        return
    value = default
    raw = st.query_params.get(key)
    if raw is not None:
        try:
            value = _parse(raw, default)
        except (TypeError, ValueError, OverflowError):
            value = default
        if options is not None and value not in options:
            value = default
        if bounds is not None and not (bounds[0] <= value <= bounds[1]):
            value = default
        if isinstance(value, float) and value != value:  # NaN from the URL
            value = default
    st.session_state[key] = value


def bound(widget, label: str, key: str, default, options: Sequence | None = None, **kwargs):
    """Create ``widget`` seeded from and mirrored to the URL; return its value.

    ``options`` is passed positionally (selectbox, radio, segmented_control); ``min_value`` and
    ``max_value`` also bound what the URL may set.
    """
    limits = (kwargs["min_value"], kwargs["max_value"]) if {"min_value", "max_value"} <= kwargs.keys() else None
    from_url(key, default, options, limits)
    value = widget(label, options, key=key, **kwargs) if options is not None else widget(label, key=key, **kwargs)
    to_url(key)
    return value


def to_url(*keys: str) -> None:
    """Mirror the current values of ``keys`` into the URL's query string."""
    for key in keys:
        value = st.session_state.get(key)
        if value is not None:
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


def show_code(snippet: str) -> None:
    """The "Show the code" expander with the Keras/TF snippet for the current settings."""
    with st.expander("Show the code", icon=":material/code:"):
        st.code(snippet.strip(), language="python")


@st.cache_data(max_entries=16, show_spinner=False)
def _decode(data: bytes) -> np.ndarray:
    return images.load_image(data)


def image_picker(prefix: str) -> np.ndarray | None:
    """Sample photo or upload -> (H, W, 3) uint8, or None (with a message shown) if none usable."""
    key = f"{prefix}.image"
    options = [*images.SAMPLES, "upload"]
    from_url(key, "china", options)
    source = st.segmented_control(
        "Image",
        options,
        key=key,
        format_func=lambda name: {"china": "China (sample)", "flower": "Flower (sample)"}.get(name, "Upload…"),
    )
    to_url(key)
    if source != "upload":
        return images.sample_image(source or "china")  # cached in lab (lru_cache), a copy each call
    upload = st.file_uploader(
        "Your image (JPEG, PNG, GIF, WebP, BMP or TIFF)", type=UPLOAD_TYPES, key=f"{prefix}.upload"
    )
    if upload is None:
        st.info("Upload an image, or pick a sample above.", icon=":material/upload:")
        return None
    try:
        return _decode(upload.getvalue())
    except InputError as error:
        st.error(f"{upload.name}: {error}", icon=":material/error:")
        return None


CROPS = {"full": "Full image", "homl": "HOML crop (rows 150:220, cols 130:250)", "custom": "Custom box"}


def image_settings_ui(
    prefix: str, image: np.ndarray, default_crop: str = "full"
) -> tuple[tuple[int, int, int, int] | None, bool]:
    """Crop box and grayscale switch for an image; returns (crop or None, grayscale)."""
    cols = st.columns([2, 1])
    mode = bound(
        cols[0].radio, "Region", f"{prefix}.crop", default_crop, list(CROPS), format_func=CROPS.get, horizontal=True
    )
    gray = bound(cols[1].toggle, "Grayscale", f"{prefix}.gray", False)
    if mode == "full":
        return None, gray
    if mode == "homl":
        return images.HOML_CROP, gray
    height, width = image.shape[:2]
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


# ----------------------------------------------------------------------------------------------
# The run panel: live status of a background run (training or fine-tuning), shared by pages.
# ----------------------------------------------------------------------------------------------
STATUS_ICONS = {"queued": ":material/hourglass_top:", "starting": ":material/rocket_launch:",
                "running": ":material/directions_run:", "succeeded": ":material/check_circle:", "failed": ":material/error:",
                "cancelled": ":material/stop_circle:", "interrupted": ":material/warning:"}  # fmt: skip


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def run_panel(run_id: str, markers: dict | None = None) -> jobs.Run | None:
    """Status, progress, curves and Cancel/Resume for a run, polled every second while active.

    The page only reads the registry: the run lives in its own process, so clicks, refreshes
    and server restarts do not touch it. Returns the run, or None when the id is unknown.
    """
    try:
        run = jobs.get(run_id)
    except InputError as error:
        st.error(str(error), icon=":material/error:")
        return None

    @st.fragment(run_every=1.0 if run.active else None)
    def live() -> None:
        jobs.schedule()  # reaps dead workers and starts queued runs: nothing is lost if no one else polls
        current = jobs.get(run_id)
        state = jobs.progress(run_id)
        cols = st.columns([3, 1])
        line = f"{STATUS_ICONS.get(current.status, '')} **{current.status}** · run `{run_id}`"
        if current.status == "queued":
            line += f" · position {jobs.queue_position(run_id)} in the queue"
        if state.epochs_total:
            line += f" · epoch {min(state.epoch + 1, state.epochs_total)}/{state.epochs_total}"
        if state.images_per_second:
            line += f" · {state.images_per_second:,.0f} images/s"
        if current.active and state.eta_seconds is not None:
            line += f" · about {_duration(state.eta_seconds)} left"
        cols[0].markdown(line)
        if current.active and cols[1].button("Cancel", key=f"cancel.{run_id}", icon=":material/stop:"):
            jobs.cancel(run_id)
        if current.status in ("interrupted", "cancelled", "failed") and cols[1].button(
            "Resume", key=f"resume.{run_id}"
        ):
            with friendly_errors():
                jobs.resume(run_id)
            st.rerun()
        if current.active:
            st.progress(state.fraction)
        if current.error:
            st.error(current.error, icon=":material/error:")
        curves = {**state.curves, **(markers or {})}
        if any(name in curves for name in ("batch_loss", "loss")):
            st.plotly_chart(figures.training_curves(curves), key=f"curves.{run_id}")
        if run.active and not current.active:
            st.rerun()  # finished while we watched: redraw the whole page with the results

    live()
    return jobs.get(run_id)


def results_panel(key: str, probabilities, labels, class_names, test_images) -> None:
    """Test accuracy, confusion matrix with a gallery of one cell's mistakes, and the worst examples."""
    from lab import training

    predicted = probabilities.argmax(axis=1)
    counts = training.confusion_matrix(labels, predicted, len(class_names))
    st.metric("Test accuracy", f"{(predicted == labels).mean():.4f}", help=f"{len(labels):,} test images")
    left, right = st.columns([3, 2])
    left.plotly_chart(figures.confusion_figure(counts, class_names), key=f"{key}.confusion")
    with right:
        off = [(t, p) for t in range(len(class_names)) for p in range(len(class_names)) if t != p and counts[t, p]]
        if off:
            cell = st.selectbox("Mistakes (true → predicted)", off, key=f"{key}.cell",
                                format_func=lambda c: f"{class_names[c[0]]} → {class_names[c[1]]} ({counts[c]})")  # fmt: skip
            chosen = np.flatnonzero((labels == cell[0]) & (predicted == cell[1]))[:12]
            st.image([np.clip(test_images[i], 0, 1) for i in chosen], width=72, caption=[f"#{i}" for i in chosen])
        else:
            st.success("No mistakes on the test set.")
    worst, losses = training.highest_loss(probabilities, labels)
    st.caption("Highest-loss test images (true / predicted, loss)")
    st.image([np.clip(test_images[i], 0, 1) for i in worst], width=72,
             caption=[f"{class_names[labels[i]]}/{class_names[predicted[i]]} {loss:.1f}" for i, loss in zip(worst, losses, strict=True)])  # fmt: skip


MODEL_LOCK = threading.Lock()  # Keras models are not safe to call from several sessions at once


def session_key() -> str:
    """A random id for this browser session (for de-duplicating double clicks)."""
    if "session_key" not in st.session_state:
        st.session_state["session_key"] = f"{time.time_ns():x}"
    return st.session_state["session_key"]
