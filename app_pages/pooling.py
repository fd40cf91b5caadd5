"""Pooling viewer: max, average, global-average and depth-wise pooling on real images."""

from dataclasses import replace

import numpy as np
import streamlit as st

from app_pages._pictures import image_choice, image_picker, image_settings_ui, pixelated
from app_pages._widgets import bound, chart, friendly_errors, show_code
from lab import codegen, figures, images, pooling
from lab.errors import InputError

st.title("Pooling viewer")
st.markdown(
    "A pooling layer shrinks each feature map by summarising every window with one number: its "
    "**maximum** or its **average**. It has no weights; it cuts computation and memory, and buys a "
    "little **invariance** to small shifts. HOML shows it on the cropped sample photos."
)

DEFAULT = pooling.PoolConfig()


def settings_ui() -> pooling.PoolConfig:
    cols = st.columns(4)
    kinds = {"max": "Max", "avg": "Average"}
    kind = bound(cols[0].segmented_control, "Kind", "pool.kind", DEFAULT.kind, list(kinds), format_func=kinds.get)
    size = bound(cols[1].slider, "Pool size", "pool.size", DEFAULT.pool_size, min_value=1, max_value=8)
    stride = bound(cols[2].slider, "Stride (0 = pool size)", "pool.stride", 0, min_value=0, max_value=8)
    mode = bound(cols[3].radio, "Padding", "pool.padding", DEFAULT.padding, ["valid", "same"], horizontal=True)
    with friendly_errors():
        return pooling.PoolConfig(kind=kind or DEFAULT.kind, pool_size=size, stride=stride or None, padding=mode)


raw = image_picker("pool")
crop, gray = image_settings_ui("pool", raw, default_crop="homl")
config = settings_ui()
if raw is None:
    st.stop()  # after the settings, so they keep their values while an upload is awaited
with friendly_errors():
    image = images.prepare(raw, grayscale=gray, crop=crop)
with friendly_errors():
    pooled = pooling.pool(image, config)

cols = st.columns(3)
cols[0].metric("Input", " x ".join(map(str, image.shape)))
cols[1].metric("Output", " x ".join(map(str, pooled.shape)))
cols[2].metric("Values kept", f"{pooled.size / image.size:.0%}", help="pooling has no parameters")
factor = max(1, 480 // image.shape[1])  # the same factor for both: true relative scale
left, right = st.columns([image.shape[1], max(pooled.shape[1], 1)])
shapes = " x ".join(map(str, image.shape)), " x ".join(map(str, pooled.shape))
left.image(pixelated(image, factor), caption=f"input {shapes[0]}", alt=f"The input picture, {shapes[0]}")
right.image(pixelated(pooled, factor), caption=f"{config.kind} pooled {shapes[1]}", alt=f"Pooled, {shapes[1]}")

st.subheader("Inside the windows")
cols = st.columns(3)
# No widget bounds (they would break when a smaller image arrives); clamp so the patch is full-size.
# Their own keys: "pool.top"/"pool.left" belong to the custom crop box above (same URL namespace).
top = bound(cols[0].number_input, "patch top row", "pool.patch_top", 20, step=1)
left_col = bound(cols[1].number_input, "patch left column", "pool.patch_left", 60, step=1)
top, left_col = (int(np.clip(v, 0, max(n - 8, 0))) for v, n in ((top, image.shape[0]), (left_col, image.shape[1])))
channel = cols[2].selectbox(
    "channel",
    range(image.shape[2]),
    key="pool.channel",
    format_func=lambda c: "RGB"[c] if image.shape[2] == 3 else "gray",
)
channel = min(channel, image.shape[2] - 1)  # G or B chosen, then Grayscale: one channel is left
patch = image[top : top + 8, left_col : left_col + 8, channel]
with friendly_errors():
    view = pooling.pool_windows(patch, config.kind, config.pool_size, config.stride, config.padding)
cols = st.columns(2)
highlight = [cell for cells in view.winners for cell in cells] if config.kind == "max" else None
chart(
    cols[0], figures.grid_figure(patch, f"{patch.shape[0]}x{patch.shape[1]} input patch", highlight), key="pool.patch"
)
chart(cols[1], figures.grid_figure(view.output, f"{config.kind} pooled", colorscale="Oranges"), key="pool.out")
st.caption(
    "Orange squares: the cell that won each max."
    if config.kind == "max"
    else "Each output is the mean of its window's real cells."
)

st.subheader("Depth-wise pooling")
st.markdown(
    "Pooling can also run **across channels**: HOML's `DepthMaxPool` keeps the strongest of several feature maps at each pixel."
)
depth = bound(st.radio, "Group size", "pool.depth", DEFAULT.depth_size, pooling.DEPTH_SIZES, horizontal=True)
config = replace(config, depth_size=depth)
with friendly_errors():
    stack, names = pooling.feature_stack(image)
    deep = pooling.depth_pool(stack, depth, config.kind)
    rgb_to_one = pooling.depth_pool(image, image.shape[2], config.kind) if image.shape[2] > 1 else image
cols = st.columns([1, 3])
cols[0].image(
    pixelated(rgb_to_one / max(float(rgb_to_one.max()), 1e-6), factor // 2 or 1),
    caption=f"RGB → 1 channel ({config.kind})",
    alt=f"The picture pooled across its channels ({config.kind}) into one gray channel",
)
chart(cols[1], figures.feature_maps_figure(image, deep, [f"group {i}" for i in range(deep.shape[2])]), key="pool.deep")
st.caption(f"{len(names)} ReLU feature maps ({', '.join(names)}) pooled in groups of {depth} → {deep.shape[2]} map(s).")

st.subheader("Global pooling")
cols = st.columns(2)
gap, gmp = pooling.global_average_pool(image), pooling.global_max_pool(image)
channel_names = list("RGB") if image.shape[2] == 3 else ["gray"]
chart(
    cols[0], figures.channel_bars_figure({"global average": gap, "global max": gmp}, channel_names), key="pool.global"
)
cols[1].markdown(
    "`GlobalAveragePooling2D` turns each map into **one number**: a classifier head needs no Flatten. "
    f"Here: {np.array2string(gap, precision=4)}."
)

st.subheader("Translation invariance")
shift = bound(st.slider, "Shift the input right by (pixels)", "pool.shift", DEFAULT.shift, min_value=1, max_value=4)
config = replace(config, shift=shift)
try:
    moved = pooling.invariance(image, shift, max(config.pool_size, 2))
except InputError as error:  # a tiny upload: say so, keep the rest of the page
    st.info(str(error), icon=":material/info:")
    st.stop()
cols = st.columns(3)
cols[0].metric("conv outputs changed", f"{moved.conv_changed:.0%}")
cols[1].metric(
    "after max pooling",
    f"{moved.max_changed:.0%}",
    delta=f"{moved.max_changed - moved.conv_changed:+.0%}",
    delta_color="inverse",
)
cols[2].metric(
    "after average pooling",
    f"{moved.avg_changed:.0%}",
    delta=f"{moved.avg_changed - moved.conv_changed:+.0%}",
    delta_color="inverse",
)
st.caption(
    f"Interior values compared: {moved.compared[0]:,} conv, {moved.compared[1]:,} pooled (ReLU 7x7 vertical-line filter)."
)
show_code(codegen.pooling_script(image_choice("pool", crop, gray), config))
