"""lab.segment and recipes.segment: the masks are each digit's ink, the scores are Keras' MeanIoU and
scikit-learn's Jaccard, the skips are where they say, the first upsampling is redone by hand, and bad
settings are messages that name them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lab import segment
from lab.errors import InputError
from recipes import canvases as canvas_recipe
from recipes import segment as recipe

TINY = {"train_canvases": 120, "test_canvases": 12, "epochs": 1}


def test_a_mask_is_each_digits_ink_and_the_canvases_are_the_detect_pages():
    shape = (48, 1, 4, 12, 20, 0.05, 3)
    pictures, masks, boxes, labels = canvas_recipe.masked_canvases(40, 7, *shape)
    same = canvas_recipe.canvases(40, 7, *shape)
    np.testing.assert_array_equal(pictures, same[0])  # the same seed, the same canvases
    for mask, canvas_boxes, canvas_labels in zip(masks, boxes, labels, strict=True):
        found = []
        for x0, y0, x1, y1 in canvas_boxes.astype(int):  # each box hugs its digit's ink: the mask's pixels
            window = mask[y0:y1, x0:x1]
            kinds = set(np.unique(window)) - {0}
            assert len(kinds) == 1
            rows, cols = np.nonzero(window)
            assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == (0, 0, y1 - y0, x1 - x0)
            found.append(kinds.pop() - 1)
        assert sorted(found) == sorted(canvas_labels.tolist())
        assert (mask > 0).sum() == sum(
            int((mask[y0:y1, x0:x1] > 0).sum()) for x0, y0, x1, y1 in canvas_boxes.astype(int)
        )
    assert set(np.unique(recipe.targets(masks, "foreground"))) == {0, 1}


def test_ious_are_keras_mean_iou_and_scikit_learns_jaccard(rng):
    import keras
    from sklearn.metrics import confusion_matrix, jaccard_score

    truth = rng.integers(0, 11, size=(6, 16, 16))
    predicted = np.where(rng.random(truth.shape) < 0.7, truth, rng.integers(0, 11, size=truth.shape))
    predicted[predicted == 4] = 5  # a class never predicted, and
    truth[truth == 7], predicted[predicted == 7] = 8, 8  # one that neither has: no IoU, not a zero
    counts = recipe.confusion(truth, predicted, 11)
    np.testing.assert_array_equal(counts, confusion_matrix(truth.ravel(), predicted.ravel(), labels=range(11)))
    ious = recipe.class_ious(counts)
    assert np.isnan(ious[7]) and ious[4] == 0.0
    present = [k for k in range(11) if k != 7]
    np.testing.assert_allclose(
        ious[present], jaccard_score(truth.ravel(), predicted.ravel(), labels=present, average=None)
    )
    metric = keras.metrics.MeanIoU(11)
    metric.update_state(truth.ravel(), predicted.ravel())
    assert float(np.nanmean(ious)) == pytest.approx(float(metric.result()), abs=1e-6)
    binary = recipe.foreground_iou(truth, predicted)
    assert binary == pytest.approx(jaccard_score(truth.ravel() > 0, predicted.ravel() > 0))


def test_the_skips_are_concatenations_of_the_encoders_maps_and_the_decoder_transposes():
    with_skips = recipe.segmenter(48, 11, 3, 4, True)
    without = recipe.segmenter(48, 11, 3, 4, False)
    kinds = [type(layer).__name__ for layer in with_skips.layers]
    assert kinds.count("Concatenate") == 3 and kinds.count("Conv2DTranspose") == 3
    assert "Concatenate" not in [type(layer).__name__ for layer in without.layers]
    assert with_skips.output_shape == without.output_shape == (None, 48, 48, 11)
    for layer in with_skips.layers:
        if type(layer).__name__ == "Concatenate":
            shapes = [tuple(tensor.shape[1:3]) for tensor in layer.input]
            assert shapes[0] == shapes[1]  # each skip joins the map of its own size


def test_a_tiny_run_scores_its_test_canvases_and_its_upsampling_is_redone_by_hand(tmp_path):
    from lab import runlog

    config = segment.SegmentConfig(**TINY)
    rows = []
    result = segment.run(config, tmp_path, runlog.RunLog(rows.extend))
    assert result["epochs"] == 1 and result["parameters"] > 0
    assert set(result["class_iou"]) == set(config.names) and 0.0 <= result["miou"] <= 1.0
    assert {"mean_iou", "val_mean_iou", "loss"} <= {name for _, _, name, _ in rows}  # the live curves
    json.dumps(result, allow_nan=False)  # a class no pixel has is None, not NaN
    predicted = np.load(tmp_path / segment.MASKS_FILE)["predicted"]
    view = segment.masks_view(config, predicted)
    assert view.canvas_ious[view.order[0]] == view.canvas_ious.min()
    assert view.confusion.sum() == 12 * 48 * 48
    from lab.device import keras

    model = keras.saving.load_model(tmp_path / runlog.MODEL_FILE, safe_mode=True, compile=False)
    upsampling = segment.upsampling_view(model, view.pictures[0])
    assert upsampling.difference <= 1e-5
    assert upsampling.input_shape[:2] == (6, 6) and upsampling.output_shape[:2] == (12, 12)
    assert (upsampling.kernel_size, upsampling.stride) == (2, 2)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"canvas_size": 56, "depth": 4}, r"cannot be halved 4 times .* a depth of 1, 2, 3"),
        ({"classes": "instances"}, "Unknown classes 'instances'"),
        ({"skips": "yes"}, "on or off"),
        ({"foreground_weight": float("nan")}, "foreground weight"),
        ({"train_canvases": 10**6}, "number of training canvases"),
        ({"max_digit": 40}, "largest digit size"),
    ],
)
def test_bad_settings_are_messages_naming_them(values, message):
    with pytest.raises(InputError, match=message):
        segment.SegmentConfig(**values)


def test_the_page_reads_only_a_finished_segment_run(tmp_path, monkeypatch):
    from lab import jobs

    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))
    queued = jobs.create("segment", segment.SegmentConfig(**TINY).to_dict())
    with pytest.raises(InputError, match="has not succeeded"):
        segment.predicted_masks(queued)
    other = jobs.create("detect", {}, status="succeeded")
    with pytest.raises(InputError, match="is a detect run, not a segment run"):
        segment.load_model(other)
    with pytest.raises(InputError, match="No run"):
        segment.predicted_masks("../../etc/passwd")
