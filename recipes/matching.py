"""Detection matching: IoU, Pascal VOC's per-class AP and mAP, and COCO's summary by pycocotools.

``python -m recipes.matching`` scores two COCO JSON files (``instances_file``: images, categories,
annotations; ``results_file``: one ``{image_id, category_id, bbox, score}`` per detection). Where they
are missing it first writes the PR page's built-in example there (4 images, 2 classes, hits, misses
and a duplicate), so that it runs as it is.
"""

import json
from pathlib import Path

import numpy as np

from recipes import override
from recipes.ap import every_ap, ranked_curve

# -----------------------------------------------------------------------------
# settings: lab.pr.DetectionConfig's fields, with its defaults ("Show the code" writes the page's here)
instances_file = "instances.json"  # COCO ground truth: images, categories, annotations
results_file = "results.json"  # COCO results: a list of {image_id, category_id, bbox, score}
iou_threshold = 0.5  # a detection matches a ground-truth box at this IoU or more
method = "all"  # the AP definition per class: 11point, all, coco101 or raw
plus_one = False  # Pascal VOC's pixel convention: a box from 0 to 9 is 10 pixels wide
# -----------------------------------------------------------------------------

# The built-in example, one row per box: (image, class, x_min, y_min, x_max, y_max[, score]). In img4
# VOC and COCO disagree: two overlapping cats, and a second detection whose best ground truth is taken
# by the first but which clears IoU 0.5 with the other.
EXAMPLE_TRUTHS = [
    ("img1", "cat", 10, 10, 60, 60), ("img1", "dog", 70, 20, 120, 90),
    ("img2", "cat", 30, 30, 90, 80), ("img2", "cat", 100, 40, 140, 100),
    ("img3", "dog", 20, 15, 80, 70), ("img3", "cat", 90, 90, 130, 130),
    ("img4", "cat", 20, 20, 70, 70), ("img4", "cat", 40, 20, 90, 70),
]  # fmt: skip
EXAMPLE_DETECTIONS = [
    ("img1", "cat", 12, 8, 58, 62, 0.95), ("img1", "cat", 14, 12, 62, 58, 0.80),
    ("img1", "dog", 75, 25, 118, 85, 0.70), ("img2", "cat", 28, 35, 85, 82, 0.90),
    ("img2", "cat", 60, 0, 100, 30, 0.40), ("img2", "dog", 100, 40, 140, 100, 0.60),
    ("img3", "dog", 25, 20, 70, 75, 0.85), ("img3", "cat", 95, 85, 135, 128, 0.55),
    ("img3", "cat", 5, 5, 25, 25, 0.30),
    ("img4", "cat", 20, 20, 70, 70, 0.90), ("img4", "cat", 25, 20, 75, 70, 0.80),
]  # fmt: skip


def iou(box, others, one=0.0):
    """IoU of one (x_min, y_min, x_max, y_max) box with each row of ``others`` (N, 4).

    ``one`` = 1 for VOC's "+1 pixel" areas.
    """
    width = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]) + one
    height = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]) + one
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area = (box[2] - box[0] + one) * (box[3] - box[1] + one)
    areas = (others[:, 2] - others[:, 0] + one) * (others[:, 3] - others[:, 1] + one)
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def voc_hits(truth_boxes, images, boxes, threshold, one=0.0):
    """Pascal VOC's greedy matching of one class's detections, best score first.

    Each detection takes the ground-truth box of its image with the best IoU; it is a false positive
    if that IoU is below ``threshold`` or that box is already taken. ``truth_boxes``: {image: (N, 4)}.
    Returns 1 (true positive) or 0 per detection.
    """
    taken = {image: np.zeros(len(found), bool) for image, found in truth_boxes.items()}
    hits = np.zeros(len(boxes), dtype=np.int64)
    for row, (image, box) in enumerate(zip(images, boxes, strict=True)):
        candidates = truth_boxes.get(image)
        if candidates is None or not len(candidates):
            continue
        overlaps = iou(box, candidates, one)
        best = int(np.argmax(overlaps))
        if overlaps[best] >= threshold and not taken[image][best]:
            taken[image][best] = True
            hits[row] = 1
    return hits


def corners(record):
    """COCO's (x, y, width, height) -> (x_min, y_min, x_max, y_max)."""
    x, y, width, height = record["bbox"]
    return [x, y, x + width, y + height]


def category_names(instances):
    """{category id: name} of the ground truth's categories."""
    return {category["id"]: str(category.get("name", category["id"])) for category in instances["categories"]}


def known_results(instances, results):
    """The results in the ground truth's categories: the only ones COCO evaluates."""
    names = category_names(instances)
    return [result for result in results if result["category_id"] in names]


