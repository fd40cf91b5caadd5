"""AppTest drives the PR / mAP explorer through its three inputs and the IoU calculator."""

from __future__ import annotations

import io
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from lab import annotations, coco
from tests.conftest import ROOT
from tests.pages import open_page

PAGE = str(ROOT / "app_pages" / "pr.py")


def page(**query) -> AppTest:
    return open_page("pr", 60, **query)


def ap_table(app: AppTest) -> dict[str, float]:
    frame = next(table.value for table in app.dataframe if "method" in table.value.columns)
    return dict(zip(frame["method"], frame["AP"], strict=True))


def test_points_default_is_homl_and_edits_recompute():
    app = page()
    assert not app.exception
    assert ap_table(app)["11point"] == 0.7136


def test_scores_generator_threshold_and_oracle():
    app = page(**{"pr.input": "scores", "pr.n": "2000", "pr.sep": "2.0"})
    assert not app.exception and not app.error
    labels = {metric.label for metric in app.metric}
    assert {"precision", "recall", "TP", "FP", "FN"} <= labels
    raw = ap_table(app)["raw"]
    oracle = next(caption.value for caption in app.caption if "scikit-learn" in caption.value)
    assert f"{raw:.4f}"[:5] in oracle
    app.slider(key="pr.threshold").set_value(0.9).run()
    assert not app.exception


def test_detections_example_and_iou_threshold():
    app = page(**{"pr.input": "detections"})
    assert not app.exception and not app.error
    first = next(metric.value for metric in app.metric if metric.label.startswith("mAP@"))
    app.slider(key="pr.iou").set_value(0.9).run()
    second = next(metric.value for metric in app.metric if metric.label.startswith("mAP@"))
    assert float(second) < float(first)


def test_detections_without_uploads_asks_for_them():
    app = page(**{"pr.input": "detections", "pr.example": "false"})
    assert any("Upload both" in info.value for info in app.info)


def test_iou_calculator_and_bad_box():
    app = page()
    assert next(metric.value for metric in app.metric if metric.label == "IoU") == "0.2500"
    app.number_input(key="iou.2").set_value(0.0).run()  # A x_max < A x_min
    assert not app.exception
    assert "x_max < x_min" in app.error[0].value


def test_uploaded_csvs_are_scored_and_formula_cells_refused():
    header = b"image_id,label,x_min,y_min,x_max,y_max"
    gt = header + b"\na,cat,0,0,10,10\nb,cat,0,0,10,10\n"
    det = header + b",score\na,cat,1,1,10,10,0.9\nb,cat,50,50,60,60,0.8\n"
    app = page(**{"pr.input": "detections", "pr.example": "false"})
    app.file_uploader(key="pr.gt_csv").set_value(("gt.csv", gt, "text/csv"))
    app.file_uploader(key="pr.det_csv").set_value(("det.csv", det, "text/csv")).run()
    assert not app.exception and not app.error
    assert next(metric.value for metric in app.metric if metric.label.startswith("mAP@")) == "0.5000"
    hostile = det.replace(b"b,cat,50", b"b,=HYPERLINK(1),50")
    app.file_uploader(key="pr.det_csv").set_value(("det.csv", hostile, "text/csv")).run()
    assert not app.exception and "formula" in app.error[0].value


def test_the_example_shows_the_coco_summary_and_where_voc_and_coco_differ():
    app = page(**{"pr.input": "detections"})
    assert not app.exception and not app.error
    coco_ap = next(metric.value for metric in app.metric if metric.label == "COCO mAP@[.5:.95]")
    assert 0 < float(coco_ap) < 1
    assert any("1 detection(s) scored differently" in md.value for md in app.markdown)
    summary = app.dataframe[0].value
    assert list(summary.index) == list(coco.SUMMARY_NAMES)


@pytest.mark.parametrize("format_name", ["coco", "voc", "yolo"])
def test_every_format_uploads_and_scores_like_the_example(format_name):
    expected = page(**{"pr.input": "detections"})
    target = next(m.value for m in expected.metric if m.label == "COCO mAP@[.5:.95]")
    app = page(**{"pr.input": "detections", "pr.example": "false", "pr.format": format_name})
    for name, (file_name, data) in annotations.example_files(format_name).items():
        app.file_uploader(key=f"pr.{name}").set_value((file_name, data, "application/octet-stream"))
    app.run()
    assert not app.exception and not app.error
    assert next(m.value for m in app.metric if m.label == "COCO mAP@[.5:.95]") == target


def test_a_hostile_voc_upload_is_a_message():
    app = page(**{"pr.input": "detections", "pr.example": "false", "pr.format": "voc"})
    files = annotations.example_files("voc")
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><annotation><filename>a</filename></annotation>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.xml", bomb)
    app.file_uploader(key="pr.voc_zip").set_value(("voc.zip", buffer.getvalue(), "application/zip"))
    app.file_uploader(key="pr.voc_det").set_value(("det.csv", files["voc_det"][1], "text/csv")).run()
    assert not app.exception and "DTD or entities" in app.error[0].value


def coco_page(instances: dict, results, name: str = "results.json") -> AppTest:
    import json

    app = page(**{"pr.input": "detections", "pr.example": "false", "pr.format": "coco"})
    app.file_uploader(key="pr.coco_gt").set_value(
        ("instances.json", json.dumps(instances).encode(), "application/json")
    )
    data = results if isinstance(results, bytes) else json.dumps(results).encode()
    return app.file_uploader(key="pr.coco_dt").set_value((name, data, "application/json")).run()


