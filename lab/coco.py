"""COCO's bounding-box evaluation, digit for digit as ``pycocotools.cocoeval.COCOeval`` computes it.

What COCO does, and so what this module does (each point checked against pycocotools in the tests):

* Boxes are ``[x, y, width, height]``; IoU is intersection over union, except against a crowd
  ground truth (``iscrowd=1``), where it is intersection over the *detection's* area.
* Per image and class, at most ``max_dets[-1]`` (100) detections, best score first (stable order).
* Matching, per IoU threshold t: each detection in score order takes, among the ground truths it
  overlaps by at least t that are not yet taken (crowds can be taken again), the one of highest IoU
  (the later one on a tie), preferring a regular ground truth to an ignored one. This is where COCO
  differs from the Pascal VOC devkit (:mod:`lab.detection`), which gives a detection only its
  best-overlapping ground truth and calls it a false positive if that one is taken.
* A ground truth is *ignored* if it is a crowd or its area lies outside the area range; a detection
  matched to an ignored ground truth, or unmatched and outside the area range, is ignored too
  (neither true nor false positive). Area ranges: all, small < 32², medium 32²-96², large > 96²;
  ground truth areas are the annotation's ``area`` (detections: width x height).
* Per class, area range and detection cap, detections of all images are ranked by score (a stable
  sort over images in id order), precision is ``tp / (tp + fp + eps)``, made monotone from the
  right, and read at 101 recall levels 0, 0.01, ..., 1 (the first point with recall >= level; 0
  past the last point). Recall is the final recall. A class with no (non-ignored) ground truth has
  no value (-1) and is left out of every mean.
* The 12 summary numbers are means over the valid entries: AP, AP50, AP75, AP small/medium/large
  (100 detections), AR@1, AR@10, AR@100, AR small/medium/large.

Vectorised NumPy: the matching loops over detections of one (image, class) but works on every IoU
threshold and area range at once; the accumulation is whole-array per class. No pycocotools at run
time (it is the tests' oracle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lab.errors import InputError
from recipes import ap

# pycocotools builds both with linspace ("np.arange causes trouble"); the same values, bit for bit.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_LEVELS = ap.COCO_LEVELS  # pycocotools' 101 recall levels, as it computes them
MAX_DETS = (1, 10, 100)
AREA_RANGES = {"all": (0.0, 1e5**2), "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}
SUMMARY = (  # (name, AP or AR, IoU threshold or None for all, area range, detection cap)
    ("AP", "ap", None, "all", 100),
    ("AP50", "ap", 0.5, "all", 100),
    ("AP75", "ap", 0.75, "all", 100),
    ("AP small", "ap", None, "small", 100),
    ("AP medium", "ap", None, "medium", 100),
    ("AP large", "ap", None, "large", 100),
    ("AR@1", "ar", None, "all", 1),
    ("AR@10", "ar", None, "all", 10),
    ("AR@100", "ar", None, "all", 100),
    ("AR small", "ar", None, "small", 100),
    ("AR medium", "ar", None, "medium", 100),
    ("AR large", "ar", None, "large", 100),
)
SUMMARY_NAMES = tuple(name for name, *_ in SUMMARY)
EPS = np.spacing(1)  # pycocotools' guard in tp / (tp + fp + eps)


@dataclass(frozen=True)
class CocoData:
    """A dataset and a detector's results, as column arrays (COCO's own form, see :mod:`lab.annotations`).

    Ground-truth and detection ``image``/``category`` are indices into ``image_ids`` and
    ``category_ids``, which are in COCO's evaluation order (sorted ids).
    """

    image_ids: list
    category_ids: list
    category_names: list[str]
    gt_image: np.ndarray  # (G,) int
    gt_category: np.ndarray  # (G,) int
    gt_boxes: np.ndarray  # (G, 4) float64, x y w h
    gt_area: np.ndarray  # (G,) float64: the annotation's area
    gt_crowd: np.ndarray  # (G,) bool
    dt_image: np.ndarray  # (D,) int
    dt_category: np.ndarray  # (D,) int
    dt_boxes: np.ndarray  # (D, 4) float64
    dt_score: np.ndarray  # (D,) float64
    notes: tuple[str, ...] = ()  # what the reader changed, dropped or could not carry over, with counts


def box_iou(detections: np.ndarray, truths: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(D, G) IoU of x-y-w-h boxes, as pycocotools' ``bbIou`` (crowd: over the detection's area)."""
    d, g = detections[:, None, :], truths[None, :, :]
    width = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0], g[..., 0])
    height = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1], g[..., 1])
    inter = width * height
    det_area, gt_area = d[..., 2] * d[..., 3], g[..., 2] * g[..., 3]
    union = np.where(crowd[None, :], det_area, det_area + gt_area - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        ious = inter / union
    return np.where((width > 0) & (height > 0), ious, 0.0)


@dataclass(frozen=True)
class Matches:
    """Per kept detection (best 100 of each image and class): its match at each area range and IoU."""

    index: np.ndarray  # (N,) row in the data's detections
    rank: np.ndarray  # (N,) position within its image and class, best score first
    matched: np.ndarray  # (A, T, N) bool: matched to a ground truth
    ignored: np.ndarray  # (A, T, N) bool: neither TP nor FP
    gt_index: np.ndarray  # (A, T, N) int: the matched ground truth's row, or -1
    truths: np.ndarray  # (A, K) non-ignored ground truths per area range and class


def _choose(ious: np.ndarray, free: np.ndarray, regular: np.ndarray) -> np.ndarray:
    """The ground truth each detection takes (-1: none), over any leading axes.

    Among the free candidates (IoU >= threshold, not taken or a crowd) a regular ground truth comes
    first, then an ignored one; within each, the highest IoU, and on a tie the later one (pycocotools
    walks the ground truths with ``if iou < best: continue``).
    """
    order = np.arange(ious.shape[-1])
    chosen = np.full(free.shape[:-1], -1)
    for pool in (free & regular, free & ~regular):
        undecided = (chosen < 0) & pool.any(axis=-1)
        if undecided.any():
            best = np.where(pool, ious, -1.0).max(axis=-1, keepdims=True)
            last = np.where(pool & (ious == best), order, -1).max(axis=-1)
            chosen = np.where(undecided, last, chosen)
    return chosen


def _match_group(ious, gt_ignored, crowd, thresholds, det_outside) -> tuple[np.ndarray, ...]:
    """COCO's greedy matching in one (image, class), all area ranges and IoU thresholds at once.

    Args:
        ious: (D, G) in score order.
        gt_ignored: (A, G) ignore flags per area range.
        crowd: (G,) crowd flags.
        thresholds: (T,) IoU thresholds.
        det_outside: (A, D) detection area outside the range.

    Returns:
        matched, ignored and the chosen ground truth (-1: none), each (A, T, D).
    """
    areas, truths = gt_ignored.shape
    limit = np.minimum(thresholds, 1 - 1e-10)[None, :, None]  # (1, T, 1)
    reaches = ious >= limit.min()
    regular = ~gt_ignored[:, None, :]  # (A, 1, G)
    if not (reaches[:, ~crowd].sum(axis=0) > 1).any():
        # No ground truth is wanted by two detections: each decides alone, all at once.
        free = ious[None, None] >= limit[..., None]  # (1, T, D, G)
        chosen = _choose(ious[None, None], free, regular[:, :, None, :])
    else:  # contested: detections take ground truths one by one, best score first
        chosen = np.full((areas, thresholds.size, ious.shape[0]), -1)
        taken = np.zeros((areas, thresholds.size, truths), bool)
        for d in np.flatnonzero(reaches.any(axis=1)):
            free = (~taken | crowd) & (ious[d] >= limit)  # (A, T, G)
            pick = _choose(ious[d], free, regular)
            chosen[..., d] = pick
            a_index, t_index = np.nonzero(pick >= 0)
            taken[a_index, t_index, pick[a_index, t_index]] = True
    matched = chosen >= 0
    ignored = matched & np.take_along_axis(gt_ignored[:, None, :], np.maximum(chosen, 0), axis=2)
    ignored |= ~matched & det_outside[:, None, :]
    return matched, ignored, chosen


def match(data: CocoData, thresholds: Sequence[float] = IOU_THRESHOLDS, max_det: int = MAX_DETS[-1]) -> Matches:
    """Run COCO's per-image matching for every (image, class), every area range and threshold."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    ranges = np.array(list(AREA_RANGES.values()))  # (A, 2)
    gt_outside = (data.gt_area[None, :] < ranges[:, :1]) | (data.gt_area[None, :] > ranges[:, 1:])
    gt_ignored_all = gt_outside | data.gt_crowd[None, :]  # (A, G)
    dt_area = data.dt_boxes[:, 2] * data.dt_boxes[:, 3]
    dt_outside_all = (dt_area[None, :] < ranges[:, :1]) | (dt_area[None, :] > ranges[:, 1:])
    classes = len(data.category_ids)
    truths = np.zeros((len(ranges), classes), np.int64)
    np.add.at(truths, (slice(None), data.gt_category), (~gt_ignored_all).astype(np.int64))
    # Detections of each (image, class), best first (stable, as pycocotools' mergesort), at most max_det.
    key_dt = data.dt_image.astype(np.int64) * classes + data.dt_category
    order = np.lexsort((-data.dt_score, key_dt))
    sorted_key = key_dt[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]]) if order.size else np.zeros(0, int)
    rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
    keep = rank < max_det
    index, rank, sorted_key = order[keep], rank[keep], sorted_key[keep]
    areas, count = len(ranges), index.size
    matched = np.zeros((areas, thresholds.size, count), bool)
    ignored = dt_outside_all[:, index][:, None, :].repeat(thresholds.size, 1)  # unmatched: area decides
    gt_index = np.full((areas, thresholds.size, count), -1)
    key_gt = data.gt_image.astype(np.int64) * classes + data.gt_category
    gt_order = np.argsort(key_gt, kind="stable")
    gt_keys = key_gt[gt_order]
    group_starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]]) if count else np.zeros(0, int)
    group_stops = np.r_[group_starts[1:], count] if count else np.zeros(0, int)  # no detection: no group
    for start, stop in zip(group_starts, group_stops, strict=True):
        lo, hi = (
            np.searchsorted(gt_keys, sorted_key[start], "left"),
            np.searchsorted(gt_keys, sorted_key[start], "right"),
        )
        if lo == hi:
            continue  # no ground truth here: every detection is unmatched
        rows, truth_rows = index[start:stop], gt_order[lo:hi]
        crowd = data.gt_crowd[truth_rows]
        ious = box_iou(data.dt_boxes[rows], data.gt_boxes[truth_rows], crowd)
        found, skip, chosen = _match_group(
            ious, gt_ignored_all[:, truth_rows], crowd, thresholds, dt_outside_all[:, rows]
        )
        matched[..., start:stop], ignored[..., start:stop] = found, skip
        gt_index[..., start:stop] = np.where(chosen >= 0, truth_rows[np.maximum(chosen, 0)], -1)
    return Matches(index, rank, matched, ignored, gt_index, truths)


@dataclass(frozen=True)
class CocoResult:
    """COCOeval's ``eval`` arrays and its summary, plus the matches they came from."""

    precision: np.ndarray  # (T, R, K, A, M), -1 where undefined
    recall: np.ndarray  # (T, K, A, M), -1 where undefined
    category_names: list[str]
    thresholds: np.ndarray
    matches: Matches

    def _mean(self, values: np.ndarray) -> float:
        valid = values[values > -1]
        return float(np.mean(valid)) if valid.size else -1.0

    def summary(self) -> dict[str, float]:
        """The 12 numbers of ``COCOeval.summarize()`` (-1 where COCO prints -1)."""
        area_names = list(AREA_RANGES)
        out = {}
        for name, kind, iou, area, max_det in SUMMARY:
            values = self.precision if kind == "ap" else self.recall
            if iou is not None:
                values = values[np.where(iou == self.thresholds)[0]]
            a, m = area_names.index(area), MAX_DETS.index(max_det)
            out[name] = self._mean(values[..., a, m] if kind == "ar" else values[:, :, :, a, m])
        return out

    def per_class_ap(self) -> dict[str, float]:
        """AP@[.5:.95] of each class (area all, 100 detections); -1 for a class with no ground truth."""
        return {name: self._mean(self.precision[:, :, k, 0, -1]) for k, name in enumerate(self.category_names)}

    def per_iou_ap(self) -> dict[float, float]:
        """mAP at each IoU threshold (area all, 100 detections)."""
        return {round(float(t), 2): self._mean(self.precision[i, :, :, 0, -1]) for i, t in enumerate(self.thresholds)}


def accumulate(data: CocoData, matches: Matches, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.accumulate: (T, R, K, A, M) precision and (T, K, A, M) recall."""
    shape = (thresholds.size, len(data.category_ids), len(AREA_RANGES), len(MAX_DETS))
    precision = -np.ones((shape[0], RECALL_LEVELS.size, *shape[1:]))
    recall = -np.ones(shape)
    category = data.dt_category[matches.index]
    image = data.dt_image[matches.index]
    score = data.dt_score[matches.index]
    for k in range(shape[1]):
        mine = np.flatnonzero(category == k)
        # pycocotools ranks the concatenation over images (in id order) with a stable sort by score.
        mine = mine[np.lexsort((matches.rank[mine], image[mine], -score[mine]))]
        for a in range(shape[2]):
            positives = matches.truths[a, k]
            if positives == 0:
                continue  # no value: -1 stays
            for m, max_det in enumerate(MAX_DETS):
                chosen = mine[matches.rank[mine] < max_det]
                if not chosen.size:  # ground truth but no detection: precision and recall 0
                    precision[:, :, k, a, m], recall[:, k, a, m] = 0.0, 0.0
                    continue
                hit, skip = matches.matched[a][:, chosen], matches.ignored[a][:, chosen]
                tp = np.cumsum(hit & ~skip, axis=1).astype(float)
                fp = np.cumsum(~hit & ~skip, axis=1).astype(float)
                rc = tp / positives
                pr = tp / (fp + tp + EPS)
                pr = np.flip(np.maximum.accumulate(np.flip(pr, axis=1), axis=1), axis=1)
                recall[:, k, a, m] = rc[:, -1]
                for t in range(shape[0]):
                    at = np.searchsorted(rc[t], RECALL_LEVELS, side="left")
                    precision[t, :, k, a, m] = np.where(at < rc.shape[1], pr[t, np.minimum(at, rc.shape[1] - 1)], 0.0)
    return precision, recall


def evaluate(data: CocoData, thresholds: Sequence[float] = IOU_THRESHOLDS) -> CocoResult:
    """COCO bbox evaluation: ``evaluate()`` + ``accumulate()`` of pycocotools, with :meth:`CocoResult.summary`.

    Raises:
        InputError: For thresholds outside (0, 1].
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.size == 0 or thresholds.min() <= 0 or thresholds.max() > 1:
        raise InputError(f"IoU thresholds must lie in (0, 1], got {thresholds.tolist()}.")
    matches = match(data, thresholds)
    precision, recall = accumulate(data, matches, thresholds)
    return CocoResult(precision, recall, list(data.category_names), thresholds, matches)


@dataclass(frozen=True)
class Difference:
    """One detection that the two evaluators score differently at IoU 0.5."""

    image: object
    category: str
    score: float
    voc: str  # "TP" or "FP"
    coco: str  # "TP", "FP", "ignored", or "not evaluated" (past the 100-per-image cap)
    why: str


def voc_differences(data: CocoData, result: CocoResult, voc_true_positive: np.ndarray) -> list[Difference]:
    """Detections whose verdict at IoU 0.5 (all areas, 100 per image) differs between the evaluators.

    Args:
        data: What both evaluated.
        result: :func:`evaluate` of ``data``.
        voc_true_positive: The VOC matching's verdict per detection of ``data``, in its order
            (:attr:`lab.detection.DetectionResult.true_positive` on :func:`lab.annotations.to_tables`).
    """
    at = np.flatnonzero(np.isclose(result.thresholds, 0.5))
    if not at.size:
        return []
    t, m = int(at[0]), result.matches
    verdict = np.full(data.dt_score.size, "not evaluated", dtype=object)
    kept_tp = m.matched[0, t] & ~m.ignored[0, t]
    verdict[m.index] = np.where(m.ignored[0, t], "ignored", np.where(kept_tp, "TP", "FP"))
    chosen = np.full(data.dt_score.size, -1)
    chosen[m.index] = m.gt_index[0, t]
    differences = []
    for row in np.flatnonzero(verdict != np.where(voc_true_positive, "TP", "FP")):
        voc, coco = ("TP" if voc_true_positive[row] else "FP"), verdict[row]
        if coco == "TP":
            why = (
                "its best-overlapping ground truth was already taken, so VOC calls it a false positive; "
                f"COCO gives it the next free one (ground truth #{chosen[row]}) that clears IoU 0.5"
            )
        elif coco == "ignored":
            why = "COCO ignores it: it matched a crowd or out-of-range ground truth"
        elif coco == "not evaluated":
            why = "COCO keeps only the 100 best detections of each image"
        else:
            why = "VOC matched it, COCO's matching gave that ground truth to a better-scored detection"
        name = data.category_names[data.dt_category[row]]
        image = data.image_ids[data.dt_image[row]]
        differences.append(Difference(image, name, float(data.dt_score[row]), voc, coco, why))
    return differences