def coco_tables(instances, results):
    """COCO JSON as box tuples: (image, class, x_min, y_min, x_max, y_max[, score])."""
    names = category_names(instances)
    results = known_results(instances, results)
    truths = [(a["image_id"], names[a["category_id"]], *corners(a)) for a in instances["annotations"]]
    detections = [(r["image_id"], names[r["category_id"]], *corners(r), r["score"]) for r in results]
    return truths, detections


def voc_class_ap(truths, detections, label, threshold, method, one=0.0):
    """One class's AP by VOC matching, and its number of ground-truth boxes."""
    mine = sorted((d for d in detections if d[1] == label), key=lambda d: -d[6])  # stable, as the page sorts
    truth_boxes = {}
    for truth in truths:
        if truth[1] == label:
            truth_boxes.setdefault(truth[0], []).append(truth[2:6])
    truth_boxes = {image: np.array(found, float) for image, found in truth_boxes.items()}
    positives = sum(len(found) for found in truth_boxes.values())
    boxes = np.array([d[2:6] for d in mine], float).reshape(-1, 4)
    hits = voc_hits(truth_boxes, [d[0] for d in mine], boxes, threshold, one)
    precision, recall, *_ = ranked_curve(hits, [d[6] for d in mine], positives)
    return (every_ap(recall, precision)[method] if len(recall) and positives else 0.0), positives


def print_voc(truths, detections, threshold, method, plus_one):
    """Per-class AP and their mean over the classes with ground truth."""
    classes = sorted({t[1] for t in truths} | {d[1] for d in detections})
    counted = []
    for label in classes:
        average, positives = voc_class_ap(truths, detections, label, threshold, method, 1.0 if plus_one else 0.0)
        print(f"AP {label}:", round(average, 4))
        if positives:
            counted.append(average)
    print("VOC mAP:", round(float(np.mean(counted)) if counted else 0.0, 4))


def coco_summary(instances, results):
    """pycocotools' 12-number summary (AP, AP50, AP75, APs, APm, APl, then the ARs)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    results = known_results(instances, results)
    if not results:  # pycocotools' loadRes cannot take an empty list: nothing detected, AP and AR are 0
        return [0.0] * 12
    for number, annotation in enumerate(instances["annotations"], start=1):  # what COCO assumes when absent
        annotation.setdefault("id", number)
        annotation.setdefault("iscrowd", 0)
        annotation.setdefault("area", annotation["bbox"][2] * annotation["bbox"][3])
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = instances
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(value) for value in evaluation.stats]


def read_coco(instances_path, results_path):
    """Two COCO JSON files: the ground truth and the results (a list, or inside an object)."""
    instances = json.loads(Path(instances_path).read_text())
    results = json.loads(Path(results_path).read_text())
    return instances, results["annotations"] if isinstance(results, dict) else results


def example_coco(truths=EXAMPLE_TRUTHS, detections=EXAMPLE_DETECTIONS):
    """Box tuples as COCO JSON (instances, results), image and category ids numbered from 1."""
    image_ids = {name: index for index, name in enumerate(sorted({row[0] for row in truths + detections}), 1)}
    category_ids = {name: index for index, name in enumerate(sorted({row[1] for row in truths + detections}), 1)}

    def record(row):
        x_min, y_min, x_max, y_max = row[2:6]
        box = [x_min, y_min, x_max - x_min, y_max - y_min]
        return {"image_id": image_ids[row[0]], "category_id": category_ids[row[1]], "bbox": box}

    instances = {
        "images": [{"id": number, "file_name": name} for name, number in image_ids.items()],
        "categories": [{"id": number, "name": name} for name, number in category_ids.items()],
        "annotations": [dict(record(row), id=index) for index, row in enumerate(truths, 1)],
    }
    return instances, [dict(record(row), score=row[6]) for row in detections]


def report(instances, results, iou_threshold, method, plus_one):
    """The numbers the PR page shows: box counts, VOC's per-class AP and mAP, COCO's AP and AP50."""
    truths, detections = coco_tables(instances, results)
    print("ground truth boxes:", len(truths))
    print("detections:", len(detections))
    print_voc(truths, detections, iou_threshold, method, plus_one)
    stats = coco_summary(instances, results)
    print("COCO mAP@[.5:.95]:", round(stats[0], 4))
    print("COCO AP50:", round(stats[1], 4))


def main():
    if not (Path(instances_file).exists() and Path(results_file).exists()):
        print(f"writing the built-in example to {instances_file} and {results_file}")
        instances, results = example_coco()
        Path(instances_file).write_text(json.dumps(instances))
        Path(results_file).write_text(json.dumps(results))
    instances, results = read_coco(instances_file, results_file)
    report(instances, results, iou_threshold, method, plus_one)


if __name__ == "__main__":
    override(globals())
    main()
