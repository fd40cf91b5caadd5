"""lab.pr average precision versus scikit-learn's average_precision_score on 10^6 scores.

Run from the repository root: ``python -m benchmarks.bench_pr`` (or ``make bench``).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from benchmarks.timing import interleaved, report
from lab import pr


def main() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(1_000_000) < 0.3).astype(np.int8)
    scores = rng.normal(size=labels.size) + 1.5 * labels
    times = interleaved(
        {
            "raw": lambda: pr.precision_recall(scores, labels).average_precision("raw"),
            "all": lambda: pr.precision_recall(scores, labels).average_precision("all"),
            "sklearn": lambda: average_precision_score(labels, scores),
        },
        repeat=5,
    )
    ours_raw = pr.precision_recall(scores, labels).average_precision("raw")
    assert abs(ours_raw - average_precision_score(labels, scores)) < 1e-12
    report("AP 'raw', 10^6 scores", times["raw"], times["sklearn"], 1.0, "average_precision_score")
    report("AP 'all', 10^6 scores", times["all"], times["sklearn"], 1.0, "average_precision_score")
    recall, _ = pr.downsample(pr.precision_recall(scores, labels))
    print(f"plotted points: {recall.size} (curve has {pr.precision_recall(scores, labels).recall.size})")


if __name__ == "__main__":
    main()
