"""Generated COCO scenarios and pycocotools as the oracle (a dev-only dependency)."""

from __future__ import annotations

import contextlib
import io

import numpy as np


def scenario(
    seed: int,
    images: int = 12,
    classes: int = 3,
    truths: tuple[int, int] = (0, 8),
    detections: tuple[int, int] = (0, 15),
    crowd: float = 0.05,
    ties: bool = True,
    integer: bool = False,
) -> tuple[dict, list[dict]]:
    """(instances, results) in COCO's JSON form: overlapping same-class boxes, sizes across the small,
    medium and large ranges, crowds, score ties, images without ground truth, a class with no detection."""
    rng = np.random.default_rng(seed)
    instances = {
        "images": [{"id": i + 1, "width": 640, "height": 480} for i in range(images)],
        "categories": [{"id": k + 1, "name": f"class{k + 1}"} for k in range(classes)],
        "annotations": [],
    }
    results = []
    for image in range(1, images + 1):
        count = rng.integers(truths[0], truths[1] + 1) if rng.random() > 0.15 else 0  # some images have none
        boxes = []
        for _ in range(count):
            side = rng.choice([8, 20, 45, 80, 150, 260]) * rng.uniform(0.7, 1.3)
            w, h = side * rng.uniform(0.6, 1.4), side * rng.uniform(0.6, 1.4)
            if boxes and rng.random() < 0.5:  # crowd the scene: overlap an earlier box of the same class
                x0, y0, _, _, k = boxes[rng.integers(len(boxes))]
                x, y = x0 + rng.uniform(-0.4, 0.4) * w, y0 + rng.uniform(-0.4, 0.4) * h
            else:
                x, y, k = rng.uniform(0, 500), rng.uniform(0, 380), int(rng.integers(1, classes + 1))
            if integer:
                x, y, w, h = (float(round(v)) for v in (x, y, w, h))
            boxes.append((x, y, w, h, k))
            is_crowd = int(rng.random() < crowd)
            area = w * h * (rng.uniform(0.5, 1.0) if is_crowd else 1.0)  # a crowd's mask covers part of its box
            record = {"id": len(instances["annotations"]) + 1, "image_id": image, "category_id": k}
            instances["annotations"].append({**record, "bbox": [x, y, w, h], "area": area, "iscrowd": is_crowd})
        for _ in range(rng.integers(detections[0], detections[1] + 1)):
            if boxes and rng.random() < 0.7:
                x, y, w, h, k = boxes[rng.integers(len(boxes))]
                jitter = rng.normal(0, 0.12, 4) * [w, h, w, h]
                x, y, w, h = x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]), max(1.0, h + jitter[3])
            else:
                x, y, w, h = rng.uniform(0, 500), rng.uniform(0, 380), rng.uniform(5, 200), rng.uniform(5, 200)
                k = int(rng.integers(1, classes + 1))
            k = min(k, classes - 1) if classes > 1 else k  # the last class never gets a detection
            score = round(rng.random(), 1) if ties else rng.random()
            if integer:
                x, y, w, h = (float(round(v)) for v in (x, y, w, h))
            results.append({"image_id": image, "category_id": int(k), "bbox": [x, y, w, h], "score": score})
    return instances, results


def pycocotools_eval(instances: dict, results: list[dict]):
    """COCOeval (bbox) on the scenario: (stats, precision, recall)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {**instances, "annotations": [dict(a) for a in instances["annotations"]]}
        gt.createIndex()
        dt = gt.loadRes([dict(r, bbox=list(r["bbox"])) for r in results])
        evaluator = COCOeval(gt, dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats, evaluator.eval["precision"], evaluator.eval["recall"]
