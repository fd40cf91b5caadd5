"""The Detect page's steps: what each shows of a finished run (no math: :mod:`lab.detect`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages._widgets import bound, chart
from lab import annotated, coco, detect, figures_detect, jobs
from lab.errors import InputError

STEPS = {  # step: (label, the run's task, what it teaches)
    "localize": (
        "1 Localize",
        "localize",
        "**Classification + localization.** One digit per canvas. On top of global average pooling, a "
        "softmax head says which digit and a second head of 4 sigmoid units says where: centre x, centre y, "
        "width and height as shares of the canvas, trained with MSE. The two losses add up with the **loss "
        "weights** below (the box's MSE is small, so it needs a large weight). The metric is IoU.",
    ),
    "fcn": (
        "2 FCN",
        "crops",
        "**The fully convolutional trick.** Train a classifier on 24x24 crops (a digit, or background), then turn "
        "each Dense layer into a convolution: as many filters as units, a kernel the size of its input feature "
        "map, VALID padding, the weights reshaped. The converted net runs **once** over a whole canvas and "
        "outputs a grid: each cell is the classifier's answer for one window, computed with shared work.",
    ),
    "grid": (
        "3 Grid detector",
        "grid",
        "**A YOLO-style detector.** The canvas is cut into S x S cells; the cell holding a digit's centre is "
        "responsible for it and predicts an objectness, the box (its centre inside the cell, its size as a "
        "share of the canvas) and the class. Three losses: objectness on every cell, box and class on the cells "
        "with an object. Watch the three terms fall live.",
    ),
    "nms": (
        "4 NMS",
        "grid",
        "**Non-max suppression.** Several cells may see the same digit. Drop the boxes whose score is under a "
        "threshold; take the best box left; drop every box overlapping it by more than the IoU threshold; "
        "repeat. Step through it on the trained grid detector's boxes.",
    ),
    "score": (
        "5 Score",
        "grid",
        "**mAP.** The detector's boxes on the test canvases (after NMS), scored as COCO scores them (the 12 "
        "numbers, to pycocotools' last digit) and as Pascal VOC does (AP at IoU 0.5).",
    ),
}


@st.cache_data(max_entries=4, show_spinner="Reading your annotated pictures…")
def _staged(data: bytes, canvas_size: int) -> tuple[str, str]:
    folder, found = annotated.stage(data, canvas_size, jobs.home() / "uploads")  # once per content and size
    return str(folder), annotated.summary(found)


def annotated_ui(canvas_size: int) -> str | None:
    """ "" for digit canvases; else the staged folder of the learner's annotated zip (None: none yet)."""
    if not bound(st.toggle, "Train on my annotated pictures (a zip)", "det.grid.own", False):
        return ""
    st.caption(
        f"One zip of up to {annotated.MAX_PICTURES:,} pictures and their boxes: a COCO instances JSON, Pascal VOC "
        "XML files or YOLO .txt files with a classes.txt. Pictures are made gray and resized to the canvas; 80% "
        "train, 20% test. Each file up to 20 MB."
    )
    upload = st.file_uploader("Annotated pictures (zip)", type=["zip"], key="det.grid.zip")
    if upload is None:
        return None
    try:
        folder, line = _staged(upload.getvalue(), canvas_size)
    except InputError as error:  # said here, and the rest of the page stays (its settings with it)
        st.error(str(error), icon=":material/error:")
        return None
    st.success(line, icon=":material/check_circle:")
    data = (Path(folder) / annotated.DATA_FILE).read_bytes()
    st.download_button("canvases.npz (what the script reads)", data, annotated.DATA_FILE, on_click="ignore")
    return folder


@st.cache_resource(max_entries=4, show_spinner="Making the test canvases…")  # read only: no 8 MB copy a rerun
def test_canvases(config: detect.DetectConfig):
    return detect.test_canvases(config)


@st.cache_resource(max_entries=4, show_spinner=False)  # read only, like the canvases
def saved_outputs(run_id: str) -> dict:
    return detect.outputs(run_id)


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def crop_model(run_id: str):
    return detect.load_model(run_id)


def _metrics(pairs: list[tuple[str, str, str | None]]) -> None:
    for col, (label, value, help_text) in zip(st.columns(len(pairs)), pairs, strict=True):
        col.metric(label, value, help=help_text)


def localize_results(run: jobs.Run, config: detect.DetectConfig) -> None:
    result = run.result or {}
    _metrics(
        [
            ("Mean test IoU", f"{result.get('mean_iou', 0):.3f}", "Intersection over union of predicted and true box"),
            ("Random boxes' IoU", f"{result.get('random_box_iou', 0):.3f}", "What HOML's notebook trains its box on"),
            ("Class accuracy", f"{result.get('class_accuracy', 0):.3f}", None),
            ("Training time", f"{result.get('seconds', 0):.1f} s", None),
        ]
    )
    view = detect.localizer_view(config, saved_outputs(run.id))
    pictures, _, _ = test_canvases(config)
    worst = view.order[:6]
    truths = [(view.truth[[n]], view.true_class[[n]]) for n in worst]
    predicted = [(view.predicted[[n]], view.predicted_class[[n]], None) for n in worst]
    titles = [f"IoU {view.ious[n]:.2f}" for n in worst]
    chart(st, figures_detect.canvases_figure(pictures[worst], truths, predicted, titles), key="det.worst")
    st.caption(
        "The six test canvases with the lowest IoU: true box solid, predicted box dashed (→ the predicted digit)."
    )
    share = float((view.ious >= 0.5).mean())
    st.markdown(f"{share:.0%} of the test canvases reach IoU 0.5 or more (what PASCAL VOC counts as found).")


