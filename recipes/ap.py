"""Precision-recall curves and the four common definitions of average precision, in plain NumPy.

``python -m recipes.ap`` scores the PR page's default generator (a fake classifier) and prints the
curve's counts at the threshold and every AP, with scikit-learn's as the oracle (it equals "raw").
Set ``scores_file`` to a CSV with columns ``score,label`` to score your own classifier.

* ``raw`` (scikit-learn): each recall step weighted by the precision at that step, no envelope.
* ``11point`` (Pascal VOC 2007, HOML): the best precision at recall >= 0, 0.1, ..., 1, averaged.
* ``all`` (VOC 2010+): the area under the best-precision envelope.
* ``coco101`` (pycocotools): the envelope sampled at 101 recall levels 0, 0.01, ..., 1.
"""

import numpy as np

from recipes import override

# -----------------------------------------------------------------------------
# settings: lab.pr.ScoresConfig's fields, with its defaults ("Show the code" writes the page's here)
count = 500  # how many scores the generator draws
separability = 1.5  # positives' logits ~ N(separability, 1), negatives' ~ N(0, 1)
positive_fraction = 0.3  # the share of positives
seed = 0  # the generator's seed: the same seed gives the same scores
threshold = 0.5  # scores at or above it are called positive
scores_file = None  # a CSV with columns score,label instead of the generator
# -----------------------------------------------------------------------------

ELEVEN_LEVELS = np.linspace(0.0, 1.0, 11)  # Pascal VOC 2007
COCO_LEVELS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)  # as pycocotools


def generated_scores(count, separability, positive_fraction, seed):
    """A fake classifier's scores in (0, 1) and its 0/1 labels."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(count) < positive_fraction).astype(np.int8)
    logits = rng.normal(size=count) + separability * labels
    return 1.0 / (1.0 + np.exp(-logits)), labels


def read_scores(path):
    """Scores and labels from a CSV with columns score,label (in any order, with a header row)."""
    table = np.atleast_1d(np.genfromtxt(path, delimiter=",", names=True, encoding="utf-8"))
    return table["score"].astype(np.float64), table["label"].astype(np.int64)


def ranked_curve(hits, scores, positives, group_ties=False):
    """The curve of ranked decisions, best score first: ``hits[i]`` is 1 for a true positive.

    Returns precision, recall, the score at each point, and the true and false positives there.
    ``group_ties``: one point per distinct score (scikit-learn's curve); otherwise one per item, as
    the VOC and COCO evaluators count detections.
    """
    hits, scores = np.asarray(hits, dtype=np.int64), np.asarray(scores, dtype=np.float64)
    if group_ties and scores.size:
        ends = np.append(np.flatnonzero(np.diff(scores)), scores.size - 1)
    else:
        ends = np.arange(scores.size)
    true_positives = np.cumsum(hits)[ends] if hits.size else np.zeros(0, np.int64)
    false_positives = ends + 1 - true_positives
    precision = true_positives / np.maximum(true_positives + false_positives, 1)
    recall = true_positives / positives if positives else np.zeros(ends.size)
    return precision, recall, scores[ends], true_positives, false_positives


def precision_recall(scores, labels):
    """Precision and recall at every distinct score, best first (ties form one point, as in scikit-learn)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64))
    labels = np.asarray(labels)
    precision, recall, *_ = ranked_curve(labels[order], np.asarray(scores)[order], int(labels.sum()), True)
    return precision, recall


def operating_counts(scores, labels, threshold):
    """True positives, false positives and false negatives when scores >= threshold are called positive."""
    called = np.asarray(scores) >= threshold
    labels = np.asarray(labels)
    true_positives = int((called & (labels == 1)).sum())
    false_positives = int((called & (labels == 0)).sum())
    return true_positives, false_positives, int(labels.sum()) - true_positives


def envelope(precision):
    """The best precision at this or any higher recall (HOML: flip, running max, flip back)."""
    return np.flip(np.maximum.accumulate(np.flip(np.asarray(precision, dtype=np.float64))))


def sampled_precision(recall, precision, levels, tolerance):
    """The envelope at each recall level: 0 where the curve never reaches it.

    11-point compares with a tolerance: linspace(0, 1, 11)[3] is 0.30000000000000004, so a recall of
    exactly 3/10 would miss its level (HOML's example would give 0.68, not 0.71). COCO's levels are
    compared exactly, as pycocotools does.
    """
    best = envelope(precision)
    index = np.searchsorted(recall, np.asarray(levels) - tolerance, side="left")  # first recall >= level
    return np.where(index < len(recall), best[np.minimum(index, len(recall) - 1)], 0.0)


def ap_raw(recall, precision):
    """scikit-learn's average precision: no envelope."""
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def ap_all(recall, precision):
    """VOC 2010+: the area under the envelope, with sentinels (0, 0) and (1, 0)."""
    padded_recall = np.concatenate(([0.0], recall, [1.0]))
    padded_precision = envelope(np.concatenate(([0.0], precision, [0.0])))
    steps = np.flatnonzero(padded_recall[1:] != padded_recall[:-1])
    return float(np.sum((padded_recall[steps + 1] - padded_recall[steps]) * padded_precision[steps + 1]))


def every_ap(recall, precision):
    """Each definition of average precision of one curve (recall increasing)."""
    return {
        "11point": float(sampled_precision(recall, precision, ELEVEN_LEVELS, 1e-12).mean()),
        "all": ap_all(recall, precision),
        "coco101": float(sampled_precision(recall, precision, COCO_LEVELS, 0.0).mean()),
        "raw": ap_raw(recall, precision),
    }


def print_every_ap(recall, precision):
    for method, value in every_ap(recall, precision).items():
        print(f"{method}:", round(value, 4))


def print_operating_point(scores, labels, threshold):
    true_positives, false_positives, false_negatives = operating_counts(scores, labels, threshold)
    called = true_positives + false_positives
    print("precision:", f"{true_positives / called if called else 1.0:.3f}")
    print("recall:", f"{true_positives / np.sum(labels):.3f}")
    print("TP:", true_positives)
    print("FP:", false_positives)
    print("FN:", false_negatives)


def main():
    from sklearn.metrics import average_precision_score

    if scores_file:
        scores, labels = read_scores(scores_file)
    else:
        scores, labels = generated_scores(count, separability, positive_fraction, seed)
    precision, recall = precision_recall(scores, labels)
    print_operating_point(scores, labels, threshold)
    print_every_ap(recall, precision)
    print("sklearn:", round(average_precision_score(labels, scores), 6))


if __name__ == "__main__":
    override(globals())
    main()
