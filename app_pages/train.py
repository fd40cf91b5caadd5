"""Train a small CNN: background runs with live curves, the seeds' models, and a look inside."""

import pandas as pd
import streamlit as st

from app_pages._runs import downloads, launch_and_watch, results_panel, trained_model
from app_pages._widgets import bound, friendly_errors, show_code
from lab import classify, codegen, datasets, figures, jobs, runlog, training

st.title("Train a CNN")
st.markdown(
    "Pick a dataset and a model, press **Train**, and watch the loss fall. Each run trains in its own "
    "process, so you can click around, reload the page or share its link (`?run=`) while it works. "
    "Then look inside: the confusion matrix, the mistakes, the learned filters and each layer's maps."
)


def settings_ui() -> training.TrainConfig:
    """The run's settings, seeded from the URL, defaults from :class:`TrainConfig`."""
    default = training.TrainConfig()
    top, bottom = st.columns(4), st.columns(4)
    values = {
        "dataset": bound(top[0].selectbox, "Dataset", "train.dataset", default.dataset, list(datasets.DATASETS)),
        "model": bound(top[1].selectbox, "Model", "train.model", default.model, list(training.MODELS)),
        "epochs": bound(top[2].number_input, "Epochs", "train.epochs", default.epochs, step=1),
        "batch_size": bound(top[3].number_input, "Batch size", "train.batch", default.batch_size, step=1),
        "optimizer": bound(bottom[0].selectbox, "Optimizer", "train.optimizer", default.optimizer, training.OPTIMIZERS),
        "learning_rate": bound(
            bottom[1].number_input, "Learning rate", "train.lr", default.learning_rate, format="%.5f", step=1e-4
        ),
        "seed": bound(bottom[2].number_input, "Seed", "train.seed", default.seed, step=1),
        "augmentation": bound(bottom[3].toggle, "Augmentation", "train.augment", default.augmentation),
    }
    st.caption(f"{datasets.DESCRIPTIONS[values['dataset']]} · {training.MODEL_DESCRIPTIONS[values['model']]}")
    with friendly_errors():
        return training.TrainConfig(**values)


@st.cache_data(max_entries=32, show_spinner="Building the model…")
def summary(config: training.TrainConfig) -> pd.DataFrame:
    return pd.DataFrame(training.model_summary(config, datasets.INPUT_SHAPES[config.dataset], 10))


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def load_dataset(name: str, seed: int) -> datasets.Dataset:
    return datasets.load(name, seed)


def inside(run: jobs.Run) -> None:
    """The finished run's test results, filters, activation maps and files."""
    data = load_dataset(run.config["dataset"], run.config["seed"])
    st.header("Inside the trained model")
    predictions = runlog.load_predictions(jobs.run_dir(run.id))
    results_panel(f"train.{run.id}", predictions, data.class_names, data.x_test)
    loaded = trained_model(run.id)
    st.subheader("First-layer filters (red positive, blue negative)")
    st.plotly_chart(figures.filters_figure(training.first_conv_filters(loaded.model)), key="train.filters")
    index = st.number_input("Test image", 0, len(data.x_test) - 1, 0, key="train.image")
    maps, probabilities = classify.look_inside(loaded, data.x_test[index])
    true_class = int(data.y_test[index])
    chart = figures.probabilities_figure(probabilities, data.class_names, true_class)
    st.plotly_chart(chart, key="train.probs")
    for name, activation in maps[:4]:
        shown = activation[..., : min(6, activation.shape[-1])]
        titles = [f"{name}[{i}]" for i in range(shown.shape[-1])]
        st.plotly_chart(figures.feature_maps_figure(data.x_test[index], shown, titles), key=f"train.maps.{name}")
    downloads(run.id, {runlog.MODEL_FILE: f"{run.id}.keras", runlog.HISTORY_FILE: f"{run.id}-history.csv"})


def runs_section() -> None:
    """Every training run, and a comparison of up to four."""
    st.header("Runs")
    runs = jobs.list_runs("train", limit=50)
    if not runs:
        return
    shown = ("dataset", "model", "epochs", "optimizer")
    accuracy = "test accuracy"
    rows = [
        {
            "run": r.id,
            "status": r.status,
            **{k: r.config[k] for k in shown},
            accuracy: (r.result or {}).get("test_accuracy"),
        }
        for r in runs
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    chosen = st.multiselect("Compare runs", [r.id for r in runs], max_selections=4, key="train.compare")
    if not chosen:
        return
    curves = {rid: runlog.progress(jobs.metrics(rid)).curves for rid in chosen}
    overlay = {f"val_accuracy {rid[-6:]}": curves[rid].get("val_accuracy", ([], [])) for rid in chosen}
    st.plotly_chart(figures.overlay_figure(overlay, "validation accuracy"), key="train.overlay")
    settings = pd.DataFrame({rid: jobs.get(rid).config for rid in chosen})
    st.dataframe(settings[settings.nunique(axis=1) > 1] if len(chosen) > 1 else settings, width="stretch")
    if st.button("Open the first one"):
        st.query_params["run"] = chosen[0]
        st.rerun()


config = settings_ui()
if not datasets.is_cached(config.dataset):
    st.info(f"{config.dataset} is not downloaded yet: the run fetches it first (offline it fails within seconds).")
with st.expander("Model summary (before training)"):
    layers = summary(config)
    st.dataframe(layers, hide_index=True, width="stretch")
    st.caption(f"{layers['parameters'].sum():,} parameters")
if config.augmentation and datasets.is_cached(config.dataset):
    with st.expander("Augmentation preview: 9 random distortions of one training image"), friendly_errors():
        data = load_dataset(config.dataset, config.seed)
        st.image(list(datasets.augmentation_preview(data.x_train[0], data.flip_ok)), width=96)

run = launch_and_watch("train", config, "Train", ":material/play_arrow:")
if run is not None and run.status == "succeeded" and run.kind == "train":
    with friendly_errors():
        inside(run)
runs_section()
show_code(codegen.training_script(config))
