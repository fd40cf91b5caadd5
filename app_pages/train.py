"""Train a small CNN: background runs with live curves, the seeds' models, and a look inside."""

import pandas as pd
import streamlit as st

from app_pages._data import class_folders_ui
from app_pages._runs import (
    export_panel,
    launch_and_watch,
    load_dataset,
    owns,
    results_panel,
    runs_table,
    shows_pictures,
    trained_model,
)
from app_pages._stack import custom_stack_ui
from app_pages._widgets import bound, chart, friendly_errors, show_code
from lab import classify, codegen, datasets, figures, jobs, runlog, training, uploads

st.title("Train a CNN")
st.markdown(
    "Pick a dataset (or your own pictures) and a model (or your own layers), press **Train**, and watch the loss fall. Each run trains in its own "
    "process, so you can click around, reload the page or share its link (`?run=`) while it works. Then look inside: the confusion matrix, the mistakes, the learned filters and each layer's maps.\n\n"
    "Jump to: [settings](#settings) · [the run](#the-run) · [inside the trained model](#inside) · [take it with you](#take-it-with-you) · [your runs](#runs)"
)
st.subheader("Settings", anchor="settings")


DATASET_NAMES = {training.FOLDERS: "your pictures (zip or webcam)"}
MODEL_NAMES = {training.CUSTOM: "custom: your own layer stack"}


def settings_ui() -> training.TrainConfig | None:
    """The run's settings, seeded from the URL, defaults from :class:`TrainConfig`; None until the
    learner's own pictures are there."""
    default = training.TrainConfig()
    top, bottom = st.columns(4), st.columns(4)
    dataset = bound(
        top[0].selectbox,
        "Dataset",
        "train.dataset",
        default.dataset,
        list(training.DATASET_CHOICES),
        format_func=lambda name: DATASET_NAMES.get(name, name),
    )
    model = bound(
        top[1].selectbox,
        "Model",
        "train.model",
        default.model,
        list(training.MODEL_CHOICES),
        format_func=lambda name: MODEL_NAMES.get(name, name),
    )
    values = {
        "epochs": bound(top[2].number_input, "Epochs", "train.epochs", default.epochs, step=1),
        "batch_size": bound(top[3].number_input, "Batch size", "train.batch", default.batch_size, step=1),
        "optimizer": bound(bottom[0].selectbox, "Optimizer", "train.optimizer", default.optimizer, training.OPTIMIZERS),
        "learning_rate": bound(
            bottom[1].number_input, "Learning rate", "train.lr", default.learning_rate, format="%.5f", step=1e-4
        ),
        "seed": bound(bottom[2].number_input, "Seed", "train.seed", default.seed, step=1),
        "augmentation": bound(bottom[3].toggle, "Augmentation", "train.augment", default.augmentation),
    }
    staged = None
    if dataset == training.FOLDERS:
        sizes = list(uploads.FOLDER_IMAGE_SIZES)
        values["image_size"] = bound(st.segmented_control, "Resize to", "train.size", default.image_size, sizes)
        staged = class_folders_ui("train")
    else:
        st.caption(datasets.DESCRIPTIONS[dataset])
    shape = (values.get("image_size") or 32,) * 2 + (3,) if dataset == training.FOLDERS else None
    if model == training.CUSTOM:
        values["stack"] = custom_stack_ui("train", shape or datasets.INPUT_SHAPES[dataset])
    else:
        st.caption(training.MODEL_DESCRIPTIONS[model])
    if dataset == training.FOLDERS and staged is None:
        return None
    with friendly_errors():
        folders = {"data_dir": str(staged.path)} if staged else {}
        return training.TrainConfig(dataset=dataset, model=model, **values, **folders)


@st.cache_data(max_entries=32, show_spinner="Building the model…")
def summary(config: training.TrainConfig) -> pd.DataFrame:
    if config.model == training.CUSTOM:  # the planner's own table: the model is built from it
        return pd.DataFrame(config.plan().table()).rename(columns={"layer": "type"})
    return pd.DataFrame(training.model_summary(config, config.input_shape, config.num_classes))


def inside(run: jobs.Run) -> None:
    """The finished run's test results, filters, activation maps and files."""
    data = load_dataset(training.TrainConfig.from_dict(run.config))
    st.header("Inside the trained model", anchor="inside")
    predictions = runlog.load_predictions(jobs.run_dir(run.id))
    pictures = shows_pictures(run)
    results_panel(f"train.{run.id}", predictions, data.class_names, data.x_test if pictures else None)
    loaded = trained_model(run.id)
    if any(type(layer).__name__ == "Conv2D" for layer in loaded.model.layers):
        st.subheader("First-layer filters (red positive, blue negative)")
        chart(st, figures.filters_figure(training.first_conv_filters(loaded.model)), key="train.filters")
    if not pictures:
        return
    index = st.number_input("Test image", 0, len(data.x_test) - 1, 0, key="train.image")
    with st.spinner("Running the test image through every layer…"):
        maps, probabilities = classify.look_inside(loaded, data.x_test[index])
    true_class = int(data.y_test[index])
    figure = figures.probabilities_figure(probabilities, data.class_names, true_class)
    chart(st, figure, key="train.probs")
    if st.button("Inspect any neuron of this model", icon=":material/biotech:"):
        st.switch_page("app_pages/inspect.py", query_params={"inspect.run": run.id})
    for name, activation in maps[:4]:
        shown = activation[..., : min(6, activation.shape[-1])]
        titles = [f"{name}[{i}]" for i in range(shown.shape[-1])]
        chart(st, figures.feature_maps_figure(data.x_test[index], shown, titles), key=f"train.maps.{name}")
    if owns(run):
        export_panel(run, codegen.tflite_script(training.TrainConfig.from_dict(run.config), f"{run.id}.tflite"))


config = settings_ui()
if config is not None and config.dataset != training.FOLDERS and not datasets.is_cached(config.dataset):
    st.info(f"{config.dataset} is not downloaded yet: the run fetches it first (offline it fails within seconds).")
if config is not None:
    with st.expander("Model summary (before training)"):
        layers = summary(config)
        st.dataframe(layers, hide_index=True, width="stretch")
        st.caption(f"{layers['parameters'].sum():,} parameters for {config.num_classes} classes")
if config is not None and (config.dataset == training.FOLDERS or config.augmentation):
    with friendly_errors():
        data = (
            load_dataset(config) if config.dataset == training.FOLDERS or datasets.is_cached(config.dataset) else None
        )
    if data is not None and config.dataset == training.FOLDERS:
        st.caption(f"Split: {len(data.x_train)} train, {len(data.x_valid)} validation, {len(data.x_test)} test images")
    if data is not None and config.augmentation:
        with st.expander("Augmentation preview: 9 random distortions of one training image"):
            views = datasets.augmentation_preview(data.x_train[0], data.flip_ok)
            st.image(list(views), width=96, alt="A random distortion of the first training image")

why = "Add your pictures first: a zip of class folders, or webcam captures."
st.subheader("The run", anchor="the-run")
run = launch_and_watch("train", config, "Train", ":material/play_arrow:", why_not=why)
if run is not None and run.status == "succeeded" and run.kind == "train":
    with friendly_errors():
        inside(run)
runs_table("train", ("dataset", "model", "stack", "epochs", "optimizer"))
if config is not None:
    show_code(codegen.training_script(config))
