"""lab.pr against scikit-learn, HOML and the Object-Detection-Metrics worked example."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from lab import detection, pr, tables
from lab.errors import InputError
from tests.conftest import ROOT

# Object-Detection-Metrics README example (rafaelpadilla): 7 images, class "person",
# boxes as x y width height; detections carry a confidence first.
ODM_GT = """1 25 16 38 56|1 129 123 41 62|2 123 11 43 55|2 38 132 59 45|3 16 14 35 48|3 123 30 49 44|3 99 139 47 47|
4 53 42 40 52|4 154 43 31 34|5 59 31 44 51|5 48 128 34 52|6 36 89 52 76|6 62 58 44 67|7 28 31 55 63|7 58 67 50 58"""
ODM_DET = """1 .88 5 67 31 48|1 .70 119 111 40 67|1 .80 124 9 49 67|2 .71 64 111 64 58|2 .54 26 140 60 47|2 .74 19 18 43 35|
3 .18 109 15 77 39|3 .67 86 63 46 45|3 .38 160 62 36 53|3 .91 105 131 47 47|3 .44 18 148 40 44|4 .35 83 28 28 26|
4 .78 28 68 42 67|4 .45 87 89 25 39|4 .14 10 155 60 26|5 .62 50 38 28 46|5 .44 95 11 53 28|5 .95 29 131 72 29|
5 .23 29 163 72 29|6 .45 43 48 74 38|6 .84 17 155 29 35|6 .43 95 110 25 42|7 .48 16 20 101 88|7 .95 33 116 37 49"""


def odm_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    def rows(text: str, with_score: bool):
        for item in text.replace("\n", "").split("|"):
            parts = item.split()
            image, rest = parts[0], [float(value) for value in parts[1:]]
            score = rest.pop(0) if with_score else None
            x, y, w, h = rest
            yield (image, "person", x, y, x + w, y + h, *([score] if with_score else []))

    gt = pd.DataFrame(list(rows(ODM_GT, False)), columns=detection.BOX_COLUMNS)
    det = pd.DataFrame(list(rows(ODM_DET, True)), columns=[*detection.BOX_COLUMNS, "score"])
    return gt, det


def test_raw_equals_scikit_learn_on_random_data(rng):
    for size in (5, 50, 1000):
        labels = rng.integers(0, 2, size)
        labels[0] = 1
        scores = np.round(rng.random(size), 2)  # rounding makes ties
        curve = pr.precision_recall(scores, labels)
        assert abs(curve.average_precision("raw") - average_precision_score(labels, scores)) < 1e-12


def test_worked_example_every_method():
    curve = pr.precision_recall([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    values = pr.all_methods(curve.recall, curve.precision)
    assert values["raw"] == pytest.approx(0.8333, abs=1e-4)
    assert values["11point"] == pytest.approx(0.8485, abs=1e-4)
    assert values["all"] == pytest.approx(0.8333, abs=1e-4)
    assert values["coco101"] == pytest.approx(0.8350, abs=1e-4)


def test_envelope_equals_homl_formula(rng):
    precisions = rng.random(40)
    np.testing.assert_array_equal(pr.envelope(precisions), np.flip(np.maximum.accumulate(np.flip(precisions))))


def test_homl_eleven_point_example():
    assert pr.average_precision(pr.HOML_RECALL, pr.HOML_PRECISION, "11point") == pytest.approx(0.7136, abs=1e-4)


def test_object_detection_metrics_readme_example():
    gt, det = odm_tables()
    assert (len(gt), len(det)) == (15, 24)
    all_point = detection.evaluate_detections(gt, det, iou_threshold=0.3, method="all", plus_one=True)
    eleven = detection.evaluate_detections(gt, det, iou_threshold=0.3, method="11point", plus_one=True)
    assert all_point.mean_ap == pytest.approx(0.2456866804, abs=1e-9)
    assert eleven.mean_ap == pytest.approx(0.2683982683, abs=1e-9)
    person = all_point.per_class["person"]
    assert (person.true_positives, person.false_positives, person.ground_truths) == (7, 17, 15)


def test_tied_scores_form_one_threshold():
    curve = pr.precision_recall([0.5, 0.5, 0.5, 0.2], [1, 0, 1, 0])
    np.testing.assert_array_equal(curve.thresholds, [0.5, 0.2])
    np.testing.assert_allclose(curve.precision, [2 / 3, 0.5])


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([0.1, 0.2, 0.3], [0, 0, 0], 0.0),  # no positives: AP defined as 0 (scikit-learn agrees)
        ([0.1, 0.2, 0.3], [1, 1, 1], 1.0),  # all positives
        ([0.7], [1], 1.0),  # one point
        ([0.5] * 4, [0, 1, 1, 0], 0.5),  # all tied: precision = positive rate at recall 1
    ],
)
def test_edge_cases_have_defined_values(scores, labels, expected):
    curve = pr.precision_recall(scores, labels)
    for method in pr.METHODS:
        assert curve.average_precision(method) == pytest.approx(expected), method


def test_operating_point_counts():
    curve = pr.precision_recall([0.9, 0.8, 0.7, 0.3], [1, 0, 1, 1])
    point = pr.operating_point(curve, 0.75)
    assert (point.true_positives, point.false_positives, point.false_negatives) == (1, 1, 2)
    assert pr.operating_point(curve, 0.95).recall == 0.0
    assert pr.operating_point(curve, 0.0).recall == 1.0


def test_downsample_keeps_at_most_5000_points_and_the_ends(rng):
    curve = pr.precision_recall(rng.random(100_000), rng.integers(0, 2, 100_000))
    recall, precision = pr.downsample(curve)
    assert len(recall) <= 5000 and recall[-1] == curve.recall[-1] and precision[0] == curve.precision[0]


def test_iou_continuous_and_voc():
    assert detection.iou((0, 0, 10, 10), (5, 5, 15, 15)) == pytest.approx(25 / 175)
    assert detection.iou((0, 0, 9, 9), (0, 0, 9, 9), plus_one=True) == 1.0
    assert detection.iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_the_example_shows_where_voc_and_coco_differ():
    """img4: the second cat's best ground truth is taken; VOC calls it FP, COCO matches the other cat."""
    from lab import annotations, coco

    gt, det = detection.example_detections()
    data = annotations.from_tables(gt, det)
    voc = detection.evaluate_detections(*annotations.to_tables(data), iou_threshold=0.5)
    differences = coco.voc_differences(data, coco.evaluate(data), voc.true_positive)
    assert [(d.image, d.voc, d.coco) for d in differences] == [("img4", "FP", "TP")]


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: pr.precision_recall([0.1, 0.2], [1]), "pair up"),
        (lambda: pr.precision_recall([0.1, np.nan], [1, 0]), "NaN"),
        (lambda: pr.precision_recall([0.1, np.inf], [1, 0]), "infinite"),
        (lambda: pr.precision_recall([0.1, 0.2], [1, 2]), "0 or 1"),
        (lambda: pr.precision_recall([], []), "empty"),
        (lambda: pr.average_precision([0, 1], [1, 0.5], "voc"), "Unknown AP method"),
        (lambda: pr.average_precision([0, 1.5], [1, 0.5]), "between 0 and 1"),
        (lambda: detection.iou((5, 0, 1, 1), (0, 0, 1, 1)), "x_max < x_min"),
        (lambda: detection.validate_boxes(pd.DataFrame({"image_id": [1]}), "gt"), "missing column"),
        (
            lambda: tables.read_csv(
                b"image_id,label,x_min,y_min,x_max,y_max\n1,=cmd(),0,0,1,1\n", "gt", detection.BOX_COLUMNS
            ),
            None,
        ),
        (lambda: pr.read_scores_csv(b"score,label\n=1+1,1\n0.2,0\n"), "formula"),
        (lambda: pr.read_scores_csv(b"score\n0.2\n"), "missing column"),
    ],
)
def test_bad_input_is_a_clear_message(call, fragment):
    if fragment is None:  # reading succeeds; validation refuses the formula cell
        frame = call()
        with pytest.raises(InputError, match="formula"):
            detection.validate_boxes(frame, "ground truth")
        return
    with pytest.raises(InputError, match=fragment):
        call()


