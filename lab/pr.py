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
    hits, scores = np.asarray(hits, dtype=np.int64), np.asarray(scores, dtype=np.float64)
    if group_ties and scores.size:
        ends = np.append(np.flatnonzero(np.diff(scores)), scores.size - 1)
    else:
        ends = np.arange(scores.size)
    tps = np.cumsum(hits)[ends] if hits.size else np.zeros(0, np.int64)
    fps = ends + 1 - tps
    precision = tps / np.maximum(tps + fps, 1)
    recall = tps / positives if positives else np.zeros(ends.size)
    return PRCurve(precision, recall, scores[ends], tps, fps, positives)


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


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"Unknown AP method {describe_value(method)}; choose one of {', '.join(METHODS)}.")
    return method


def average_precision(recall, precision, method: str = "all") -> float:
    """Average precision of a curve by one of :data:`METHODS` (see the module docstring)."""
    check_method(method)
    recall, precision = _check_curve(recall, precision)
    if method == "raw":
        return float(np.sum(np.diff(recall, prepend=0.0) * precision))
    if method == "all":
        padded_recall = np.concatenate(([0.0], recall, [1.0]))
        padded_precision = envelope(np.concatenate(([0.0], precision, [0.0])))
        steps = np.flatnonzero(padded_recall[1:] != padded_recall[:-1])
        return float(np.sum((padded_recall[steps + 1] - padded_recall[steps]) * padded_precision[steps + 1]))
    if method == "11point":
        return float(interpolated_precision(recall, precision, np.linspace(0.0, 1.0, 11)).mean())
    from lab.coco import RECALL_LEVELS  # pycocotools' levels, compared exactly as it compares them

    return float(interpolated_precision(recall, precision, RECALL_LEVELS, tolerance=0.0).mean())


def interpolated_precision(recall, precision, levels, tolerance: float = 1e-12) -> np.ndarray:
    """Max precision at recall >= each level (0 where the curve never reaches the level).

    The 11-point definition compares with a ``tolerance``: linspace(0, 1, 11)[3] is
    0.30000000000000004, so without it a recall of exactly 0.3 would miss its level (HOML's example
    would give 0.68, not 0.71). COCO's 101 levels are compared exactly, as pycocotools does.
    """
    recall, precision = _check_curve(recall, precision)
    best = envelope(precision)
    index = np.searchsorted(recall, np.asarray(levels) - tolerance, side="left")
    return np.where(index < recall.size, best[np.minimum(index, recall.size - 1)], 0.0)


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
    rng = np.random.default_rng(seed)
    labels = (rng.random(count) < positive_fraction).astype(np.int8)
    logits = rng.normal(size=count) + separability * labels
    return 1.0 / (1.0 + np.exp(-logits)), labels


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
