"""The Detect tool against its oracles: TensorFlow's NMS, the dense model for the FCN, lab.detection's
IoU, pycocotools for the COCO numbers, and the canvases' own boxes for the grid encoding."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lab import detect, detection, runlog
from lab.errors import InputError
from recipes import canvases as canvas_recipe
from recipes import detect as recipe


def test_the_same_seed_gives_the_same_canvases_and_test_digits_are_unseen():
    first = recipe.canvases(5, 3)
    again = recipe.canvases(5, 3)
    assert np.array_equal(first[0], again[0])
    assert all(np.array_equal(a, b) for a, b in zip(first[1], again[1], strict=True))
    other = recipe.canvases(5, 4)
    assert not np.array_equal(first[0], other[0])
    train, _ = canvas_recipe.digit_sprites("train")
    test, _ = canvas_recipe.digit_sprites("test")
    assert len(train) + len(test) == 1797
    seen = {sprite.tobytes() for sprite in train}
    assert sum(sprite.tobytes() in seen for sprite in test) <= 5  # scikit-learn's digits hold a few twins


def test_each_box_hugs_its_digits_ink_and_boxes_never_overlap():
    pictures, boxes, labels = recipe.canvases(40, 0, noise=0.0)
    for picture, canvas_boxes, canvas_labels in zip(pictures, boxes, labels, strict=True):
        assert 1 <= len(canvas_boxes) <= 4 and len(canvas_labels) == len(canvas_boxes)
        assert canvas_boxes.min() >= 0 and canvas_boxes.max() <= 64
        ink = np.zeros(picture.shape[:2], bool)
        for x0, y0, x1, y1 in canvas_boxes.astype(int):
            inside = picture[y0:y1, x0:x1, 0]
            assert inside.max() >= canvas_recipe.INK  # ink reaches each edge row and column
            assert inside[0].max() >= canvas_recipe.INK and inside[-1].max() >= canvas_recipe.INK
            assert inside[:, 0].max() >= canvas_recipe.INK and inside[:, -1].max() >= canvas_recipe.INK
            ink[y0:y1, x0:x1] = True
        assert picture[~ink, 0].max() < canvas_recipe.INK  # no ink outside the boxes without clutter
        for a in range(len(canvas_boxes)):
            for b in range(a + 1, len(canvas_boxes)):
                assert detection.iou(canvas_boxes[a], canvas_boxes[b]) == 0.0


def test_paired_iou_equals_lab_detection_iou(rng):
    a = np.sort(rng.uniform(0, 64, (50, 2, 2)), axis=1).transpose(0, 2, 1).reshape(50, 4)[:, [0, 2, 1, 3]]
    b = np.sort(rng.uniform(0, 64, (50, 2, 2)), axis=1).transpose(0, 2, 1).reshape(50, 4)[:, [0, 2, 1, 3]]
    expected = [detection.iou(x, y) for x, y in zip(a, b, strict=True)]
    assert np.allclose(recipe.paired_iou(a, b), expected, atol=1e-12)
    assert recipe.paired_iou(a, a) == pytest.approx(np.ones(50))


def test_centre_and_corner_boxes_are_inverses(rng):
    _, boxes, _ = recipe.canvases(10, 1)
    corners = np.concatenate(boxes)
    assert np.allclose(recipe.corner_boxes(recipe.centre_boxes(corners, 64), 64), corners, atol=1e-4)


def test_grid_targets_decode_back_to_the_true_boxes():
    _, boxes, labels = recipe.canvases(30, 2)
    objectness, box, kind = canvas_recipe.grid_targets(boxes, labels, 64, 8)
    for n in range(30):
        probabilities = np.eye(10, dtype=np.float32)[kind[n, ..., 1].astype(int)]
        decoded, scores, classes = canvas_recipe.decode_grid(objectness[n], box[n, ..., 1:], probabilities, 64)
        found = scores > 0.5
        order = np.lexsort((decoded[found][:, 1], decoded[found][:, 0]))
        truth_order = np.lexsort((boxes[n][:, 1], boxes[n][:, 0]))
        assert found.sum() == len(boxes[n])  # every digit has its own cell (non-overlapping digits)
        assert np.allclose(decoded[found][order], boxes[n][truth_order], atol=1e-4)
        assert np.array_equal(classes[found][order], labels[n][truth_order])


@pytest.mark.parametrize("seed", range(6))
def test_nms_equals_tensorflow(seed):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 60))
    corners = rng.uniform(0, 64, (count, 2, 2))
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)  # x0, y0, x1, y1
    scores = rng.random(count)
    for iou_threshold in (0.0, 0.3, 0.5, 0.9):
        for score_threshold in (0.0, 0.4):
            ours = recipe.nms(boxes, scores, iou_threshold, score_threshold, max_output=100)
            theirs = tf.image.non_max_suppression(
                boxes[:, [1, 0, 3, 2]].astype(np.float32),
                scores.astype(np.float32),
                100,
                iou_threshold,
                score_threshold,
            ).numpy()
            assert ours == theirs.tolist(), (iou_threshold, score_threshold)


def test_nms_steps_account_for_every_box_once():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [21, 20, 31, 30], [0, 0, 10, 10]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.95, 0.05])
    steps = detect.nms_walk(boxes, scores, 0.5, 0.1)
    assert steps == [(3, [2]), (0, [1])]  # the best first; box 4 is under the score threshold
    assert detect.nms_walk(boxes, scores, 0.5, 0.99) == []  # nothing scores enough: no step, no error
    with pytest.raises(InputError, match="IoU threshold"):
        detect.nms_walk(boxes, scores, 1.5, 0.1)


def test_the_fcn_equals_the_classifier_on_every_window():
    import keras

    keras.utils.set_random_seed(0)
    model = recipe.crop_classifier()
    fcn = recipe.to_fcn(model)
    canvas = np.random.default_rng(0).random((40, 56, 1)).astype(np.float32)  # not square, not the crop size
    scores, difference, _, _ = recipe.fcn_check(model, fcn, canvas)
    assert scores.shape == ((40 - 24) // 4 + 1, (56 - 24) // 4 + 1, 11)
    assert difference <= 1e-5
    assert [layer.__class__.__name__ for layer in fcn.layers[1:]] == ["Conv2D", "MaxPooling2D"] * 2 + ["Conv2D"] * 2
    pairs = detect._pairs(model, fcn)
    assert pairs[-2] == ("Dense(128)", "Conv2D(128, (4, 4), valid)")  # the kernel spans the 4x4 feature map
    assert pairs[-1] == ("Dense(11)", "Conv2D(11, (1, 1), valid)")


def test_crops_hold_a_whole_digit_or_miss_most_of_one():
    pictures, classes = recipe.crops(200, 0, 0.0, 0)
    assert pictures.shape == (200, 24, 24, 1)
    digits = classes != recipe.BACKGROUND
    assert 0.35 < digits.mean() < 0.65
    assert set(classes[digits]) <= set(range(10))


@pytest.mark.parametrize(
    "values, message",
    [
        ({"grid_size": 7}, "does not divide into a 7x7 grid"),
        ({"grid_size": 64}, "grid size"),
        ({"canvas_size": 48}, "48-pixel canvas does not divide into a 8x8"),
        ({"min_objects": 3, "max_objects": 2}, "largest number of digits"),
        ({"max_digit": 40}, "largest digit size"),
        ({"train_canvases": 10**6}, "number of training canvases"),
        ({"noise": float("nan")}, "noise"),
        ({"task": "segment"}, "Unknown task"),
    ],
)
def test_bad_settings_are_messages_that_name_the_value(values, message):
    with pytest.raises(InputError, match=message):
        detect.DetectConfig(**values)


def test_every_task_has_settings_that_check():
    for task in detect.TASKS:
        assert detect.for_task(task).task == task
    assert detect.for_task("localize", canvas_size=48, grid_size=7).canvas_size == 48  # no grid there: not checked


def tiny(task: str, **values) -> detect.DetectConfig:
    return detect.for_task(task, train_canvases=120, test_canvases=12, epochs=1, **values)


@pytest.mark.parametrize("task", detect.TASKS)
def test_a_tiny_run_of_each_task_saves_what_the_page_reads(task, tmp_path):
    rows = []
    result = detect.run(tiny(task), tmp_path, runlog.RunLog(rows.extend))
    assert result["epochs"] == 1 and result["parameters"] > 0
    assert (tmp_path / runlog.MODEL_FILE).exists()
    names = {name for _, _, name, _ in rows}
    if task == "localize":
        assert {"box_loss", "class_loss", "val_box_loss"} <= names
        assert 0 <= result["mean_iou"] <= 1 and 0 <= result["random_box_iou"] < 0.3
    elif task == "crops":
        assert result["fcn_max_difference"] <= 1e-5 and result["fcn_speedup"] > 1
    else:
        assert {"objectness_loss", "box_loss", "class_loss"} <= names
        assert set(result) >= {"AP", "AP50", "VOC AP50"}
        assert (tmp_path / detect.RESULTS_FILE).exists() and (tmp_path / detect.OUTPUTS_FILE).exists()


def test_the_coco_numbers_equal_pycocotools(tmp_path):
    pytest.importorskip("pycocotools")
    from recipes import matching

    _, boxes, labels = recipe.canvases(40, 5, split="test")
    rng = np.random.default_rng(0)
    found = []
    for canvas_boxes, canvas_labels in zip(boxes, labels, strict=True):  # a detector that is nearly right
        jitter = rng.normal(0, 1.5, canvas_boxes.shape)
        wrong = np.where(rng.random(len(canvas_labels)) < 0.1, (canvas_labels + 1) % 10, canvas_labels)
        found.append((np.clip(canvas_boxes + jitter, 0, 64), rng.random(len(canvas_labels)), wrong))
    instances, results = recipe.coco_json(boxes, labels, found, [str(k) for k in range(10)])
    (tmp_path / detect.INSTANCES_FILE).write_text(json.dumps(instances))
    (tmp_path / detect.RESULTS_FILE).write_text(json.dumps(results))
    ours = detect.scores(tmp_path)
    theirs = matching.coco_summary(json.loads(json.dumps(instances)), results)
    assert [ours[name] for name in detect.coco.SUMMARY_NAMES] == pytest.approx(theirs, abs=1e-12)
    assert 0 < ours["VOC AP50"] <= 1
