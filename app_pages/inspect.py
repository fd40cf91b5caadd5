"""Inspect a model: any neuron of any layer of a model trained here or an ImageNet model, its receptive
field, its arithmetic to the model's own value, the pictures its channel likes, and whether the model's
Grad-CAM can be trusted."""

import streamlit as st

from app_pages._identity import owner
from app_pages._inspect import arithmetic, favourites, field_view, neuron_ui, trust_panel
from app_pages._runs import downloads, load_dataset, owns, shows_pictures, trained_model
from app_pages._widgets import bound, friendly_errors, show_code
from lab import classify, codegen, images, inspect, jobs, network, runlog, training
from lab.errors import InputError

st.title("Inspect a model")
st.markdown(
    "Pick a model (one you trained on the Train page, or an ImageNet model), a picture, a layer and **one "
    "neuron** of it (row, column, channel). See which input pixels it can see (its receptive field, exact "
    "from every kernel, stride and padding on the way) and follow its value back: patch x kernel over every "
    "input channel, + bias, then what BatchNormalization and the activation do, checked against the value "
    "the model itself computes."
)


def run_ui() -> jobs.Run | None:
    """The run to inspect: one of this learner's finished training or fine-tuning runs, or the one in the link."""
    mine = [run for run in jobs.list_runs(owner=owner()) if run.status == "succeeded" and run.kind in KINDS]
    linked = st.query_params.get("inspect.run")
    choices = [run.id for run in mine] + ([linked] if linked and linked not in {run.id for run in mine} else [])
    if not choices:
        st.info("Train a model on the Train page first: its finished runs appear here.", icon=":material/info:")
        return None
    chosen = bound(st.selectbox, "Model (a finished run)", "inspect.run", choices[0], choices)
    with friendly_errors():
        run = jobs.get(chosen)
        if run.kind not in KINDS or run.status != "succeeded":
            raise InputError(
                f"Run {chosen} is a {run.status} {run.kind} run: finished training or fine-tuning runs only."
            )
    return run


@st.cache_resource(max_entries=2, show_spinner="Building the ImageNet model…")
def imagenet_model(name: str, weights: str | None) -> classify.LoadedModel:
    return classify.load_imagenet(name, weights)


def current(model_key: tuple, picture_key: object):
    """The whole model, the picture as its input and as shown, from their cache keys."""
    kind, *key = model_key
    if kind == "train":
        image = load_dataset(key[1]).x_test[picture_key]
        return trained_model(key[0]).model, image, image
    loaded = trained_model(key[0]) if kind == "finetune" else imagenet_model(*key)
    shown, image = classify.model_input(loaded, images.sample_image(picture_key))
    return loaded.model, image, shown


@st.cache_data(max_entries=16, show_spinner="Checking Grad-CAM: re-initialising layers, deleting pixels…")
def trust_report(model_key: tuple, picture_key: object) -> inspect.TrustReport:
    """Once per model and picture (a run's test picture, or a sample photo)."""
    model, image, _ = current(model_key, picture_key)
    return inspect.trust(model, image)


def photo_ui(column) -> str:
    return bound(column.segmented_control, "Photo", "inspect.photo", "china", list(images.SAMPLES)) or "china"


def imagenet_ui() -> tuple[tuple, str]:
    cols = st.columns(2)
    name = bound(cols[0].selectbox, "ImageNet model", "inspect.imagenet", "MobileNetV2", list(classify.IMAGENET_MODELS))
    weights = "imagenet" if network.weights_cached(name) else None
    if weights is None:
        st.caption(f"{name}'s ImageNet weights are not here: random weights (`python -m lab assets` fetches them).")
    return ("imagenet", name, weights), photo_ui(cols[1])


KINDS = ("train", "finetune")
sources = {"run": "A model trained here", "imagenet": "An ImageNet model"}
source = bound(st.segmented_control, "Model", "inspect.source", "run", list(sources), format_func=sources.get) or "run"
run, photo, count = None, None, None
with friendly_errors():
    if source == "run" and (run := run_ui()) is None:
        st.stop()
    if run is not None and run.kind == "train":
        config = training.TrainConfig.from_dict(run.config)
        data = load_dataset(config)
        model_key, count, class_names, shape = ("train", run.id, config), len(data.x_test), data.class_names, None
    else:
        if run is not None:
            model_key, photo = ("finetune", run.id), photo_ui(st)
        else:
            model_key, photo = imagenet_ui()
        loaded = trained_model(run.id) if run else imagenet_model(*model_key[1:])
        class_names, shape = loaded.class_names, (*loaded.input_size, 3)
whole_model, image, shown = current(model_key, 0 if count else photo)
shape = shape or image.shape
model = inspect.base_of(whole_model)  # a fine-tuned model's base: its neurons are the ones to look at
picture, layer, row, col, channel = neuron_ui(inspect.layers(model, shape), count)
picture_key = picture if count else photo
_, image, shown = current(model_key, picture_key)
with friendly_errors():
    view = inspect.neuron(model, shape, image, layer, row, col, channel)
visible = run is None or shows_pictures(run)
if visible:
    field_view(shown, view, row, col, channel)
else:
    st.info("This run trained on another learner's pictures: its numbers are shown, never the pictures.")
arithmetic(view)
if count and view.feature_map is not None and visible:
    st.subheader(f"What excites channel {channel} of {layer} most")
    favourites(run.id, config, shape, data.x_test, layer, channel)
check = "Check whether its Grad-CAM can be trusted (re-initialises its layers: seconds on an ImageNet model)"
if visible and model is whole_model and (run is not None or bound(st.toggle, check, "inspect.trust", False)):
    trust_panel(trust_report(model_key, picture_key), shown, class_names)  # a nested base's: the classifier page's
if count:
    neuron = {"picture": picture, "layer": layer, "row": row, "col": col, "channel": channel}
    settings = inspect.InspectConfig(dataset=config.dataset, seed=config.seed, image_size=config.image_size, **neuron)
    if owns(run):  # the model file the script loads
        downloads(run.id, {runlog.MODEL_FILE: f"{run.id}.keras"})
    show_code(codegen.inspect_script(config, settings, run.id))
