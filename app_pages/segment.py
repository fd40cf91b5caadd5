"""Segment: a class for every pixel of the digit canvases, with an encoder-decoder (a U-Net with its skips)."""

import streamlit as st

from app_pages._runs import launch_and_watch, runs_table
from app_pages._segment import results, samples
from app_pages._widgets import bound, chart, friendly_errors, show_code
from lab import codegen, segment

st.title("Segment")
st.markdown(
    "Detection draws a box around each digit; **semantic segmentation** gives every pixel a class: the "
    "background, or which digit's ink it is. An encoder halves the canvas a few times (it sees more, in less "
    "detail); a decoder of **transposed convolutions** doubles it back to a softmax per pixel. With **skip "
    "connections** (a U-Net) each upsampling step also gets the encoder's map of the same size, and the "
    "detail the downsampling lost. Train it with and without them, and compare the masks."
)
DEFAULT = segment.SegmentConfig()


def number(column, label: str, name: str, step=1, **kwargs):
    return bound(column.number_input, label, f"seg.{name}", getattr(DEFAULT, name), step=step, **kwargs)


def settings_ui() -> dict:
    """The canvases', the network's and the training's settings (each in the URL as ``seg.<name>``)."""
    values = {}
    with st.expander("The canvases", icon=":material/grid_on:"):
        cols = st.columns(4)
        fields = [("seed", "Seed", 1), ("canvas_size", "Canvas side (px)", 16), ("min_digit", "Smallest digit (px)", 1)]
        fields += [("max_digit", "Largest digit (px)", 1), ("min_objects", "Fewest digits", 1)]
        fields += [("max_objects", "Most digits", 1), ("clutter", "Clutter pieces", 1)]
        fields += [("train_canvases", "Training canvases", 500), ("test_canvases", "Test canvases", 100)]
        for n, (name, label, step) in enumerate(fields):
            values[name] = number(cols[n % 4], label, name, step)
        values["noise"] = bound(st.slider, "Noise", "seg.noise", DEFAULT.noise, min_value=0.0, max_value=0.5)
    cols = st.columns([2, 2, 1, 1, 1])
    labels = {"digits": "digits (11)", "foreground": "digit or not (2)"}
    values["classes"] = bound(
        cols[0].segmented_control, "Classes", "seg.classes", DEFAULT.classes, list(labels), format_func=labels.get
    )
    values["classes"] = values["classes"] or DEFAULT.classes
    values["skips"] = bound(cols[1].toggle, "Skip connections (U-Net)", "seg.skips", DEFAULT.skips)
    values["depth"] = number(cols[2], "Depth", "depth", help="halvings of the canvas on the way down")
    values["filters"] = number(cols[3], "Filters", "filters", help="the first step's; each step down doubles them")
    values["foreground_weight"] = number(
        cols[4], "Digit weight", "foreground_weight", 1.0, help="a digit pixel's loss x"
    )
    cols = st.columns(3)
    values["epochs"] = number(cols[0], "Epochs", "epochs")
    values["batch_size"] = number(cols[1], "Batch size", "batch_size")
    values["learning_rate"] = number(cols[2], "Learning rate", "learning_rate", 0.0005, format="%.4f")
    return values


values = settings_ui()
with friendly_errors():
    config = segment.SegmentConfig(**values)
chart(st, samples(config), key="seg.samples")
st.caption("Three training canvases and their true masks: each digit's ink is its class; the rest is background.")
label = "Train (U-Net)" if config.skips else "Train (no skips)"
run = launch_and_watch("segment", config, label, ":material/model_training:")
if run is not None and run.kind == "segment" and run.status == "succeeded":
    with friendly_errors():
        results(run, segment.SegmentConfig.from_dict(run.config))
runs_table("segment", ("skips", "classes", "depth", "filters", "epochs"), score=("miou", "mIoU"), curve="val_mean_iou")
show_code(codegen.segment_script(config))
