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
