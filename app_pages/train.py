"""Train a small CNN: background runs with live curves, the seeds' models, and a look inside."""

from dataclasses import asdict

import numpy as np
import pandas as pd
import streamlit as st

import models
from app_pages._widgets import MODEL_LOCK, bound, friendly_errors, results_panel, run_panel, session_key, show_code
from lab import datasets, figures, jobs, training
from lab.errors import InputError

st.title("Train a CNN")
st.markdown(
    "Pick a dataset and a model, press **Train**, and watch the loss fall. Each run trains in its own "
    "process, so you can click around, reload the page or share its link (`?run=`) while it works. "
    "Then look inside: the confusion matrix, the mistakes, the learned filters and each layer's maps."
)

defaults = training.TrainConfig()
cols = st.columns(4)
dataset = bound(cols[0].selectbox, "Dataset", "train.dataset", defaults.dataset, list(datasets.DATASETS))
model = bound(cols[1].selectbox, "Model", "train.model", defaults.model, list(models.MODELS))
epochs = bound(cols[2].number_input, "Epochs", "train.epochs", defaults.epochs, step=1)
batch = bound(cols[3].number_input, "Batch size", "train.batch", defaults.batch_size, step=1)
cols = st.columns(4)
optimizer = bound(cols[0].selectbox, "Optimizer", "train.optimizer", defaults.optimizer, list(training.OPTIMIZERS))
rate = bound(cols[1].number_input, "Learning rate", "train.lr", defaults.learning_rate, format="%.5f", step=1e-4)
seed = bound(cols[2].number_input, "Seed", "train.seed", defaults.seed, step=1)
augment = bound(cols[3].toggle, "Augmentation", "train.augment", defaults.augmentation)
st.caption(f"{datasets.DESCRIPTIONS[dataset]} · {models.DESCRIPTIONS[model]}")
if not datasets.is_cached(dataset):
    st.info(f"{dataset} is not downloaded yet: the run will fetch it first (offline it fails within seconds).")

with friendly_errors():
    config = training.TrainConfig(
        dataset, model, int(epochs), int(batch), optimizer, float(rate), augment, int(seed)
    ).validated()


@st.cache_data(max_entries=32, show_spinner="Building the model…")
def summary(config_dict: dict) -> list[dict]:
    shape = datasets.INPUT_SHAPES[config_dict["dataset"]]
    return training.model_summary(training.TrainConfig(**config_dict), shape, 10)


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def load_dataset(name: str, seed: int) -> datasets.Dataset:
    return datasets.load(name, seed)


with st.expander("Model summary (before training)"):
    layers = pd.DataFrame(summary(asdict(config)))
    st.dataframe(layers, hide_index=True, width="stretch")
    st.caption(f"{layers['parameters'].sum():,} parameters")
if augment and datasets.is_cached(dataset):
    with st.expander("Augmentation preview: 9 random distortions of one training image"), friendly_errors():
        data = load_dataset(dataset, int(seed))
        st.image(list(datasets.augmentation_preview(data.x_train[0], data.flip_ok)), width=96)

if st.button("Train", type="primary", icon=":material/play_arrow:"):
    with friendly_errors():  # one run per session and settings, however many clicks
        st.query_params["run"] = jobs.submit(
            "train", config.to_dict(), dedupe=f"{session_key()}:{sorted(asdict(config).items())}"
        )

run_id = st.query_params.get("run")
run = run_panel(run_id) if run_id else None
if run is not None and run.status == "succeeded" and run.kind == "train":
    with friendly_errors():
        data = load_dataset(run.config["dataset"], run.config["seed"])
        predictions = np.load(jobs.run_dir(run.id) / "predictions.npz")
        st.header("Inside the trained model")
        results_panel(
            f"train.{run.id}", predictions["probabilities"], predictions["labels"], data.class_names, data.x_test
        )
        trained, labels = st.cache_resource(training.load_trained, max_entries=4)(jobs.run_dir(run.id))
        st.subheader("First-layer filters (red positive, blue negative)")
        st.plotly_chart(figures.filters_figure(training.first_conv_filters(trained)), key="train.filters")
        index = st.number_input("Test image", 0, len(data.x_test) - 1, 0, key="train.image")
        with MODEL_LOCK:
            maps = training.activation_maps(trained, data.x_test[index])
            probabilities = np.asarray(trained(data.x_test[index : index + 1], training=False))[0]
        st.plotly_chart(
            figures.probabilities_figure(probabilities, data.class_names, int(data.y_test[index])), key="train.probs"
        )
        for name, activation in maps[:4]:
            shown = activation[..., : min(6, activation.shape[-1])]
            st.plotly_chart(figures.feature_maps_figure(data.x_test[index], shown, [f"{name}[{i}]" for i in range(shown.shape[-1])]),
                            key=f"train.maps.{name}")  # fmt: skip
        folder = jobs.run_dir(run.id)
        cols = st.columns(2)
        cols[0].download_button("model.keras", (folder / "model.keras").read_bytes(), f"{run.id}.keras")
        cols[1].download_button("history.csv", (folder / "history.csv").read_bytes(), f"{run.id}-history.csv")

st.header("Runs")
runs = jobs.list_runs("train", limit=50)
if runs:
    table = pd.DataFrame([{"run": r.id, "status": r.status, **{k: r.config[k] for k in ("dataset", "model", "epochs", "optimizer")},
                           "test accuracy": (r.result or {}).get("test_accuracy")} for r in runs])  # fmt: skip
    st.dataframe(table, hide_index=True, width="stretch")
    chosen = st.multiselect("Compare runs", [r.id for r in runs], max_selections=4, key="train.compare")
    if chosen:
        try:
            overlay = {
                f"val_accuracy {rid[-6:]}": jobs.progress(rid).curves.get("val_accuracy", ([], [])) for rid in chosen
            }
        except InputError as error:
            st.error(str(error))
            overlay = {}
        st.plotly_chart(figures.overlay_figure(overlay, "validation accuracy"), key="train.overlay")
        settings = pd.DataFrame({rid: jobs.get(rid).config for rid in chosen})
        st.dataframe(settings[settings.nunique(axis=1) > 1] if len(chosen) > 1 else settings, width="stretch")
        if st.button("Open the first one"):
            st.query_params["run"] = chosen[0]
            st.rerun()
show_code(f"""import keras
model = ...  # models.build({config.model!r}, input_shape, num_classes=10)
model.compile(optimizer=keras.optimizers.{ {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adam": "Adam", "nadam": "Nadam"}[config.optimizer] }(learning_rate={config.learning_rate}),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train_data, validation_data=valid_data, epochs={config.epochs},
                    callbacks=[keras.callbacks.BackupAndRestore("backup"), keras.callbacks.CSVLogger("history.csv")])""")
