"""lab.pr and lab.coco against their oracles, timed in the same run.

1. AP of 10^6 scores versus scikit-learn's ``average_precision_score``.
2. COCO bbox evaluation (the 12-number summary) of 5,000 images, 80 classes, ~40 detections per
   image versus pycocotools' ``COCOeval`` (and faster-coco-eval's, where it is installed); the
   summaries must agree to 1e-12. Goal: at most 0.5 of pycocotools' time.

Run from the repository root: ``python -m benchmarks.bench_pr`` (or ``make bench``).
``python -m benchmarks.bench_pr --images 500`` runs a smaller COCO scenario.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np
from sklearn.metrics import average_precision_score

from benchmarks.timing import interleaved, report
from lab import annotations, coco, pr
from tests.cocogen import scenario


def scores_benchmark() -> None:
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


def _cocoeval(module_coco, module_eval, instances, results) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        truth = module_coco()
        truth.dataset = instances
        truth.createIndex()
        evaluator = module_eval(truth, truth.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats)


def coco_benchmark(images: int) -> None:
    instances, results = scenario(0, images=images, classes=80, truths=(2, 12), detections=(30, 50), crowd=0.01)
    print(
        f"COCO scenario: {images:,} images, 80 classes, {len(instances['annotations']):,} ground truths, "
        f"{len(results):,} detections ({len(results) / images:.0f} per image)"
    )

    def ours():
        data = annotations.coco_data(instances["images"], instances["categories"], instances["annotations"], results)
        return np.array(list(coco.evaluate(data).summary().values()))

    start = time.perf_counter()
    our_stats = ours()
    our_time = time.perf_counter() - start
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    start = time.perf_counter()
    reference = _cocoeval(COCO, COCOeval, instances, results)
    reference_time = time.perf_counter() - start
    difference = np.abs(our_stats - reference).max()
    assert difference < 1e-12, difference
    report(f"COCO summary, {images:,} images", our_time, reference_time, 0.5, "pycocotools")
    print(f"largest difference from pycocotools over the 12 numbers: {difference:.1e}")
    try:
        from faster_coco_eval import COCO as FastCOCO
        from faster_coco_eval import COCOeval_faster
    except ImportError:
        print("faster-coco-eval: not installed")
        return
    start = time.perf_counter()
    fast = _cocoeval(FastCOCO, COCOeval_faster, instances, results)
    print(
        f"faster-coco-eval: {(time.perf_counter() - start) * 1e3:.0f} ms, largest difference from "
        f"pycocotools {np.abs(fast - reference).max():.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=5000)
    args = parser.parse_args()
    scores_benchmark()
    coco_benchmark(args.images)


if __name__ == "__main__":
    main()
