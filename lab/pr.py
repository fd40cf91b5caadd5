"""Precision-recall curves and every common definition of average precision. NumPy only.

Definitions (recall ``R`` increasing, precision ``P``):

* ``"raw"``: the non-interpolated sum ``sum (R_n - R_{n-1}) P_n``, equal to scikit-learn's
  ``average_precision_score``.
* ``"11point"`` (Pascal VOC 2007, HOML): mean over t in {0, 0.1, ..., 1} of max P at R >= t.
* ``"all"`` (VOC 2010+): the area under the max-precision envelope with sentinels (0, 0), (1, 0).
* ``"coco101"`` (pycocotools): the envelope sampled at 101 recall thresholds 0, 0.01, ..., 1.

Detection matching (boxes, IoU, VOC and COCO rules) is :mod:`lab.detection`, built on the curves
here; reading uploaded tables is :mod:`lab.tables`. This module must not import TensorFlow (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lab import tables
from lab.errors import InputError, describe_value
from recipes import ap

METHODS = ("11point", "all", "coco101", "raw")
METHOD_NOTES = {
    "11point": "Pascal VOC 2007 and HOML: the mean of the best precision at recall ≥ 0, 0.1, …, 1 (11 samples; "
    "recall is compared with a 1e-12 tolerance, so 3/10 reaches the 0.3 level).",
    "all": "Pascal VOC 2010+: the exact area under the max-precision envelope (every recall step counts).",
    "coco101": "COCO: the same envelope sampled at 101 recall levels 0, 0.01, …, 1 (compared exactly, as "
    "pycocotools does), so it sits close to 'all'.",
    "raw": "scikit-learn: no envelope; each recall step is weighted by the precision at that step, so dips count.",
}


@dataclass(frozen=True)
class ScoresConfig:
    """The PR page's scores view (recipes/ap.py opens with the same names and defaults)."""

    count: int = 500  # how many scores the generator draws
    separability: float = 1.5  # positives' logits ~ N(separability, 1), negatives' ~ N(0, 1)
    positive_fraction: float = 0.3  # the share of positives
    seed: int = 0  # the generator's seed
    threshold: float = 0.5  # scores at or above it are called positive
    scores_file: str | None = None  # an uploaded CSV's name (columns score,label) instead of the generator


@dataclass(frozen=True)
class DetectionConfig:
    """The PR page's detections view (recipes/matching.py opens with the same names and defaults)."""

    instances_file: str = "instances.json"  # COCO ground truth the script reads
    results_file: str = "results.json"  # COCO results the script reads
    iou_threshold: float = 0.5  # a detection matches a ground-truth box at this IoU or more
    method: str = "all"  # the AP definition per class, one of METHODS
    plus_one: bool = False  # Pascal VOC's "+1 pixel" box areas


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
    return curve_from_hits(labels[order], scores[order], int(labels.sum()), group_ties=True)


def curve_from_hits(hits: np.ndarray, scores: np.ndarray, positives: int, group_ties: bool = False) -> PRCurve:
    """The curve of ranked decisions: ``hits[i]`` is 1 when the i-th best-scored item is a true positive.

    Args:
        hits: 0/1 per item, sorted by decreasing score.
        scores: The sorted scores.
        positives: All positives (ground truths), including any that no item found.
        group_ties: One point per distinct score (scikit-learn's curve); otherwise one point per
            item, as the VOC and COCO evaluators count detections.
    """
    precision, recall, thresholds, tps, fps = ap.ranked_curve(hits, scores, positives, group_ties)
    return PRCurve(precision, recall, thresholds, tps, fps, positives)


def envelope(precision: Sequence[float] | np.ndarray) -> np.ndarray:
    """Max precision at this or any higher recall (HOML: flip, running max, flip back)."""
    return ap.envelope(precision)


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


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"Unknown AP method {describe_value(method)}; choose one of {', '.join(METHODS)}.")
    return method


def average_precision(recall, precision, method: str = "all") -> float:
    """Average precision of a curve by one of :data:`METHODS` (see the module docstring)."""
    check_method(method)
    recall, precision = _check_curve(recall, precision)
    if method == "11point":
        return float(interpolated_precision(recall, precision, ap.ELEVEN_LEVELS).mean())
    if method == "coco101":  # pycocotools' levels, compared exactly as it compares them
        return float(interpolated_precision(recall, precision, ap.COCO_LEVELS, tolerance=0.0).mean())
    return ap.ap_raw(recall, precision) if method == "raw" else ap.ap_all(recall, precision)


def interpolated_precision(recall, precision, levels, tolerance: float = 1e-12) -> np.ndarray:
    """Max precision at recall >= each level (0 where the curve never reaches the level).

    The 11-point definition compares with a ``tolerance``: linspace(0, 1, 11)[3] is
    0.30000000000000004, so without it a recall of exactly 0.3 would miss its level (HOML's example
    would give 0.68, not 0.71). COCO's 101 levels are compared exactly, as pycocotools does.
    """
    recall, precision = _check_curve(recall, precision)
    return ap.sampled_precision(recall, precision, levels, tolerance)


def all_methods(recall, precision) -> dict[str, float]:
    return {method: average_precision(recall, precision, method) for method in METHODS}


def methods_table(recall, precision) -> list[dict]:
    """Every AP definition of one curve, with what each measures (the page's comparison table)."""
    values = all_methods(recall, precision)
    return [{"method": m, "AP": round(v, 4), "what it measures": METHOD_NOTES[m]} for m, v in values.items()]


def curve_points(recall, precision) -> tuple[np.ndarray, np.ndarray]:
    """A hand-typed table of points (text cells allowed) as sorted, checked arrays."""
    import pandas as pd

    recall = pd.to_numeric(pd.Series(list(recall)), errors="coerce").to_numpy(float)
    precision = pd.to_numeric(pd.Series(list(precision)), errors="coerce").to_numpy(float)
    return _check_curve(recall, precision)


def sklearn_average_precision(scores, labels) -> float:
    """The oracle: scikit-learn's ``average_precision_score`` (equals the "raw" definition)."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, scores))


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int

    def figures(self) -> dict[str, str]:
        return {
            "precision": f"{self.precision:.3f}",
            "recall": f"{self.recall:.3f}",
            "TP": str(self.true_positives),
            "FP": str(self.false_positives),
            "FN": str(self.false_negatives),
        }


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
    return ap.generated_scores(count, separability, positive_fraction, seed)


def read_scores_csv(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A CSV with ``score`` and ``label`` columns -> validated arrays."""
    import pandas as pd

    frame = tables.read_csv(data, "scores", ("score", "label"))
    tables.refuse_formulas(frame, ("score", "label"), "scores")
    scores = pd.to_numeric(frame["score"], errors="coerce").to_numpy(float)
    labels = pd.to_numeric(frame["label"], errors="coerce").to_numpy(float)
    if np.isnan(labels).any():
        raise InputError(f"Labels must be 0 or 1; row {int(np.argmax(np.isnan(labels))) + 1} is not a number.")
    return _validate_scores(scores, labels)


# HOML's 11-point example: precision at recall 0, 0.1, ..., 1 (its mAP is 0.7136).
HOML_RECALL = tuple(np.round(np.linspace(0, 1, 11), 1))
HOML_PRECISION = (0.91, 0.94, 0.96, 0.94, 0.95, 0.92, 0.80, 0.60, 0.45, 0.20, 0.10)
