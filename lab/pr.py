"""Precision-recall curves and every common definition of average precision. NumPy only.

Definitions (recall ``R`` increasing, precision ``P``):

* ``"raw"``: the non-interpolated sum ``sum (R_n - R_{n-1}) P_n``, equal to scikit-learn's
  ``average_precision_score``.
* ``"11point"`` (Pascal VOC 2007, HOML): mean over t in {0, 0.1, ..., 1} of max P at R >= t.
* ``"all"`` (VOC 2010+): the area under the max-precision envelope with sentinels (0, 0), (1, 0).
* ``"coco101"`` (pycocotools): the envelope sampled at 101 recall thresholds 0, 0.01, ..., 1.

This module must not import TensorFlow (tested). pandas is imported only by the functions that
take or return DataFrames.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lab.errors import InputError, describe_value

METHODS = ("11point", "all", "coco101", "raw")
METHOD_NOTES = {
    "11point": "Pascal VOC 2007 and HOML: the mean of the best precision at recall ≥ 0, 0.1, …, 1 (11 samples).",
    "all": "Pascal VOC 2010+: the exact area under the max-precision envelope (every recall step counts).",
    "coco101": "COCO: the same envelope sampled at 101 recall levels 0, 0.01, …, 1, so it sits close to 'all'.",
    "raw": "scikit-learn: no envelope; each recall step is weighted by the precision at that step, so dips count.",
}
BOX_COLUMNS = ("image_id", "label", "x_min", "y_min", "x_max", "y_max")
COCO_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_ROWS = 200_000
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class PRCurve:
    """Points of a precision-recall curve, by decreasing threshold (so recall increases).

    Tied scores form one threshold, as in scikit-learn.
    """

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    true_positives: np.ndarray = field(repr=False)
    false_positives: np.ndarray = field(repr=False)
    positives: int = 0  # total positives (ground truths), including any never detected

    def average_precision(self, method: str = "all") -> float:
        return average_precision(self.recall, self.precision, method)


def _validate_scores(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    try:
        scores = np.asarray(scores, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError(f"Scores must be numbers, got {describe_value(scores)}.") from None
    labels = np.asarray(labels).ravel()
    if scores.size == 0:
        raise InputError("No scores given: the input is empty.")
    if scores.shape != labels.shape:
        raise InputError(f"Got {scores.size} scores but {labels.size} labels: they must pair up.")
    bad = ~np.isfinite(scores)
    if bad.any():
        raise InputError(f"{int(bad.sum())} scores are NaN or infinite (first at row {int(np.argmax(bad))}).")
    if labels.dtype == bool:
        return scores, labels.astype(np.int8)
    try:
        numeric = labels.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(f"Labels must be 0 or 1, got {describe_value(labels[:5].tolist())}.") from None
    outside = (numeric != 0) & (numeric != 1)
    if outside.any():
        raise InputError(
            f"Labels must be 0 or 1; row {int(np.argmax(outside))} is {describe_value(labels[np.argmax(outside)])}."
        )
    return scores, numeric.astype(np.int8)


def precision_recall(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> PRCurve:
    """Vectorised precision-recall curve.

    Args:
        scores: Classifier scores; higher means "more positive".
        labels: 0/1 (or bool) ground truth, one per score.

    Returns:
        A :class:`PRCurve`. With no positives, recall is 0 everywhere (AP is then 0).

    Raises:
        InputError: Empty input, length mismatch, NaN/inf scores, labels outside {0, 1}.
    """
    scores, labels = _validate_scores(scores, labels)
    order = np.argsort(-scores)  # ties land together in any order: their group total is the same
    sorted_scores, sorted_labels = scores[order], labels[order]
    last_of_group = np.flatnonzero(np.diff(sorted_scores)) if sorted_scores.size > 1 else np.empty(0, int)
    ends = np.append(last_of_group, sorted_scores.size - 1)
    tps = np.cumsum(sorted_labels, dtype=np.int64)[ends]
    fps = ends + 1 - tps
    positives = int(tps[-1])
    precision = tps / (tps + fps)
    recall = tps / positives if positives else np.zeros_like(precision)
    return PRCurve(precision, recall, sorted_scores[ends], tps, fps, positives)


def envelope(precision: Sequence[float] | np.ndarray) -> np.ndarray:
    """Max precision at this or any higher recall (HOML: flip, running max, flip back)."""
    return np.flip(np.maximum.accumulate(np.flip(np.asarray(precision, dtype=np.float64))))


def _check_curve(recall, precision) -> tuple[np.ndarray, np.ndarray]:
    recall = np.asarray(recall, dtype=np.float64).ravel()
    precision = np.asarray(precision, dtype=np.float64).ravel()
    if recall.size == 0 or recall.shape != precision.shape:
        raise InputError(
            f"Need matching, non-empty recall and precision; got {recall.size} and {precision.size} values."
        )
    if not (np.isfinite(recall).all() and np.isfinite(precision).all()):
        raise InputError("Recall and precision must be finite numbers (no NaN or blanks).")
    if recall.min() < 0 or recall.max() > 1 or precision.min() < 0 or precision.max() > 1:
        raise InputError("Recall and precision must lie between 0 and 1.")
    if np.any(np.diff(recall) < 0):
        order = np.argsort(recall, kind="stable")  # a hand-typed table may be out of order
        recall, precision = recall[order], precision[order]
    return recall, precision


def average_precision(recall, precision, method: str = "all") -> float:
    """Average precision of a curve by one of :data:`METHODS` (see the module docstring)."""
    if method not in METHODS:
        raise InputError(f"Unknown AP method {describe_value(method)}; choose one of {', '.join(METHODS)}.")
    recall, precision = _check_curve(recall, precision)
    if method == "raw":
        return float(np.sum(np.diff(recall, prepend=0.0) * precision))
    if method == "all":
        padded_recall = np.concatenate(([0.0], recall, [1.0]))
        padded_precision = envelope(np.concatenate(([0.0], precision, [0.0])))
        steps = np.flatnonzero(padded_recall[1:] != padded_recall[:-1])
        return float(np.sum((padded_recall[steps + 1] - padded_recall[steps]) * padded_precision[steps + 1]))
    levels = np.linspace(0.0, 1.0, 11 if method == "11point" else 101)
    return float(interpolated_precision(recall, precision, levels).mean())


def interpolated_precision(recall, precision, levels) -> np.ndarray:
    """Max precision at recall >= each level (0 where the curve never reaches the level)."""
    recall, precision = _check_curve(recall, precision)
    best = envelope(precision)
    # First point with recall >= level. linspace(0, 1, 11)[3] is 0.30000000000000004, so without the
    # tolerance a recall of exactly 0.3 would miss its level (HOML's example would give 0.68, not 0.71).
    index = np.searchsorted(recall, np.asarray(levels) - 1e-12, side="left")
    return np.where(index < recall.size, best[np.minimum(index, recall.size - 1)], 0.0)


def all_methods(recall, precision) -> dict[str, float]:
    return {method: average_precision(recall, precision, method) for method in METHODS}


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int


def operating_point(curve: PRCurve, threshold: float) -> OperatingPoint:
    """Counts when every score >= ``threshold`` is called positive."""
    at = np.searchsorted(-curve.thresholds, -threshold, side="right") - 1  # last threshold >= t
    if at < 0:
        return OperatingPoint(threshold, 1.0, 0.0, 0, 0, curve.positives)
    tp, fp = int(curve.true_positives[at]), int(curve.false_positives[at])
    recall = tp / curve.positives if curve.positives else 0.0
    return OperatingPoint(threshold, tp / (tp + fp), recall, tp, fp, curve.positives - tp)


def downsample(curve: PRCurve, max_points: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` (recall, precision) points for plotting, ends kept."""
    if curve.recall.size <= max_points:
        return curve.recall, curve.precision
    keep = np.unique(np.linspace(0, curve.recall.size - 1, max_points).round().astype(int))
    return curve.recall[keep], curve.precision[keep]


