"""Precision-recall / mAP explorer: every AP definition, live, with detections and IoU."""

import dataclasses

import pandas as pd
import streamlit as st

from app_pages._detections import detections_ui, notes, script_files
from app_pages._widgets import bound, chart, friendly_errors, show_code
from lab import annotations, coco, codegen, detection, figures, pr, tables

st.title("PR / mAP explorer")
st.markdown(
    "Average precision (AP) summarises a precision-recall curve, but there are **four common "
    "definitions** and they disagree. Edit a curve, generate scores, or score a detector, and "
    "compare them side by side. mAP is the mean AP over classes."
)


@st.cache_data(max_entries=8, show_spinner=False)
def generated(count: int, separability: float, fraction: float, seed: int):
    return pr.synthetic_scores(count, separability, fraction, seed)


def points_view() -> str:
    st.caption("HOML's example: precision at recall 0, 0.1, …, 1. Edit any cell, add or remove rows.")
    example = pd.DataFrame({"recall": pr.HOML_RECALL, "precision": pr.HOML_PRECISION})
    points = st.data_editor(example, num_rows="dynamic", key="pr.points", width="stretch")
    with friendly_errors():
        recall, precision = pr.curve_points(points["recall"], points["precision"])
        st.dataframe(pr.methods_table(recall, precision), hide_index=True, width="stretch")
    chart(st, figures.pr_figure(recall, precision), key="pr.points_chart")
    return codegen.pr_points_script(recall, precision)


def scores_ui():
    """Scores and labels from the generator or an uploaded CSV (None: nothing uploaded yet)."""
    how = bound(st.radio, "Scores from", "pr.scores_from", "generator", ["generator", "upload"], horizontal=True)
    if how == "upload":
        upload = st.file_uploader("CSV with columns score,label", type=["csv"], key="pr.scores_csv")
        if upload is None:
            st.info("Upload a CSV, or switch to the generator.", icon=":material/upload:")
            return None
        with friendly_errors():
            return (*pr.read_scores_csv(upload.getvalue()), pr.ScoresConfig(scores_file=upload.name))
    cols = st.columns(4)
    count = bound(cols[0].number_input, "samples", "pr.n", 500, min_value=2, max_value=1_000_000, step=100)
    separability = bound(cols[1].slider, "separability", "pr.sep", 1.5, min_value=0.0, max_value=5.0, step=0.1)
    fraction = bound(cols[2].slider, "positive fraction", "pr.pos", 0.3, min_value=0.05, max_value=0.95, step=0.05)
    seed = bound(cols[3].number_input, "seed", "pr.seed", 0, min_value=0, max_value=10_000)
    with friendly_errors():
        config = pr.ScoresConfig(int(count), float(separability), float(fraction), int(seed))
        return (*generated(config.count, config.separability, config.positive_fraction, config.seed), config)


def scores_view() -> str:
    if (data := scores_ui()) is None:
        st.stop()
    scores, labels, config = data
    with friendly_errors():
        curve = pr.precision_recall(scores, labels)
    label = "Threshold (score ≥ threshold is called positive)"
    threshold = bound(st.slider, label, "pr.threshold", 0.5, min_value=0.0, max_value=1.0, step=0.01)
    point = pr.operating_point(curve, threshold)
    for col, (name, value) in zip(st.columns(5), point.figures().items(), strict=True):
        col.metric(name, value)
    st.dataframe(pr.methods_table(curve.recall, curve.precision), hide_index=True, width="stretch")
    oracle = pr.sklearn_average_precision(scores, labels)
    st.caption(f"Oracle: scikit-learn's average_precision_score = {oracle:.6f} (the 'raw' row).")
    shown_recall, shown_precision = pr.downsample(curve)
    chart(st, figures.pr_figure(shown_recall, shown_precision, point), key="pr.scores_chart")
    return codegen.pr_scores_script(dataclasses.replace(config, threshold=threshold))


