"""Convolution playground: preset and hand-made kernels on a real or uploaded image."""

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._pictures import image_choice, image_picker, image_settings_ui
from app_pages._widgets import bound, chart, friendly_errors, show_code
from lab import codegen, convolution, figures, images

st.title("Convolution playground")
st.markdown(
    "A convolutional layer slides small **kernels** (filters) over the image and writes one "
    "**feature map** per kernel: each output pixel is the sum of the patch under the kernel times the kernel, plus a bias. HOML's chapter 14 starts with two 7x7 filters, a vertical and a horizontal "
    "line, on these photos. Pick a kernel, edit its numbers, and look inside any output pixel."
)
DEFAULT = convolution.ConvConfig()
SIZES, SIGMAS = {"min_value": 1, "max_value": 15, "step": 2}, {"min_value": 0.2, "max_value": 5.0}
SEEDS = {"min_value": 0, "max_value": 99_999}


def settings_ui(channels: int) -> convolution.ConvConfig:
    """The playground's settings, the editable kernel grid's cells among them (it starts from the preset)."""
    cols = st.columns(4)
    presets = list(convolution.PRESETS)
    preset = bound(cols[0].selectbox, "Kernel", "conv.preset", DEFAULT.preset, presets, on_change=forget_edits)
    fixed, gaussian, random = preset in convolution.FIXED_3X3, preset == "gaussian blur", preset == "random"
    fresh = {"on_change": forget_edits}  # a new preset starts from its own grid
    # Only the settings the preset uses are shown: a disabled widget's grey label is below 4.5:1 contrast
    size, sigma, seed, per_channel = DEFAULT.kernel_size, DEFAULT.sigma, DEFAULT.seed, False
    if not fixed:
        size = bound(cols[1].slider, "Size", "conv.size", DEFAULT.kernel_size, **SIZES, **fresh)
    if gaussian:
        sigma = bound(cols[2].slider, "Sigma", "conv.sigma", DEFAULT.sigma, **SIGMAS, **fresh)
    if random:
        seed = bound(cols[3].number_input, "Seed", "conv.seed", DEFAULT.seed, **SEEDS, **fresh)
    left, right = st.columns([3, 2])
    with right:
        layer = {
            "stride": bound(st.slider, "Stride", "conv.stride", DEFAULT.stride, min_value=1, max_value=8),
            "padding": bound(st.radio, "Padding", "conv.padding", DEFAULT.padding, ["same", "valid"], horizontal=True),
            "dilation": bound(st.slider, "Dilation", "conv.dilation", DEFAULT.dilation, min_value=1, max_value=6),
            "bias": bound(st.number_input, "Bias", "conv.bias", DEFAULT.bias, step=0.1),
            "relu": bound(st.toggle, "ReLU", "conv.relu", DEFAULT.relu),
        }
        one_map = {"help": "Off: one kernel shared by all channels and summed (HOML). On: each channel on its own."}
        if channels > 1:
            per_channel = bound(st.toggle, "One map per channel", "conv.per_channel", DEFAULT.per_channel, **one_map)
    with friendly_errors():
        edits = st.query_params.get("conv.kernel", "")  # a link carries the learner's edited cells
        config = convolution.ConvConfig(preset, size, sigma, seed, per_channel, **layer, cells=edits)
        start = config.kernel()
    with left:
        st.caption("Edit any cell: this grid *is* the kernel.")
        grid = st.data_editor(
            pd.DataFrame(np.round(start, 4)).rename(columns=str),
            width="stretch",
            key=f"conv.grid.{preset}.{size}.{sigma}.{seed}",
        )
    with friendly_errors():
        kernel = convolution.parse_kernel_grid(grid.to_numpy().tolist())
    if np.array_equal(np.round(kernel, 4), np.round(config.preset_kernel(), 4)):
        return config  # the preset's own kernel, as the grid shows it
    st.query_params["conv.kernel"] = cells = convolution.encode_kernel(kernel)
    return dataclasses.replace(config, cells=cells)


def forget_edits() -> None:
    st.query_params.pop("conv.kernel", None)