def synthetic_scores(count: int = 500, separability: float = 1.5, positive_fraction: float = 0.3, seed: int = 0):
    """Scores of a fake classifier: positives ~ N(separability, 1), negatives ~ N(0, 1), squashed."""
    if not 2 <= count <= 2_000_000:
        raise InputError(f"Number of samples must be between 2 and 2,000,000, got {count}.")
    if not 0 < positive_fraction < 1:
        raise InputError(f"The positive fraction must be strictly between 0 and 1, got {positive_fraction}.")
    rng = np.random.default_rng(seed)
    labels = (rng.random(count) < positive_fraction).astype(np.int8)
    logits = rng.normal(size=count) + separability * labels
    return 1.0 / (1.0 + np.exp(-logits)), labels


# ---------------------------------------------------------------------------------------------
# Boxes and detections
# ---------------------------------------------------------------------------------------------
def iou(box_a: Sequence[float], box_b: Sequence[float], plus_one: bool = False) -> float:
    """Intersection over union of two (x_min, y_min, x_max, y_max) boxes.

    Args:
        box_a: First box, continuous coordinates.
        box_b: Second box.
        plus_one: Pascal VOC's pixel convention: a box from 0 to 9 is 10 pixels wide.
    """
    one = 1.0 if plus_one else 0.0
    for box in (box_a, box_b):
        if len(box) != 4 or not np.all(np.isfinite(box)):
            raise InputError(
                f"A box needs four finite numbers (x_min, y_min, x_max, y_max), got {describe_value(box)}."
            )
        if box[2] < box[0] or box[3] < box[1]:
            raise InputError(f"Box {describe_value(tuple(box))} has x_max < x_min or y_max < y_min.")
    width = min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]) + one
    height = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]) + one
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    area_a = (box_a[2] - box_a[0] + one) * (box_a[3] - box_a[1] + one)
    area_b = (box_b[2] - box_b[0] + one) * (box_b[3] - box_b[1] + one)
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def _iou_many(box: np.ndarray, others: np.ndarray, one: float) -> np.ndarray:
    width = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]) + one
    height = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]) + one
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area = (box[2] - box[0] + one) * (box[3] - box[1] + one)
    areas = (others[:, 2] - others[:, 0] + one) * (others[:, 3] - others[:, 1] + one)
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass(frozen=True)
class ClassResult:
    label: str
    ap: float
    true_positives: int
    false_positives: int
    ground_truths: int
    curve: PRCurve