def detections_view() -> str:
    found = detections_ui()
    data = found.data
    notes(found)
    cols = st.columns(3)
    iou_threshold = bound(cols[0].slider, "IoU threshold", "pr.iou", 0.5, min_value=0.05, max_value=1.0, step=0.05)
    method = bound(cols[1].selectbox, "AP method", "pr.method", "all", list(pr.METHODS))
    plus_one = bound(cols[2].toggle, "VOC '+1 pixel' areas", "pr.plus_one", False)
    gt, det = annotations.to_tables(data)
    with friendly_errors():
        result = detection.evaluate_detections(gt, det, iou_threshold, method, plus_one)
        official = coco.evaluate(data)
    summary = official.summary()
    cols = st.columns(2)
    cols[0].metric(f"mAP@{iou_threshold:g} ({method}, VOC matching)", f"{result.mean_ap:.4f}")
    cols[1].metric("COCO mAP@[.5:.95]", f"{summary['AP']:.4f}", help="pycocotools' number, to the last digit")
    if isinstance(found.script_data, dict):  # the built-in example: its boxes, matched or not
        chart(st, figures.detections_figure(gt, det, result.true_positive, {}), key="pr.example_boxes")
        st.caption(f"Ground truth solid and green; detections dashed, TP (blue) or FP (red) at IoU {iou_threshold:g}.")
    left, right = st.columns([1, 2])
    left.dataframe(pd.DataFrame({"COCO": summary}).round(4), width="stretch")
    left.caption("-1: no ground truth in that size range (small < 32², medium to 96², large above), so no value.")
    per_class = pd.DataFrame(result.table())
    per_class["COCO AP"] = [round(official.per_class_ap().get(name, -1), 4) for name in per_class["class"]]
    right.bar_chart(per_class, x="class", y=["AP", "COCO AP"], height=220, stack=False)
    right.dataframe(per_class, hide_index=True, width="stretch")
    exported = per_class.map(tables.escape_csv_cell).to_csv(index=False)
    st.download_button("Download per-class results (CSV)", exported, "per_class_ap.csv", "text/csv", on_click="ignore")
    voc_half = result if iou_threshold == 0.5 else detection.evaluate_detections(gt, det, 0.5, method, plus_one)
    changed = coco.voc_differences(data, official, voc_half.true_positive)
    st.markdown(f"**Why VOC and COCO differ here** (IoU 0.5): {len(changed)} detection(s) scored differently.")
    if changed:
        st.dataframe(pd.DataFrame([vars(d) for d in changed]), hide_index=True, width="stretch")
    chosen = st.selectbox("Class curve", list(result.per_class), key="pr.class")
    curve = result.per_class[chosen].curve
    if curve.recall.size:
        st.dataframe(pr.methods_table(curve.recall, curve.precision), hide_index=True, width="stretch")
        chart(st, figures.pr_figure(curve.recall, curve.precision, title=f"{chosen}"), key="pr.class_chart")
    script_files(found)
    files = found.script_data if isinstance(found.script_data, tuple) else codegen.DETECTION_FILES
    config = pr.DetectionConfig(*files, iou_threshold, method, plus_one)
    example = found.script_data if isinstance(found.script_data, dict) else None
    return codegen.detection_script(config, example, found.format_label)


def iou_calculator() -> None:
    st.header("IoU calculator")
    names = ("A x_min", "A y_min", "A x_max", "A y_max", "B x_min", "B y_min", "B x_max", "B y_max")
    defaults = (10.0, 10.0, 60.0, 50.0, 30.0, 20.0, 80.0, 70.0)
    cells = zip(st.columns(8), names, defaults, strict=True)
    values = [bound(col.number_input, name, f"iou.{i}", default) for i, (col, name, default) in enumerate(cells)]
    with friendly_errors():
        overlap = detection.iou(values[:4], values[4:])
        overlap_voc = detection.iou(values[:4], values[4:], plus_one=True)
    st.metric("IoU", f"{overlap:.4f}", help=f"With VOC '+1 pixel' areas: {overlap_voc:.4f}")
    chart(st, figures.boxes_figure(values[:4], values[4:]), key="pr.boxes", width="content")


VIEWS = {"points": ("Curve points", points_view), "scores": ("Scores + labels", scores_view)}
VIEWS["detections"] = ("Detections", detections_view)
source = bound(st.segmented_control, "Input", "pr.input", "points", list(VIEWS), format_func=lambda v: VIEWS[v][0])
code = VIEWS[source or "points"][1]()
iou_calculator()
show_code(code)
