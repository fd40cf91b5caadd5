"""The Segment page's views of a finished run: its scores, its worst masks, its confusion and its first
transposed convolution done by hand (no math: :mod:`lab.segment`)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages._widgets import bound, chart
from lab import figures, figures_segment, jobs, segment

SHOWN = 3  # canvases drawn at once, worst first


@st.cache_data(max_entries=16, show_spinner=False)
def samples(config: segment.SegmentConfig):
    pictures, truth = segment.canvases(config, "train", SHOWN)
    titles = [f"training canvas {n}" for n in range(SHOWN)]
    return figures_segment.masks_figure(pictures, [("true mask", truth)], config.names, titles, per_row=SHOWN)


@st.cache_resource(max_entries=4, show_spinner="Making the test canvases…")  # read only: no copy per rerun
def masks_view(run_id: str, config: segment.SegmentConfig) -> segment.MasksView:
    return segment.masks_view(config, segment.predicted_masks(run_id))


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def trained_model(run_id: str):
    return segment.load_model(run_id)


@st.cache_data(max_entries=8, show_spinner="Upsampling by hand…")
def upsampling(run_id: str, config: segment.SegmentConfig, index: int) -> segment.UpsamplingView:
    return segment.upsampling_view(trained_model(run_id), masks_view(run_id, config).pictures[index])


def results(run: jobs.Run, config: segment.SegmentConfig) -> None:
    """The finished run's numbers, its worst test canvases, its per-pixel confusion and its upsampling."""
    result = run.result or {}
    metrics = [
        ("mIoU", f"{result.get('miou', 0):.3f}", f"the mean of {len(config.names)} classes' IoU"),
        ("Foreground IoU", f"{result.get('foreground_iou', 0):.3f}", "any digit's pixels against the background's"),
        ("Pixel accuracy", f"{result.get('pixel_accuracy', 0):.3f}", "most pixels are background: it flatters"),
        ("Training time", f"{result.get('seconds', 0):.1f} s", f"{result.get('parameters', 0):,} parameters"),
    ]
    for col, (label, value, help_text) in zip(st.columns(4), metrics, strict=True):
        col.metric(label, value, help=help_text)
    ious = result.get("class_iou", {})
    chart(st, figures_segment.class_iou_figure(list(ious), list(ious.values())), key="seg.ious")
    view = masks_view(run.id, config)
    count = len(view.order)
    rank = bound(st.slider, "Test canvases from the worst (rank 1)", "seg.rank", 1, min_value=1, max_value=count)
    chosen = view.order[rank - 1 : rank - 1 + SHOWN]
    panels = [("true", view.truth[chosen]), ("predicted", view.predicted[chosen])]
    panels.append(("wrong pixels", (view.truth[chosen] != view.predicted[chosen]).astype(np.uint8)))
    titles = [f"canvas {n}, mIoU {view.canvas_ious[n]:.2f}" for n in chosen]
    chart(st, figures_segment.masks_figure(view.pictures[chosen], panels, config.names, titles), key="seg.masks")
    st.caption(
        "Ranked by each canvas's own mIoU. Each region is named by its class; the last column marks the wrong pixels."
    )
    chart(st, figures.confusion_figure(view.confusion, config.names, shares=True), key="seg.confusion")
    st.caption("Every test pixel: rows are the true class, columns the predicted one, each row in shares of its class.")
    upsampling_panel(run.id, config, int(chosen[0]))


def upsampling_panel(run_id: str, config: segment.SegmentConfig, index: int) -> None:
    """The decoder's first Conv2DTranspose on a canvas, redone as zeros inserted + a VALID convolution."""
    view = upsampling(run_id, config, index)
    shape = " x ".join(map(str, view.input_shape)), " x ".join(map(str, view.output_shape))
    st.markdown(
        f"**Its first upsampling**, `Conv2DTranspose({view.output_shape[-1]}, {view.kernel_size}, "
        f"strides={view.stride})` on canvas {index}: {shape[0]} → {shape[1]}. Insert {view.stride - 1} zero "
        f"between the pixels, pad {view.kernel_size - 1} all round, convolve (VALID) with the trained kernel "
        f"flipped, add the bias, ReLU: the largest difference from the layer's own output is **{view.difference:.1e}**."
    )
    query = {"conv.t_size": str(min(view.input_shape[0], 12)), "conv.t_kernel": str(view.kernel_size)}
    query["conv.t_stride"] = str(view.stride)
    if st.button("See a transposed convolution step by step", icon=":material/open_in_new:"):
        st.switch_page("app_pages/convolution.py", query_params=query)
