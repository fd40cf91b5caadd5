"""Detections scored against ground-truth boxes: IoU, Pascal VOC matching, per-class AP and mAP.

The curves and AP definitions are :mod:`lab.pr`'s; this module decides which detections are true
positives the Pascal VOC way (COCO's rules, and where they differ, are :mod:`lab.coco`). Tables have the columns :data:`BOX_COLUMNS` (detections add ``score``); uploads are
read with :mod:`lab.tables`. NumPy and pandas only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lab import pr, tables
from lab.errors import InputError, describe_value
from recipes import matching

BOX_COLUMNS = ("image_id", "label", "x_min", "y_min", "x_max", "y_max")


def _check_box(box) -> np.ndarray:
    values = np.asarray(box, dtype=np.float64).ravel() if np.ndim(box) else np.zeros(0)
    if values.size != 4 or not np.all(np.isfinite(values)):
        raise InputError(f"A box needs four finite numbers (x_min, y_min, x_max, y_max), got {describe_value(box)}.")
    if values[2] < values[0] or values[3] < values[1]:
        raise InputError(f"Box {describe_value(tuple(box))} has x_max < x_min or y_max < y_min.")
    return values


def iou(box_a: Sequence[float], box_b: Sequence[float], plus_one: bool = False) -> float:
    """Intersection over union of two (x_min, y_min, x_max, y_max) boxes.

    Args:
        box_a: First box, continuous coordinates.
        box_b: Second box.
        plus_one: Pascal VOC's pixel convention: a box from 0 to 9 is 10 pixels wide.
    """
    first, second = _check_box(box_a), _check_box(box_b)
    return float(iou_many(first, second[np.newaxis], plus_one)[0])


def iou_many(box: np.ndarray, others: np.ndarray, plus_one: bool = False) -> np.ndarray:
    """IoU of one box with each row of ``others`` ((N, 4) boxes), vectorised."""
    return matching.iou(box, others, 1.0 if plus_one else 0.0)


@dataclass(frozen=True)
class ClassResult:
    label: str
    ap: float
    true_positives: int
    false_positives: int
    ground_truths: int
    curve: pr.PRCurve


@dataclass(frozen=True)
class DetectionResult:
    per_class: dict[str, ClassResult]
    iou_threshold: float
    method: str
    true_positive: np.ndarray  # per detection, in the table's row order

    def table(self) -> list[dict]:
        """One row per class: AP, TP, FP and ground-truth count."""
        return [
            {
                "class": r.label,
                "AP": round(r.ap, 4),
                "TP": r.true_positives,
                "FP": r.false_positives,
                "ground truths": r.ground_truths,
            }
            for r in self.per_class.values()
        ]

    @property
    def mean_ap(self) -> float:
        """Mean over classes that have ground truth (a class with none has no defined AP)."""
        values = [result.ap for result in self.per_class.values() if result.ground_truths]
        return float(np.mean(values)) if values else 0.0


def _class_curve(gt, det, iou_threshold: float, plus_one: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy Pascal VOC matching for one class: the TP flag, score and table row of each detection,
    best score first."""
    order = np.argsort(-det["score"].to_numpy(), kind="stable")
    det = det.iloc[order]
    by_image = {image: group[list(BOX_COLUMNS[2:])].to_numpy(float) for image, group in gt.groupby("image_id")}
    boxes = det[list(BOX_COLUMNS[2:])].to_numpy(float)
    hits = matching.voc_hits(by_image, det["image_id"].to_numpy(), boxes, iou_threshold, 1.0 if plus_one else 0.0)
    return hits, det["score"].to_numpy(float), det.index.to_numpy()


def evaluate_detections(
    ground_truth,
    detections,
    iou_threshold: float = 0.5,
    method: str = "all",
    plus_one: bool = False,
) -> DetectionResult:
    """Per-class AP and mAP of detections against ground-truth boxes (Pascal VOC matching).

    Detections are taken by descending score; each takes the ground truth of its image and class
    with the best IoU; if that IoU is below ``iou_threshold`` or that box is already taken, the
    detection is a false positive. Ground truths never matched lower recall (unlike scikit-learn).

    Args:
        ground_truth: DataFrame with columns image_id, label, x_min, y_min, x_max, y_max.
        detections: The same columns plus score.
        iou_threshold: Minimum IoU for a match, in (0, 1].
        method: AP definition, one of :data:`METHODS`.
        plus_one: VOC "+1 pixel" box areas.
    """
    if not 0 < iou_threshold <= 1:
        raise InputError(f"The IoU threshold must be in (0, 1], got {iou_threshold}.")
    pr.check_method(method)
    gt = validate_boxes(ground_truth, "ground truth")
    det = validate_boxes(detections, "detections", with_score=True)
    results = {}
    true_positive = np.zeros(len(det), bool)
    for label in sorted(set(gt["label"]) | set(det["label"])):
        class_gt, class_det = gt[gt["label"] == label], det[det["label"] == label]
        no_detections = (np.zeros(0, int), np.zeros(0), np.zeros(0, int))
        found = _class_curve(class_gt, class_det, iou_threshold, plus_one) if len(class_det) else no_detections
        hits, scores, rows = found
        true_positive[rows] = hits.astype(bool)
        curve = pr.curve_from_hits(hits, scores, len(class_gt))
        ap = curve.average_precision(method) if hits.size and len(class_gt) else 0.0
        results[label] = ClassResult(label, ap, int(hits.sum()), int(hits.size - hits.sum()), len(class_gt), curve)
    return DetectionResult(results, float(iou_threshold), method, true_positive)


def read_boxes_csv(data: bytes, what: str, with_score: bool = False):
    """An uploaded CSV of boxes (ground truth, or detections with a score) as a text DataFrame."""
    return tables.read_csv(data, what, [*BOX_COLUMNS, "score"] if with_score else list(BOX_COLUMNS))


def validate_boxes(frame, what: str, with_score: bool = False):
    """Check a boxes table: required columns, numbers, x_max >= x_min, no formula cells."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what}: expected a table, got {type(frame).__name__}.")
    required = [*BOX_COLUMNS, "score"] if with_score else list(BOX_COLUMNS)
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}; need {', '.join(required)}.")
    frame = frame[required].copy()
    tables.refuse_formulas(frame, ("image_id", "label"), what)
    for column in ("image_id", "label"):
        frame[column] = frame[column].astype(str).str.strip()
    numeric = [*BOX_COLUMNS[2:], *(["score"] if with_score else [])]
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(
                f"{what}: row {row + 1}, {column} is {describe_value(frame[column].iloc[row])}, not a number."
            )
        frame[column] = values.astype(float)
    flipped = (frame["x_max"] < frame["x_min"]) | (frame["y_max"] < frame["y_min"])
    if flipped.any():
        row = int(np.argmax(flipped.to_numpy()))
        raise InputError(f"{what}: row {row + 1} has x_max < x_min or y_max < y_min.")
    return frame.reset_index(drop=True)


def example_detections():
    """A small built-in example: 4 images, 2 classes, hits, misses and duplicates.

    ``img4`` is the case where VOC and COCO disagree: two overlapping cats, and a second detection
    whose best ground truth is taken by the first but which clears IoU 0.5 with the other.
    """
    import pandas as pd

    gt = pd.DataFrame(matching.EXAMPLE_TRUTHS, columns=BOX_COLUMNS)
    det = pd.DataFrame(matching.EXAMPLE_DETECTIONS, columns=[*BOX_COLUMNS, "score"])
    return gt, det