@dataclass(frozen=True)
class DetectionResult:
    per_class: dict[str, ClassResult]
    iou_threshold: float
    method: str

    @property
    def mean_ap(self) -> float:
        """Mean over classes that have ground truth (a class with none has no defined AP)."""
        values = [result.ap for result in self.per_class.values() if result.ground_truths]
        return float(np.mean(values)) if values else 0.0


def _class_curve(gt, det, iou_threshold: float, one: float) -> tuple[np.ndarray, int]:
    """Greedy Pascal VOC matching for one class: returns the TP flag of each detection by score."""
    order = np.argsort(-det["score"].to_numpy(), kind="stable")
    det = det.iloc[order]
    by_image = {image: group[list(BOX_COLUMNS[2:])].to_numpy(float) for image, group in gt.groupby("image_id")}
    taken = {image: np.zeros(len(boxes), bool) for image, boxes in by_image.items()}
    hits = np.zeros(len(det), dtype=np.int64)
    boxes = det[list(BOX_COLUMNS[2:])].to_numpy(float)
    for row, (image, box) in enumerate(zip(det["image_id"].to_numpy(), boxes, strict=True)):
        candidates = by_image.get(image)
        if candidates is None or not len(candidates):
            continue
        overlaps = _iou_many(box, candidates, one)
        best = int(np.argmax(overlaps))
        if overlaps[best] >= iou_threshold and not taken[image][best]:
            taken[image][best] = True
            hits[row] = 1
    return hits, det["score"].to_numpy(float)


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
    gt = validate_boxes(ground_truth, "ground truth")
    det = validate_boxes(detections, "detections", with_score=True)
    one = 1.0 if plus_one else 0.0
    results = {}
    for label in sorted(set(gt["label"]) | set(det["label"])):
        class_gt, class_det = gt[gt["label"] == label], det[det["label"] == label]
        hits, scores = (
            _class_curve(class_gt, class_det, iou_threshold, one) if len(class_det) else (np.zeros(0, int), np.zeros(0))
        )
        tps = np.cumsum(hits)
        fps = np.arange(1, hits.size + 1) - tps
        positives = len(class_gt)
        precision = tps / np.maximum(tps + fps, 1)
        recall = tps / positives if positives else np.zeros(hits.size)
        curve = PRCurve(precision, recall, scores[np.argsort(-scores, kind="stable")], tps, fps, positives)
        ap = average_precision(recall, precision, method) if hits.size and positives else 0.0
        results[label] = ClassResult(label, ap, int(hits.sum()), int(hits.size - hits.sum()), positives, curve)
    return DetectionResult(results, float(iou_threshold), method)


