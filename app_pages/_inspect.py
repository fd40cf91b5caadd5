"""The Inspect page's views of one neuron: the picker, its field, its arithmetic, the pictures its
channel likes, and the trust checks of the model's Grad-CAM (no math: :mod:`lab.inspect`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._runs import load_dataset, trained_model
from app_pages._widgets import bound, chart, friendly_errors
from lab import figures, inspect, training


def neuron_ui(layers: list, count: int | None) -> tuple[int, str, int, int, int]:
    """The test picture (when there are ``count``), the layer and the neuron, each in the URL."""
    cols = st.columns([1, 2, 1, 1, 1])
    picture = 0
    if count:
        picture = bound(cols[0].number_input, "Test picture", "inspect.picture", 0, min_value=0, max_value=count - 1)
    names = [name for name, _, _ in layers]
    first = next((name for name, kind, _ in layers if kind == "Conv2D"), names[0])
    labels = {name: f"{name} ({kind}, {' x '.join(map(str, shape))})" for name, kind, shape in layers}
    layer = bound(cols[1].selectbox, "Layer", "inspect.layer", first, names, format_func=labels.get)
    shape = next(shape for name, _, shape in layers if name == layer)
    spatial = len(shape) == 3
    row = bound(cols[2].number_input, "Row", "inspect.row", 3, min_value=0, max_value=shape[0] - 1) if spatial else 0
    col = bound(cols[3].number_input, "Column", "inspect.col", 3, min_value=0, max_value=shape[1] - 1) if spatial else 0
    unit = "Channel" if spatial else "Unit"
    channel = bound(cols[4].number_input, unit, "inspect.channel", 0, min_value=0, max_value=shape[-1] - 1)
    return int(picture), layer, int(row), int(col), int(channel)


def arithmetic(view: inspect.NeuronView) -> None:
    cols = st.columns(3)
    cols[0].metric("The model's value", f"{view.value:.6g}")
    cols[1].metric("Largest |ours - the model's|", f"{view.difference:.1e}")
    cols[2].metric("Receptive field", view.field_note.split(" (")[0])
    if view.terms:
        st.markdown("**Its sum, term by term** (largest first)")
        st.dataframe(pd.DataFrame(view.terms, columns=["term", "contribution"]), hide_index=True, width="stretch")
    if view.steps:
        rows = [
            (step, ours, theirs, None if theirs is None else abs(ours - theirs)) for step, ours, theirs in view.steps
        ]
        columns = ["step", "ours", "the model's own", "difference"]
        st.dataframe(pd.DataFrame(rows, columns=columns), hide_index=True, width="stretch")
    if view.winner is not None:
        st.markdown(f"Max pooling: input cell {view.winner} of the layer below won the window.")


@st.cache_data(max_entries=64, show_spinner=False)
def ranked(run_id: str, config: training.TrainConfig, layer: str, channel: int) -> list:
    """Once per run, layer and channel: every test picture goes through the model for it."""
    pictures = load_dataset(config).x_test
    return inspect.top_activations(trained_model(run_id).model, pictures.shape[1:], pictures, layer, channel)


def favourites(run_id: str, config, shape, pictures: np.ndarray, layer: str, channel: int) -> None:
    """The test pictures that excite the channel most, cut at the receptive field of their peak."""
    with friendly_errors():
        found = ranked(run_id, config, layer, channel)
    crops, captions = [], []
    for index, value, (row, col), field in found:
        (top, bottom), (left, right) = field or ((0, shape[0]), (0, shape[1]))
        crops.append(np.clip(pictures[index][top:bottom, left:right], 0, 1))
        captions.append(f"#{index}: {value:.3g} at ({row}, {col})")
    alt = [f"Test picture {index}, cut at the receptive field of the channel's strongest neuron" for index, *_ in found]
    st.image(crops, caption=captions, width=96, clamp=True, alt=alt)


def field_view(picture: np.ndarray, view: inspect.NeuronView, row: int, col: int, channel: int) -> None:
    """The picture with the neuron's receptive field outlined, beside its channel's map with the neuron marked."""
    if view.feature_map is None:
        return
    (top, bottom), (left, right) = view.field or ((0, 0), (0, 0))
    taps = (np.arange(top, bottom), np.arange(left, right)) if view.field else None
    maps = view.feature_map[..., np.newaxis]
    figure = figures.feature_maps_figure(picture, maps, [f"{view.layer}[{channel}]"], pixel=(row, col), taps=taps)
    chart(st, figure, key="inspect.field")
    st.caption(
        f"Left: the picture, the receptive field outlined ({view.field_note}). Right: channel {channel}, the neuron x."
    )


def trust_panel(report: inspect.TrustReport, image: np.ndarray, class_names: list) -> None:
    """Grad-CAM of the picture, the randomisation cascade and the deletion curves, with one sentence."""
    st.subheader(f"Can its Grad-CAM (for {class_names[report.class_id]}) be trusted?")
    (st.warning if report.flagged else st.success)(report.sentence())
    left, middle, right = st.columns(3)
    chart(left, figures.overlay_figure_cam(image * 255, report.cam), key="inspect.cam")  # image in [0, 1]
    middle.dataframe(
        pd.DataFrame(report.cascade, columns=["top layers re-initialised", "rank correlation"]), hide_index=True
    )
    chart(right, figures.deletion_figure(report.salient, report.random), key="inspect.deletion")