def test_boxes_with_flipped_coordinates_are_refused():
    gt, det = detection.example_detections()
    det.loc[2, "x_max"] = det.loc[2, "x_min"] - 1
    with pytest.raises(InputError, match="row 3 has x_max < x_min"):
        detection.evaluate_detections(gt, det)


def test_csv_export_escapes_formulas():
    assert tables.escape_csv_cell("=HYPERLINK()") == "'=HYPERLINK()"
    assert tables.escape_csv_cell("cat") == "cat" and tables.escape_csv_cell(0.5) == 0.5


def test_importing_pr_does_not_import_tensorflow():
    code = "import sys, lab.pr; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_coco101_compares_recall_levels_exactly_as_pycocotools():
    """linspace(0, 1, 101)[35] is 0.35000000000000003: a recall of exactly 35/100 misses that level in
    pycocotools, which then reads the next point (here a much lower precision)."""
    hits = np.array([True] * 35 + [False] * 30 + [True] * 10)
    positives = 100
    tp, fp = np.cumsum(hits).astype(float), np.cumsum(~hits).astype(float)
    recall, precision = tp / positives, tp / (tp + fp)
    # pycocotools' accumulate, literally: envelope from the right, then searchsorted 'left' on 101 levels.
    envelope = precision.tolist()
    for i in range(len(envelope) - 1, 0, -1):
        envelope[i - 1] = max(envelope[i - 1], envelope[i])
    levels = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
    at = np.searchsorted(recall, levels, side="left")
    expected = np.mean([envelope[i] if i < len(envelope) else 0.0 for i in at])
    assert pr.average_precision(recall, precision, "coco101") == pytest.approx(expected, abs=1e-15)
