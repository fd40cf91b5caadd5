"""Detect: from classifier to detector on digit canvases (HOML's CNN chapter, its second half)."""

import streamlit as st

from app_pages._detect import (
    STEPS,
    annotated_ui,
    fcn_results,
    grid_results,
    localize_results,
    nms_results,
    score_results,
)
from app_pages._runs import launch_and_watch
from app_pages._widgets import bound, chart, friendly_errors, show_code
from lab import codegen, detect, figures_detect

st.title("Detect")
st.markdown(
    "A classifier says *what*; a detector also says *where*, and for every object. Train each step of the "
    "chapter on **digit canvases** made on the spot (scikit-learn's handwritten digits at random places, "
    "exact boxes, no download), in seconds on a CPU, and score the detector with COCO's own numbers."
)


def switch_step() -> None:
    """Each step keeps its own run: the URL's ``run`` follows the step's task."""
    runs = st.session_state.setdefault("_det.runs", {})
    previous, task = st.session_state.get("_det.task"), STEPS[st.session_state["det.step"] or "localize"][1]
    if previous and "run" in st.query_params:
        runs[previous] = st.query_params["run"]
    if task != previous:
        st.query_params.pop("run", None)
        if task in runs:
            st.query_params["run"] = runs[task]


def canvas_ui(task: str, defaults: detect.DetectConfig) -> dict:
    """The canvases' settings (each step remembers its own: ``det.<task>.<name>``)."""
    values = {}
    with st.expander("The canvases", icon=":material/grid_on:", expanded=True):
        cols = st.columns(4)
        fields = [("seed", "Seed", 1), ("canvas_size", "Canvas side (px)", 16), ("min_digit", "Smallest digit (px)", 1)]
        fields += [("max_digit", "Largest digit (px)", 1)]
        if task == "grid":
            fields += [("min_objects", "Fewest digits", 1), ("max_objects", "Most digits", 1)]
        fields += [("clutter", "Clutter pieces", 1), ("train_canvases", "Training canvases", 500)]
        fields += [("test_canvases", "Test canvases", 100)]
        for n, (name, label, step) in enumerate(fields):
            values[name] = bound(
                cols[n % 4].number_input, label, f"det.{task}.{name}", getattr(defaults, name), step=step
            )
        values["noise"] = bound(st.slider, "Noise", f"det.{task}.noise", defaults.noise, min_value=0.0, max_value=0.5)
        if task == "grid":
            values["data_dir"] = annotated_ui(int(values["canvas_size"]))
    return values


def training_ui(task: str, defaults: detect.DetectConfig) -> dict:
    """Epochs, batch, learning rate and the loss weights of the step's task."""
    names = [("epochs", "Epochs", 1), ("batch_size", "Batch size", 1), ("learning_rate", "Learning rate", 0.0005)]
    if task != "crops":
        names += [("class_weight", "Loss weight: class", 0.1), ("box_weight", "Loss weight: box", 1.0)]
    if task == "grid":
        names += [("objectness_weight", "Loss weight: objectness", 0.1), ("grid_size", "Grid S (S x S cells)", 1)]
    cols = st.columns(len(names))
    return {
        name: bound(
            col.number_input,
            label,
            f"det.{task}.{name}",
            getattr(defaults, name),
            step=step,
            format="%.4f" if name == "learning_rate" else None,
        )
        for col, (name, label, step) in zip(cols, names, strict=True)
    }


@st.cache_data(max_entries=16, show_spinner=False)
def samples(config: detect.DetectConfig):
    pictures, boxes, labels = detect.sample_canvases(config)
    return figures_detect.canvases_figure(pictures, list(zip(boxes, labels, strict=True)))


labels = {name: label for name, (label, _, _) in STEPS.items()}
step = bound(
    st.segmented_control, "Step", "det.step", "localize", list(STEPS), format_func=labels.get, on_change=switch_step
)
step = step or "localize"
title, task, explanation = STEPS[step]
st.session_state["_det.task"] = task
st.markdown(explanation)
defaults = detect.for_task(task)
values = canvas_ui(task, defaults) | training_ui(task, defaults)
config, why_not = None, "Upload a zip of annotated pictures first."
if values.get("data_dir", "") is not None:
    with friendly_errors():
        config = detect.for_task(task, **values)
    chart(st, samples(config), key="det.samples")
    st.caption("Six training canvases and their true boxes (solid, with the label): each box hugs its object's ink.")
run = launch_and_watch("detect", config, f"Train ({task})", ":material/model_training:", why_not)
if run is not None and run.kind == "detect" and run.status == "succeeded":
    with friendly_errors():
        trained = detect.DetectConfig.from_dict(run.config)
    if trained.task != task:
        st.info(f"This link's run trained step **{trained.task}**; choose that step to see its results.")
    else:
        renderers = {"localize": localize_results, "fcn": fcn_results, "grid": grid_results}
        renderers |= {"nms": nms_results, "score": score_results}
        with friendly_errors():
            renderers[step](run, trained)
if config:
    show_code(codegen.detect_script(config))