def coco_map(ground_truth, detections, thresholds: Sequence[float] = COCO_THRESHOLDS, plus_one: bool = False) -> float:
    """COCO-style mAP@[.5:.95]: the 101-point mAP averaged over ten IoU thresholds."""
    values = [evaluate_detections(ground_truth, detections, t, "coco101", plus_one).mean_ap for t in thresholds]
    return float(np.mean(values))


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
    for column in ("image_id", "label"):
        text = frame[column].astype(str).str.strip()
        formula = text.str.startswith(_FORMULA_PREFIXES)
        if formula.any():
            row = int(np.argmax(formula.to_numpy()))
            raise InputError(
                f"{what}: row {row + 1}, {column} {describe_value(text.iloc[row])} starts like a spreadsheet "
                "formula (=, +, -, @); rename it."
            )
        frame[column] = text
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


def read_csv(data: bytes, what: str, columns: Sequence[str]):
    """Parse an uploaded CSV (size- and row-capped) into a DataFrame with ``columns``."""
    import pandas as pd

    if len(data) > MAX_CSV_BYTES:
        raise InputError(f"{what}: the CSV is larger than {MAX_CSV_BYTES // 2**20} MB.")
    try:
        frame = pd.read_csv(io.BytesIO(data), nrows=MAX_CSV_ROWS + 1, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{what}: not a readable CSV ({type(error).__name__}).") from None
    if len(frame) > MAX_CSV_ROWS:
        raise InputError(f"{what}: more than {MAX_CSV_ROWS:,} rows.")
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}.")
    return frame


def read_scores_csv(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A CSV with ``score`` and ``label`` columns -> validated arrays."""
    frame = read_csv(data, "scores", ("score", "label"))
    for column in ("score", "label"):
        text = frame[column].astype(str).str.strip()
        if text.str.startswith(("=", "@")).any():
            raise InputError(f"scores: a {column} cell starts like a spreadsheet formula (= or @).")
    import pandas as pd

    scores = pd.to_numeric(frame["score"], errors="coerce").to_numpy(float)
    labels = pd.to_numeric(frame["label"], errors="coerce").to_numpy(float)
    if np.isnan(labels).any():
        raise InputError(f"Labels must be 0 or 1; row {int(np.argmax(np.isnan(labels))) + 1} is not a number.")
    return _validate_scores(scores, labels)


def escape_csv_cell(value: object) -> object:
    """Make a text cell safe to open in a spreadsheet (no formula injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def example_detections():
    """A small built-in example: 3 images, 2 classes, a few hits, misses and duplicates."""
    import pandas as pd

    gt = pd.DataFrame(
        [
            ("img1", "cat", 10, 10, 60, 60), ("img1", "dog", 70, 20, 120, 90),
            ("img2", "cat", 30, 30, 90, 80), ("img2", "cat", 100, 40, 140, 100),
            ("img3", "dog", 20, 15, 80, 70), ("img3", "cat", 90, 90, 130, 130),
        ],
        columns=BOX_COLUMNS,
    )  # fmt: skip
    det = pd.DataFrame(
        [
            ("img1", "cat", 12, 8, 58, 62, 0.95), ("img1", "cat", 14, 12, 62, 58, 0.80),
            ("img1", "dog", 75, 25, 118, 85, 0.70), ("img2", "cat", 28, 35, 85, 82, 0.90),
            ("img2", "cat", 60, 0, 100, 30, 0.40), ("img2", "dog", 100, 40, 140, 100, 0.60),
            ("img3", "dog", 25, 20, 70, 75, 0.85), ("img3", "cat", 95, 85, 135, 128, 0.55),
            ("img3", "cat", 5, 5, 25, 25, 0.30),
        ],
        columns=[*BOX_COLUMNS, "score"],
    )  # fmt: skip
    return gt, det


# HOML's 11-point example: precision at recall 0, 0.1, ..., 1 (its mAP is 0.7136).
HOML_RECALL = tuple(np.round(np.linspace(0, 1, 11), 1))
HOML_PRECISION = (0.91, 0.94, 0.96, 0.94, 0.95, 0.92, 0.80, 0.60, 0.45, 0.20, 0.10)