ONE_BOX = {
    "images": [{"id": 1}],
    "categories": [{"id": 1, "name": "cat"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]}],
}


def summary_table(app: AppTest) -> dict[str, float]:
    return app.dataframe[0].value["COCO"].to_dict()


def warnings(app: AppTest) -> str:
    return " ".join(warning.value for warning in app.warning)


@pytest.mark.parametrize(
    ("results", "why"),
    [
        ([], "No detections to score"),
        ([{"image_id": 1, "category_id": 0, "bbox": [0, 0, 10, 10], "score": 0.9}], "No detection is left to score"),
    ],
)
def test_no_detection_left_to_score_gives_zeros_and_says_why(results, why):
    """An empty results file, or 0-based category ids that miss the ground truth's: the 12 numbers, no crash."""
    app = coco_page(ONE_BOX, results)
    assert not app.exception and not app.error
    summary = summary_table(app)
    assert (summary["AP"], summary["AR@100"], summary["AP large"]) == (0.0, 0.0, -1.0)  # pycocotools' numbers
    assert why in warnings(app)
    if results:
        assert "ids 0" in warnings(app) and "category ids are 1" in warnings(app)


def test_a_header_only_detections_csv_is_scored_as_nothing_found():
    header = b"image_id,label,x_min,y_min,x_max,y_max"
    app = page(**{"pr.input": "detections", "pr.example": "false"})
    app.file_uploader(key="pr.gt_csv").set_value(("gt.csv", header + b"\na,cat,0,0,10,10\n", "text/csv"))
    app.file_uploader(key="pr.det_csv").set_value(("det.csv", header + b",score\n", "text/csv")).run()
    assert not app.exception and not app.error
    assert summary_table(app)["AP"] == 0.0 and "No detections to score" in warnings(app)


def test_real_voc_file_names_with_extensions_match_the_stems_of_the_detections():
    """VOC writes <filename>000005.jpg; detection CSVs say 000005: matched by stem, and said."""
    expected = page(**{"pr.input": "detections"})
    target = next(m.value for m in expected.metric if m.label.startswith("mAP@"))
    files = annotations.example_files("voc")
    assert b"<filename>img1.jpg</filename>" in zipfile.ZipFile(io.BytesIO(files["voc_zip"][1])).read(
        "Annotations/img1.xml"
    )
    app = page(**{"pr.input": "detections", "pr.example": "false", "pr.format": "voc"})
    for name, (file_name, data) in files.items():
        app.file_uploader(key=f"pr.{name}").set_value((file_name, data, "application/octet-stream"))
    app.run()
    assert not app.exception and not app.error
    assert next(m.value for m in app.metric if m.label.startswith("mAP@")) == target != "0.0000"
    assert "matched by stem" in warnings(app) and "no ground truth" not in warnings(app)


def test_detections_on_images_and_classes_without_ground_truth_are_counted():
    header = b"image_id,label,x_min,y_min,x_max,y_max"
    gt = header + b"\na,cat,0,0,10,10\n"
    det = header + b",score\na,cat,0,0,10,10,0.9\nz,cat,0,0,10,10,0.8\na,bird,0,0,5,5,0.7\n"
    app = page(**{"pr.input": "detections", "pr.example": "false"})
    app.file_uploader(key="pr.gt_csv").set_value(("gt.csv", gt, "text/csv"))
    app.file_uploader(key="pr.det_csv").set_value(("det.csv", det, "text/csv")).run()
    said = warnings(app)
    assert "1 of 3 detections name 1 images that have no ground truth ('z')" in said
    assert "1 detections are on classes with no ground truth ('bird')" in said
    assert "no crowd flag or mask area: all 1 ground-truth boxes" in said


def test_pycocotools_annotation_id_quirks_are_stated():
    instances = {**ONE_BOX, "annotations": [{**ONE_BOX["annotations"][0], "id": 0}]}
    app = coco_page(instances, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}])
    assert summary_table(app)["AP"] == 1.0 and "annotation has id 0" in warnings(app)
    twice = dict(ONE_BOX["annotations"][0], bbox=[20, 20, 10, 10])
    instances = {**ONE_BOX, "annotations": [ONE_BOX["annotations"][0], twice]}
    app = coco_page(instances, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}])
    assert "annotation ids are used more than once (1)" in warnings(app)


def test_gzipped_coco_results_are_read_and_the_limits_are_on_the_page():
    import gzip
    import json

    results = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]
    app = coco_page(ONE_BOX, gzip.compress(json.dumps(results).encode()), "results.json.gz")
    assert not app.exception and not app.error
    assert summary_table(app)["AP"] == 1.0
    assert any(".json.gz" in caption.value and "20 MB" in caption.value for caption in app.caption)


def test_the_script_reads_uploads_by_name_whatever_their_size():
    """20,000 boxes a side were 4.7 MB of script (inlined); read by name the script's size is fixed."""
    from tests.cocogen import scenario

    lengths = {}
    for images in (2, 400):
        instances, results = scenario(1, images=images, classes=3, truths=(40, 60), detections=(40, 60))
        app = coco_page(instances, results)
        assert not app.exception and not app.error
        code = next(block.value for block in app.code if "pycocotools" in block.value)
        assert 'instances_file = "instances.json"' in code and 'results_file = "results.json"' in code
        assert "read_coco(instances_file, results_file)" in code
        lengths[len(results)] = len(code)
    small, large = sorted(lengths)
    assert large > 15_000 and lengths[small] == lengths[large] < 20_000
