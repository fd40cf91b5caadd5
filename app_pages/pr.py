"""Precision-recall / mAP explorer: every AP definition, live, with detections and IoU."""

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._widgets import bound, friendly_errors, show_code
from lab import figures, pr

st.title("PR / mAP explorer")
st.markdown(
    "Average precision (AP) summarises a precision-recall curve, but there are **four common "
    "definitions** and they disagree. Edit a curve, generate scores, or score a detector, and "
    "compare them side by side. mAP is the mean AP over classes."
)


def methods_table(recall, precision) -> None:
    values = pr.all_methods(recall, precision)
    st.dataframe(
        pd.DataFrame({"method": list(values), "AP": [round(v, 4) for v in values.values()],
                      "what it measures": [pr.METHOD_NOTES[m] for m in values]}),
        hide_index=True, width="stretch",
    )  # fmt: skip


@st.cache_data(max_entries=8, show_spinner=False)
def generated(count: int, separability: float, fraction: float, seed: int):
    return pr.synthetic_scores(count, separability, fraction, seed)


source = bound(st.segmented_control, "Input", "pr.input", "points", ["points", "scores", "detections"],
               format_func={"points": "Curve points", "scores": "Scores + labels", "detections": "Detections"}.get)  # fmt: skip

if source == "points":
    st.caption("HOML's example: precision at recall 0, 0.1, …, 1. Edit any cell, add or remove rows.")
    points = st.data_editor(pd.DataFrame({"recall": pr.HOML_RECALL, "precision": pr.HOML_PRECISION}),
                            num_rows="dynamic", key="pr.points", width="stretch")  # fmt: skip
    with friendly_errors():
        recall = pd.to_numeric(points["recall"], errors="coerce").to_numpy(float)
        precision = pd.to_numeric(points["precision"], errors="coerce").to_numpy(float)
        methods_table(recall, precision)
    order = np.argsort(recall, kind="stable")
    st.plotly_chart(figures.pr_figure(recall[order], precision[order]), key="pr.points_chart")
    code = "import numpy as np\n\nmax_precisions = np.flip(np.maximum.accumulate(np.flip(precisions)))\nmap_11 = max_precisions.mean()  # HOML"

elif source == "scores":
    how = bound(st.radio, "Scores from", "pr.scores_from", "generator", ["generator", "upload"], horizontal=True)
    if how == "generator":
        cols = st.columns(4)
        count = bound(cols[0].number_input, "samples", "pr.n", 500, min_value=2, max_value=1_000_000, step=100)
        separability = bound(cols[1].slider, "separability", "pr.sep", 1.5, min_value=0.0, max_value=5.0, step=0.1)
        fraction = bound(cols[2].slider, "positive fraction", "pr.pos", 0.3, min_value=0.05, max_value=0.95, step=0.05)
        seed = bound(cols[3].number_input, "seed", "pr.seed", 0, min_value=0, max_value=10_000)
        with friendly_errors():
            scores, labels = generated(int(count), float(separability), float(fraction), int(seed))
    else:
        upload = st.file_uploader("CSV with columns score,label", type=["csv"], key="pr.scores_csv")
        if upload is None:
            st.info("Upload a CSV, or switch to the generator.", icon=":material/upload:")
            st.stop()
        with friendly_errors():
            scores, labels = pr.read_scores_csv(upload.getvalue())
    with friendly_errors():
        curve = pr.precision_recall(scores, labels)
    threshold = bound(st.slider, "Threshold (score ≥ threshold is called positive)", "pr.threshold", 0.5,
                      min_value=0.0, max_value=1.0, step=0.01)  # fmt: skip
    point = pr.operating_point(curve, threshold)
    cols = st.columns(5)
    for col, (name, value) in zip(cols, [("precision", f"{point.precision:.3f}"), ("recall", f"{point.recall:.3f}"),
                                         ("TP", point.true_positives), ("FP", point.false_positives),
                                         ("FN", point.false_negatives)], strict=True):  # fmt: skip
        col.metric(name, value)
    methods_table(curve.recall, curve.precision)
    from sklearn.metrics import average_precision_score

    st.caption(
        f"Oracle: scikit-learn's average_precision_score = {average_precision_score(labels, scores):.6f} (the 'raw' row)."
    )
    shown_recall, shown_precision = pr.downsample(curve)
    st.plotly_chart(figures.pr_figure(shown_recall, shown_precision, point), key="pr.scores_chart")
    code = "from sklearn.metrics import average_precision_score, precision_recall_curve\n\n"
    code += "precision, recall, thresholds = precision_recall_curve(labels, scores)\nap = average_precision_score(labels, scores)"

