"""lab.coco against pycocotools' COCOeval (bbox), to 1e-9 on every summary number and array entry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lab import annotations, coco
from lab.errors import InputError
from tests.cocogen import pycocotools_eval, scenario

SCENARIOS = {
    "crowded same-class boxes, score ties": {"images": 12, "classes": 3},
    "integer boxes, recalls on the levels": {"images": 20, "classes": 4, "integer": True},
    "ten truths and ten detections per image": {
        "images": 5,
        "classes": 1,
        "truths": (10, 10),
        "detections": (10, 10),
        "integer": True,
    },
    "crowds": {"images": 8, "classes": 2, "crowd": 0.4},
    "sparse: images without truth, classes without detections": {
        "images": 30,
        "classes": 6,
        "truths": (0, 3),
        "detections": (0, 4),
    },
    "over 100 detections per image": {"images": 3, "classes": 2, "truths": (40, 60), "detections": (150, 220)},
    "distinct scores": {"images": 10, "classes": 3, "ties": False},
}


def ours(instances: dict, results: list[dict]) -> coco.CocoResult:
    data = annotations.coco_data(instances["images"], instances["categories"], instances["annotations"], results)
    return coco.evaluate(data)


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("seed", range(4))
def test_every_number_equals_pycocotools(name, seed):
    instances, results = scenario(seed, **SCENARIOS[name])
    if not results:
        pytest.skip("pycocotools' loadRes cannot take an empty result list")
    stats, precision, recall = pycocotools_eval(instances, results)
    result = ours(instances, results)
    np.testing.assert_allclose(list(result.summary().values()), stats, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.precision, precision, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.recall, recall, rtol=0, atol=1e-9)


def test_the_minimal_overlap_case_from_the_issue():
    """Two overlapping truths; the second detection's best truth is taken, the other clears 0.5."""
    instances = {
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [4, 0, 10, 10], "area": 100, "iscrowd": 0},
        ],
    }
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [1, 0, 10, 10], "score": 0.8},
    ]
    summary = ours(instances, results).summary()
    assert summary["AP50"] == pytest.approx(1.0, abs=1e-12)
    assert summary["AP"] == pytest.approx(0.554455, abs=1e-6)
    assert np.allclose(list(summary.values()), pycocotools_eval(instances, results)[0], atol=1e-12)


def test_per_class_and_per_iou_ap_follow_from_the_precision_array():
    instances, results = scenario(3, images=12, classes=3)
    result = ours(instances, results)
    per_class = result.per_class_ap()
    assert per_class["class3"] == 0.0  # ground truth, never detected
    valid = [v for v in per_class.values() if v > -1]
    assert np.mean(valid) == pytest.approx(result.summary()["AP"])
    per_iou = result.per_iou_ap()
    assert list(per_iou) == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert per_iou[0.5] == pytest.approx(result.summary()["AP50"])


def test_crowd_iou_is_over_the_detection_area():
    detections = np.array([[0.0, 0.0, 10.0, 10.0]])
    truths = np.array([[0.0, 0.0, 100.0, 100.0]])
    assert coco.box_iou(detections, truths, np.array([True]))[0, 0] == 1.0
    assert coco.box_iou(detections, truths, np.array([False]))[0, 0] == pytest.approx(0.01)


def test_a_detection_on_an_unknown_image_is_refused_and_unknown_classes_are_left_out():
    instances, results = scenario(0, images=2, classes=2)
    with pytest.raises(InputError, match="does not list"):
        ours(instances, [*results, {"image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}])
    extra = [*results, {"image_id": 1, "category_id": 42, "bbox": [0, 0, 1, 1], "score": 0.5}]
    assert ours(instances, extra).summary() == ours(instances, results).summary()


def test_bad_thresholds_are_refused():
    instances, results = scenario(0, images=2, classes=2)
    data = annotations.coco_data(instances["images"], instances["categories"], instances["annotations"], results)
    with pytest.raises(InputError, match="IoU thresholds"):
        coco.evaluate(data, thresholds=[0.0, 0.5])


def test_no_detections_give_pycocotools_zeros_not_a_crash():
    """The issue's repro: one image, one category, one box, and ``[]`` as results (zip(strict) raised)."""
    gt = json.dumps(
        {
            "images": [{"id": 1}],
            "categories": [{"id": 1, "name": "cat"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}],
        }
    ).encode()
    summary = coco.evaluate(annotations.read_coco_json(gt, b"[]")).summary()
    assert summary["AP"] == summary["AR@100"] == summary["AP small"] == 0.0
    assert summary["AP medium"] == summary["AP large"] == -1.0