def pixel_view(image: np.ndarray, filters: np.ndarray, maps: np.ndarray, config: convolution.ConvConfig) -> tuple:
    """One output pixel: its patch, the kernel, their products, and the sum the map holds."""
    st.subheader("Look inside one output pixel")
    cols = st.columns(3)
    row = bound(cols[0].number_input, "output row", "conv.row", min(maps.shape[0] // 2, 100), step=1)
    col = bound(cols[1].number_input, "output column", "conv.col", min(maps.shape[1] // 2, 100), step=1)
    maps_list = list(range(maps.shape[2]))
    which = bound(cols[2].selectbox, "map", "conv.map", 0, maps_list, format_func=lambda i: f"map {i}")
    with friendly_errors():
        explained = convolution.explain_pixel(image, filters[..., which], row, col, config)
    shared = st.toggle("Shared colour scale", value=True, key="conv.shared")
    titles = [f"map {i}" for i in range(maps.shape[2])]
    taps = (explained.rows, explained.cols)
    figure = figures.feature_maps_figure(image, maps, titles, shared, (row, col), taps)
    chart(st, figure, key="conv.maps")
    channels = image.shape[2]
    channel = st.segmented_control("channel", range(channels), default=0, key="conv.channel") if channels > 1 else 0
    channel = channel or 0
    grids = {
        "patch": (explained.patch[..., channel], f"patch, channel {channel}", "Blues"),
        "kernel": (filters[..., channel, which], "kernel", "RdBu"),
        "products": (explained.products[..., channel], "patch × kernel", "Blues"),
    }
    for column, (key, (values, title, colours)) in zip(st.columns(3), grids.items(), strict=True):
        chart(column, figures.grid_figure(values, title, colorscale=colours), key=f"conv.{key}")
    st.markdown(explained.sentence(float(maps[row, col, which])))
    return row, col, which


@st.cache_data(max_entries=64, show_spinner=False)  # a Keras layer per rerun: ~20% of the page's time
def transposed_explanation(size: int, kernel: int, stride: int) -> str:
    return convolution.transposed_demo((size, size), kernel, stride).explanation()


def demos() -> None:
    with st.expander("HOML demo: a Conv2D layer with random weights, then with the line filters"):
        if st.toggle("Run it on the two sample crops", key="conv.demo"):
            crops = images.homl_crops()
            demo = convolution.conv2d_layer_demo(crops, convolution.homl_line_filters())
            outputs = {"random weights": demo.random_output, "set_weights(line filters)": demo.set_output}
            for label, output in outputs.items():
                figure = figures.feature_maps_figure(crops[0], output[0], ["filter 0", "filter 1"], False)
                chart(st, figure, key=f"conv.demo.{label}")
                st.caption(f"china crop, {label}")
            st.success(f"After set_weights the layer equals tf.nn.conv2d with the filters: {demo.matches_conv2d}.")
    linked = "conv.t_kernel" in st.query_params  # the Segment page links its upsampling here
    with st.expander("Transposed convolution (upsampling)", expanded=linked):
        cols = st.columns(3)
        size = bound(cols[0].slider, "input size", "conv.t_size", 5, min_value=2, max_value=12)
        kernel = bound(cols[1].slider, "kernel", "conv.t_kernel", 3, min_value=1, max_value=7)
        stride = bound(cols[2].slider, "stride", "conv.t_stride", 2, min_value=1, max_value=4)
        with friendly_errors():
            st.markdown(transposed_explanation(size, kernel, stride))


raw = image_picker("conv")
crop, gray = image_settings_ui("conv", raw)
config = settings_ui(1 if gray else 3)
if raw is None:
    st.stop()  # after the settings, so they keep their values while an upload is awaited
with friendly_errors():
    image = images.prepare(raw, grayscale=gray, crop=crop)
    kernel = config.kernel()
    filters = convolution.expand_kernel(kernel, image.shape[2], config.per_channel)
    maps = convolution.convolve(image, filters, config)

cols = st.columns(4)
cols[0].metric("Input", " x ".join(map(str, image.shape)))
cols[1].metric("Output", " x ".join(map(str, maps.shape)))
cols[2].metric("Parameters", f"{filters.size + filters.shape[3]:,}", help="weights kh*kw*C*n + one bias per map")
cols[3].metric("Kernel", f"{kernel.shape[0]}x{kernel.shape[1]}, sum {kernel.sum():.3g}")
pixel = pixel_view(image, filters, maps, config)
demos()
show_code(codegen.convolution_script(image_choice("conv", crop, gray), config, pixel))