else:
    use_example = bound(st.toggle, "Use the built-in example", "pr.example", True)
    if use_example:
        gt, det = pr.example_detections()
    else:
        cols = st.columns(2)
        gt_file = cols[0].file_uploader("Ground truth CSV", type=["csv"], key="pr.gt_csv")
        det_file = cols[1].file_uploader("Detections CSV (+ score)", type=["csv"], key="pr.det_csv")
        st.caption("Columns: image_id, label, x_min, y_min, x_max, y_max (detections also: score).")
        if gt_file is None or det_file is None:
            st.info("Upload both CSVs, or use the built-in example.", icon=":material/upload:")
            st.stop()
        with friendly_errors():
            gt = pr.read_csv(gt_file.getvalue(), "ground truth", pr.BOX_COLUMNS)
            det = pr.read_csv(det_file.getvalue(), "detections", [*pr.BOX_COLUMNS, "score"])
    cols = st.columns(3)
    iou_threshold = bound(cols[0].slider, "IoU threshold", "pr.iou", 0.5, min_value=0.05, max_value=1.0, step=0.05)
    method = bound(cols[1].selectbox, "AP method", "pr.method", "all", list(pr.METHODS))
    plus_one = bound(cols[2].toggle, "VOC '+1 pixel' areas", "pr.plus_one", False)
    with friendly_errors():
        result = pr.evaluate_detections(gt, det, iou_threshold, method, plus_one)
        coco = pr.coco_map(gt, det, plus_one=plus_one)
    cols = st.columns(2)
    cols[0].metric(f"mAP@{iou_threshold:g} ({method})", f"{result.mean_ap:.4f}")
    cols[1].metric("COCO mAP@[.5:.95]", f"{coco:.4f}")
    per_class = pd.DataFrame([{"class": r.label, "AP": round(r.ap, 4), "TP": r.true_positives, "FP": r.false_positives,
                               "ground truths": r.ground_truths} for r in result.per_class.values()])  # fmt: skip
    st.bar_chart(per_class, x="class", y="AP", height=220)
    st.dataframe(per_class, hide_index=True, width="stretch")
    st.download_button("Download per-class results (CSV)", per_class.map(pr.escape_csv_cell).to_csv(index=False),
                       "per_class_ap.csv", "text/csv")  # fmt: skip
    chosen = st.selectbox("Class curve", list(result.per_class), key="pr.class")
    curve = result.per_class[chosen].curve
    if curve.recall.size:
        methods_table(curve.recall, curve.precision)
        st.plotly_chart(figures.pr_figure(curve.recall, curve.precision, title=f"{chosen}"), key="pr.class_chart")
    code = f"# Pascal VOC matching at IoU >= {iou_threshold:g}, then AP per class\n"
    code += "from lab.pr import evaluate_detections\nresult = evaluate_detections(gt, det, "
    code += f"iou_threshold={iou_threshold:g}, method={method!r}, plus_one={plus_one})\nprint(result.mean_ap)"

st.header("IoU calculator")
cols = st.columns(8)
names = ("A x_min", "A y_min", "A x_max", "A y_max", "B x_min", "B y_min", "B x_max", "B y_max")
defaults = (10.0, 10.0, 60.0, 50.0, 30.0, 20.0, 80.0, 70.0)
values = [
    bound(col.number_input, name, f"iou.{i}", default)
    for i, (col, name, default) in enumerate(zip(cols, names, defaults, strict=True))
]
with friendly_errors():
    overlap = pr.iou(values[:4], values[4:])
    overlap_voc = pr.iou(values[:4], values[4:], plus_one=True)
st.metric("IoU", f"{overlap:.4f}", help=f"With VOC '+1 pixel' areas: {overlap_voc:.4f}")
st.plotly_chart(figures.boxes_figure(values[:4], values[4:]), key="pr.boxes")
show_code(code)