@st.cache_data(max_entries=8, show_spinner="Running the FCN and the window loop…")
def _fcn(run_id: str, config: detect.DetectConfig, index: int) -> detect.FcnView:
    pictures, _, _ = detect.test_canvases(config, index + 1)
    return detect.fcn_view(crop_model(run_id), pictures[index])


def fcn_results(run: jobs.Run, config: detect.DetectConfig) -> None:
    result = run.result or {}
    index = bound(st.number_input, "Test canvas", "det.fcn.canvas", 0, min_value=0, max_value=config.test_canvases - 1)
    demo = detect.demo_config(config)
    view = _fcn(run.id, demo, int(index))
    _metrics(
        [
            ("Crop accuracy", f"{result.get('crop_accuracy', 0):.3f}", "On test crops of unseen handwriting"),
            ("Max |FCN - CNN per window|", f"{view.difference:.1e}", "Over every window and class score"),
            ("FCN, once", f"{view.fcn_seconds * 1000:.1f} ms", None),
            (
                "CNN per window",
                f"{view.loop_seconds * 1000:.0f} ms",
                f"{view.scores.shape[0] * view.scores.shape[1]} calls",
            ),
        ]
    )
    st.markdown(
        f"The FCN is **{view.loop_seconds / view.fcn_seconds:.0f}x** faster than looping the CNN over the windows."
    )
    pictures, _, _ = detect.test_canvases(demo, int(index) + 1)
    chart(st, figures_detect.score_map_figure(pictures[int(index)], view.scores), key="det.fcn_map")
    st.dataframe(pd.DataFrame(view.layers, columns=["CNN layer", "FCN layer"]), hide_index=True, width="stretch")


def _canvas_index(config: detect.DetectConfig, key: str) -> int:
    return int(bound(st.number_input, "Test canvas", key, 0, min_value=0, max_value=config.test_canvases - 1))


def grid_results(run: jobs.Run, config: detect.DetectConfig) -> None:
    index = _canvas_index(config, "det.grid.canvas")
    threshold = bound(st.slider, "Show cells scoring at least", "det.grid.show", 0.3, min_value=0.0, max_value=1.0)
    boxes, scores, classes = detect.grid_cells(config, saved_outputs(run.id), index)
    pictures, _, _ = test_canvases(config)
    figure = figures_detect.grid_cells_figure(pictures[index], boxes, scores, classes, config.grid_size, threshold)
    chart(st, figure, key="det.grid")
    st.caption("Each cell: its best class and its score (objectness x class probability); dashed: its box.")


def _next(key: str) -> None:
    st.session_state[key] += 1  # before the slider exists again: its bound keeps it in range


def nms_results(run: jobs.Run, config: detect.DetectConfig) -> None:
    index = _canvas_index(config, "det.nms.canvas")
    cols = st.columns(2)
    score = bound(cols[0].slider, "Objectness score threshold", "det.nms.score", 0.1, min_value=0.0, max_value=1.0)
    overlap = bound(cols[1].slider, "IoU threshold", "det.nms.iou", 0.5, min_value=0.0, max_value=1.0)
    boxes, scores, classes = detect.grid_cells(config, saved_outputs(run.id), index)
    steps = detect.nms_walk(boxes, scores, overlap, score)
    if not steps:
        st.info("No box scores above the threshold on this canvas: lower it.")
        return
    key = "det.nms.shown"
    if st.session_state.get(key, 0) > len(steps):
        st.session_state[key] = len(steps)
    shown = bound(st.slider, "Steps taken", key, 1, min_value=0, max_value=len(steps))
    st.button("Next step", icon=":material/skip_next:", disabled=shown >= len(steps), on_click=_next, args=(key,))
    pictures, _, _ = test_canvases(config)
    chart(st, figures_detect.nms_figure(pictures[index], boxes, scores, classes, steps, shown), key="det.nms")
    rows = [(n, f"{classes[kept]} ({scores[kept]:.2f})", len(dropped)) for n, (kept, dropped) in enumerate(steps, 1)]
    rows = pd.DataFrame(rows, columns=["step", "kept (score)", "boxes dropped"])
    st.dataframe(rows, hide_index=True, width="stretch")


def score_results(run: jobs.Run, config: detect.DetectConfig) -> None:
    result = run.result or {}
    _metrics(
        [
            ("COCO AP@[.5:.95]", f"{result.get('AP', 0):.3f}", "pycocotools' first number"),
            ("COCO AP50", f"{result.get('AP50', 0):.3f}", None),
            ("VOC AP@0.5", f"{result.get('VOC AP50', 0):.3f}", "All-point AP, VOC matching"),
            ("Training time", f"{result.get('seconds', 0):.1f} s", None),
        ]
    )
    summary = {name: result.get(name, -1) for name in coco.SUMMARY_NAMES}
    st.dataframe(pd.DataFrame({"COCO": summary}).T, width="stretch")
    instances, results = detect.coco_files(run.id)
    cols = st.columns(3)
    cols[0].download_button("instances.json", instances, "instances.json", "application/json", on_click="ignore")
    cols[1].download_button("results.json", results, "results.json", "application/json", on_click="ignore")
    query = {"pr.input": "detections", "pr.run": run.id}
    if cols[2].button("Open in the PR / mAP explorer", icon=":material/show_chart:", type="primary"):
        st.switch_page("app_pages/pr.py", query_params=query)
    st.caption("The explorer shows each class's precision-recall curve and where VOC's and COCO's matching differ.")
