"""Fine-tune flowers: two-phase transfer learning on tf_flowers or your own class folders."""

import pandas as pd
import streamlit as st

from app_pages._data import class_folders_ui, crop_preview
from app_pages._runs import classify_photos, export_panel, launch_and_watch, owns, results_panel, shows_pictures
from app_pages._widgets import bound, friendly_errors, show_code
from lab import codegen, finetune, jobs, network, runlog, uploads
from lab.errors import InputError

st.title("Fine-tune flowers")
st.markdown(
    "Transfer learning as HOML does it: put a new classifier head on a network pretrained on ImageNet, "
    "train the head with the base **frozen**, then **unfreeze** the base and train everything at a lower "
    "learning rate. Use TensorFlow's flowers (3,670 photos, 5 classes) or a zip of your own class folders."
)
DEFAULT = finetune.FinetuneConfig()


@st.cache_data(ttl=60, show_spinner=False)
def flowers_status() -> str:
    return finetune.tf_flowers_available()


def forget_the_run() -> None:
    """A new data source is a new experiment: the old run's link (and its error) leaves the page."""
    st.query_params.pop("run", None)


def data_ui() -> tuple[str, uploads.StagedZip | None]:
    """The data source, and the staged class folders when it is a zip (None: nothing uploaded yet)."""
    labels = {"tf_flowers": "tf_flowers", "zip": "My class folders (zip or webcam)"}
    source = bound(
        st.segmented_control,
        "Data",
        "ft.source",
        DEFAULT.source,
        list(finetune.SOURCES),
        format_func=labels.get,
        on_change=forget_the_run,
    )
    if source == "tf_flowers":
        if flowers_status() == "unavailable":
            st.warning(
                "tf_flowers is not prepared here and there is no network: `python -m lab assets` on a machine "
                "with internet, then copy ~/tensorflow_datasets here. Or upload a zip.",
                icon=":material/cloud_off:",
            )
        return source, None
    return source, class_folders_ui("ft")


def phase_ui(title: str, key: str, phase: str) -> dict:
    """One phase's epochs, learning rate and decay (``phase``: the config's field prefix)."""
    st.markdown(title)
    return {
        f"{phase}_epochs": bound(st.number_input, "epochs", f"ft.e{key}", getattr(DEFAULT, f"{phase}_epochs"), step=1),
        f"{phase}_learning_rate": bound(
            st.number_input, "learning rate", f"ft.lr{key}", getattr(DEFAULT, f"{phase}_learning_rate"), format="%.4f"
        ),
        f"{phase}_decay": bound(
            st.number_input, "decay", f"ft.d{key}", getattr(DEFAULT, f"{phase}_decay"), format="%.4f"
        ),
    }


def settings_ui() -> dict:
    """Every setting but the data; the page renders them whatever the data source's state."""
    cols = st.columns(4)
    base = bound(cols[0].selectbox, "Base model", "ft.base", DEFAULT.base_model, list(finetune.BASES))
    size = bound(cols[1].number_input, "Image size", "ft.size", DEFAULT.image_size, step=16)
    batch = bound(cols[2].number_input, "Batch size", "ft.batch", DEFAULT.batch_size, step=1)
    augment = bound(cols[3].toggle, "Random crop + flip", "ft.augment", DEFAULT.augmentation)
    weights = DEFAULT.weights
    if not network.weights_cached(base) and not network.reachable():
        st.warning(f"{base}'s ImageNet weights are not here and there is no network (`python -m lab assets`).")
        if bound(st.checkbox, "Train from random initialisation instead (learns far less)", "ft.random", False):
            weights = None
    left, right = st.columns(2)
    with left:
        head = phase_ui("**Phase 1: the head, base frozen** (SGD, momentum 0.9)", "1", "head")
    with right:
        tune = phase_ui("**Phase 2: unfrozen** (SGD, Nesterov)", "2", "finetune")
    names = st.cache_data(show_spinner="Listing the base's layers…")(finetune.base_layer_names)(base)
    unfreeze = st.select_slider(
        "Unfreeze from layer (phase 2)",
        options=range(len(names)),
        value=DEFAULT.unfreeze_from,
        key=f"ft.unfreeze.{base}",
        format_func=lambda i: f"{i}: {names[i]}",
    )
    patience = bound(st.number_input, "Early-stopping patience (epochs)", "ft.patience", DEFAULT.patience, step=1)
    return {
        "base_model": base,
        "weights": weights,
        "image_size": size,
        "batch_size": batch,
        "unfreeze_from": unfreeze,
        "patience": patience,
        "augmentation": augment,
        **head,
        **tune,
    }


def result(run: jobs.Run) -> None:
    """The fine-tuned model's test results, its files, and new photos classified with it."""
    st.header("Result")
    if run.config.get("weights") is None:
        st.warning("This base started from random weights, not ImageNet's: expect little transfer.")
    outcome, predictions = run.result or {}, runlog.load_predictions(jobs.run_dir(run.id))
    st.dataframe(pd.DataFrame(outcome.get("parameters", {}), index=["trainable", "frozen"]).T, width="stretch")
    thumbnails = predictions.thumbnails / 255.0 if shows_pictures(run) else None
    results_panel(f"ft.{run.id}", predictions, outcome.get("classes", []), thumbnails)
    if owns(run):
        export_panel(run)
        classify_photos(run.id, "ft.photos")


source, staged = data_ui()
settings = settings_ui()  # before anything can stop the page: a widget that vanishes comes back blank
config, why_not = None, ""
if source == "zip" and staged is None:
    why_not = "Upload a zip of class folders first."
elif source == "tf_flowers" and flowers_status() == "unavailable":
    why_not = "tf_flowers cannot be loaded here (see above): launching would only make a failed run."
else:
    with friendly_errors():
        config = finetune.FinetuneConfig(source=source, data_dir=str(staged.path) if staged else None, **settings)


if staged and config:
    crop_preview(config)
run = launch_and_watch("finetune", config, "Launch fine-tuning", ":material/rocket_launch:", why_not)
if config is None and run is not None and run.kind == "finetune":  # a refresh: the run's own settings
    try:
        config = finetune.FinetuneConfig.from_dict(run.config)
    except InputError:  # its uploaded folders were cleaned away: the panel says what there is
        config = None
    if config is not None and owns(run):
        crop_preview(config)
if run is not None and run.status == "succeeded" and run.kind == "finetune":
    with friendly_errors():
        result(run)
if config:
    show_code(codegen.finetune_script(config))
