"""Inspect a model trained here: any neuron of any layer, its receptive field, its arithmetic, and the
test pictures that excite its channel most."""

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._identity import owner
from app_pages._runs import downloads, load_dataset, owns, shows_pictures, trained_model
from app_pages._widgets import bound, friendly_errors, show_code
from lab import codegen, figures, inspect, jobs, runlog, training
from lab.errors import InputError

st.title("Inspect a model")
st.markdown(
    "Pick a model you trained on the Train page, a test picture, a layer and **one neuron** of it "
    "(row, column, channel). See which input pixels it can see (its receptive field, exact from every "
    "kernel, stride and padding on the way) and follow its value back: patch x kernel over every input "
    "channel, + bias, then what BatchNormalization and the activation do, checked against the value the "
    "model itself computes."
)


def run_ui() -> jobs.Run | None:
    """The run to inspect: one of this learner's finished training runs, or the one in the link."""
    mine = [run for run in jobs.list_runs("train", owner=owner()) if run.status == "succeeded"]
    linked = st.query_params.get("inspect.run")
    choices = [run.id for run in mine] + ([linked] if linked and linked not in {run.id for run in mine} else [])
    if not choices:
        st.info("Train a model on the Train page first: its finished runs appear here.", icon=":material/info:")
        return None
    chosen = bound(st.selectbox, "Model (a finished training run)", "inspect.run", choices[0], choices)
    with friendly_errors():
        run = jobs.get(chosen)
        if run.kind != "train" or run.status != "succeeded":
            raise InputError(
                f"Run {chosen} is a {run.status} {run.kind} run: only finished training runs are inspected."
            )
    return run


def neuron_ui(layers: list, count: int) -> tuple[int, str, int, int, int]:
    cols = st.columns([1, 2, 1, 1, 1])
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


@st.cache_data(max_entries=16, show_spinner="Checking Grad-CAM: re-initialising layers, deleting pixels…")
def trust_report(run_id: str, config: training.TrainConfig, picture: int) -> inspect.TrustReport:
    return inspect.trust(trained_model(run_id).model, load_dataset(config).x_test[picture])


def trust_panel(report: inspect.TrustReport, image: np.ndarray, class_names: list) -> None:
    st.subheader(f"Can its Grad-CAM (for {class_names[report.class_id]}) be trusted?")
    (st.warning if report.flagged else st.success)(report.sentence())
    left, middle, right = st.columns(3)
    left.plotly_chart(figures.overlay_figure_cam(image * 255, report.cam), key="inspect.cam")
    middle.dataframe(
        pd.DataFrame(report.cascade, columns=["top layers re-initialised", "rank correlation"]), hide_index=True
    )
    right.plotly_chart(figures.deletion_figure(report.salient, report.random), key="inspect.deletion")


run = run_ui()
if run is None:
    st.stop()
config = training.TrainConfig.from_dict(run.config)
with friendly_errors():
    data, loaded = load_dataset(config), trained_model(run.id)
shape = data.x_test.shape[1:]
layers = inspect.layers(loaded.model, shape)
picture, layer, row, col, channel = neuron_ui(layers, len(data.x_test))
with friendly_errors():
    view = inspect.neuron(loaded.model, shape, data.x_test[picture], layer, row, col, channel)
if not shows_pictures(run):
    st.info("This run trained on another learner's pictures: its numbers are shown, never the pictures.")
elif view.feature_map is not None:
    (top, bottom), (left, right) = view.field or ((0, 0), (0, 0))
    taps = (np.arange(top, bottom), np.arange(left, right)) if view.field else None
    maps = view.feature_map[..., np.newaxis]
    figure = figures.feature_maps_figure(
        data.x_test[picture], maps, [f"{layer}[{channel}]"], pixel=(row, col), taps=taps
    )
    st.plotly_chart(figure, key="inspect.field")
    st.caption(
        f"Left: the picture, the receptive field outlined ({view.field_note}). Right: channel {channel}, the neuron x."
    )
arithmetic(view)
if view.feature_map is not None and shows_pictures(run):
    st.subheader(f"What excites channel {channel} of {layer} most")
    favourites(run.id, config, shape, data.x_test, layer, channel)
if shows_pictures(run):
    trust_panel(trust_report(run.id, config, picture), data.x_test[picture], data.class_names)
neuron = {"picture": picture, "layer": layer, "row": row, "col": col, "channel": channel}
settings = inspect.InspectConfig(dataset=config.dataset, seed=config.seed, image_size=config.image_size, **neuron)
if owns(run):  # the model file the script loads
    downloads(run.id, {runlog.MODEL_FILE: f"{run.id}.keras"})
show_code(codegen.inspect_script(config, settings, run.id))
