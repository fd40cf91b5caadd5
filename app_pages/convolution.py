"""Convolution playground: preset and hand-made kernels on a real or uploaded image."""

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._widgets import bound, friendly_errors, image_picker, image_settings_ui, show_code
from lab import convolution, figures, images

st.title("Convolution playground")
st.markdown(
    "A convolutional layer slides small **kernels** (filters) over the image and writes one "
    "**feature map** per kernel: each output pixel is the sum of the patch under the kernel times the "
    "kernel, plus a bias. HOML's chapter 14 starts with two 7x7 filters, a vertical and a horizontal "
    "line, on these photos. Pick a kernel, edit its numbers, and look inside any output pixel."
)

raw = image_picker("conv")
if raw is None:
    st.stop()
crop, gray = image_settings_ui("conv", raw)
with friendly_errors():
    image = images.prepare(raw, grayscale=gray, crop=crop)
channels = image.shape[2]

cols = st.columns(4)
preset = bound(cols[0].selectbox, "Kernel", "conv.preset", "vertical line", list(convolution.PRESETS))
fixed = preset in convolution.FIXED_3X3
size = bound(cols[1].slider, "Size", "conv.size", 7, min_value=1, max_value=15, step=2, disabled=fixed)
sigma = bound(
    cols[2].slider,
    "Sigma (gaussian)",
    "conv.sigma",
    1.0,
    min_value=0.2,
    max_value=5.0,
    disabled=preset != "gaussian blur",
)
seed = bound(
    cols[3].number_input, "Seed (random)", "conv.seed", 42, min_value=0, max_value=99_999, disabled=preset != "random"
)

left, right = st.columns([3, 2])
with left:
    with friendly_errors():
        start = convolution.kernel_2d(preset, size, sigma, seed)
    st.caption("Edit any cell: this grid *is* the kernel.")
    grid = st.data_editor(pd.DataFrame(np.round(start, 4)).rename(columns=str), key=f"conv.grid.{preset}.{size}.{sigma}.{seed}",
                          width="stretch", hide_index=False)  # fmt: skip
with right:
    stride = bound(st.slider, "Stride", "conv.stride", 1, min_value=1, max_value=8)
    mode = bound(st.radio, "Padding", "conv.padding", "same", ["same", "valid"], horizontal=True)
    dilation = bound(st.slider, "Dilation", "conv.dilation", 1, min_value=1, max_value=6)
    bias = bound(st.number_input, "Bias", "conv.bias", 0.0, step=0.1)
    relu = bound(st.toggle, "ReLU", "conv.relu", False)
    per_channel = bound(st.toggle, "One map per channel", "conv.per_channel", False, disabled=channels == 1,
                        help="Off: one kernel shared by all channels and summed (HOML). On: each channel on its own.")  # fmt: skip
config = convolution.ConvConfig(
    preset, size, sigma, seed, per_channel and channels > 1, stride, mode, dilation, bias, relu
)

with friendly_errors():
    kernel = convolution.parse_kernel_grid(grid.to_numpy().tolist())
    filters = convolution.expand_kernel(kernel, channels, config.per_channel)
    maps = convolution.convolve(image, filters, stride=stride, padding=mode, dilation=dilation, bias=bias,
                                activation="relu" if relu else None)  # fmt: skip

cols = st.columns(4)
cols[0].metric("Input", " x ".join(map(str, image.shape)))
cols[1].metric("Output", " x ".join(map(str, maps.shape)))
cols[2].metric("Parameters", f"{filters.size + filters.shape[3]:,}", help="weights kh*kw*C*n + one bias per map")
cols[3].metric("Kernel", f"{kernel.shape[0]}x{kernel.shape[1]}, sum {kernel.sum():.3g}")

st.subheader("Look inside one output pixel")
cols = st.columns(3)
row = cols[0].number_input("output row", value=min(maps.shape[0] // 2, 100), key="conv.row", step=1)
col = cols[1].number_input("output column", value=min(maps.shape[1] // 2, 100), key="conv.col", step=1)
which = cols[2].selectbox("map", range(maps.shape[2]), key="conv.map", format_func=lambda i: f"map {i}")
with friendly_errors():
    explained = convolution.explain_pixel(image, filters[..., which], int(row), int(col), stride=stride, padding=mode,
                                          dilation=dilation, bias=bias, activation="relu" if relu else None)  # fmt: skip
shared = st.toggle("Shared colour scale", value=True, key="conv.shared")
titles = [f"map {i}" for i in range(maps.shape[2])]
st.plotly_chart(figures.feature_maps_figure(image, maps, titles, shared, (row, col), (explained.rows, explained.cols)),
                key="conv.maps")  # fmt: skip
channel = st.segmented_control("channel", range(channels), default=0, key="conv.channel") if channels > 1 else 0
channel = channel or 0
cols = st.columns(3)
cols[0].plotly_chart(figures.grid_figure(explained.patch[..., channel], f"patch, channel {channel}"), key="conv.patch")
cols[1].plotly_chart(figures.grid_figure(filters[..., channel, which], "kernel", colorscale="RdBu"), key="conv.kernel")
cols[2].plotly_chart(figures.grid_figure(explained.products[..., channel], "patch × kernel"), key="conv.products")
relu_text = " → ReLU" if relu else ""
st.markdown(
    f"Sum of all {explained.products.size} products **{explained.total:.4f}** + bias {explained.bias:g}{relu_text} "
    f"= **{explained.output:.4f}**; the feature map holds **{maps[row, col, which]:.4f}** "
    f"(taps on rows {explained.rows.min()}..{explained.rows.max()}, columns {explained.cols.min()}..{explained.cols.max()}; "
    "outside the image is zero padding)."
)

with st.expander("HOML demo: a Conv2D layer with random weights, then with the line filters"):
    if st.toggle("Run it on the two sample crops", key="conv.demo"):
        crops = np.stack([images.prepare(images.sample_image(name), crop=images.HOML_CROP) for name in images.SAMPLES])
        demo = convolution.conv2d_layer_demo(crops, convolution.homl_line_filters())
        for label, output in (("random weights", demo.random_output), ("set_weights(line filters)", demo.set_output)):
            st.plotly_chart(
                figures.feature_maps_figure(crops[0], output[0], ["filter 0", "filter 1"], False),
                key=f"conv.demo.{label}",
            )
            st.caption(f"china crop, {label}")
        st.success(f"After set_weights the layer equals tf.nn.conv2d with the filters: {demo.matches_conv2d}.")

with st.expander("Transposed convolution (upsampling)"):
    cols = st.columns(3)
    t_size = cols[0].slider("input size", 2, 12, 5, key="conv.t_size")
    t_kernel = cols[1].slider("kernel", 1, 7, 3, key="conv.t_kernel")
    t_stride = cols[2].slider("stride", 1, 4, 2, key="conv.t_stride")
    with friendly_errors():
        demo_t = convolution.transposed_demo((t_size, t_size), t_kernel, t_stride)
    st.markdown(
        f"`Conv2DTranspose({t_kernel}, strides={t_stride}, padding='valid')` turns {t_size}x{t_size} into "
        f"**{demo_t.output_shape[0]}x{demo_t.output_shape[1]}** (planner: {demo_t.planned_shape[0]}x{demo_t.planned_shape[1]}). "
        f"Inserting {t_stride - 1} zero(s) between pixels, padding {t_kernel - 1}, and a VALID convolution with the "
        f"flipped kernel gives the same output: `np.allclose` → **{demo_t.manual_equal}** (max error {demo_t.max_error:.1e})."
    )
show_code(convolution.code_snippet(config, channels))
