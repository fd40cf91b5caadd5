"""lab.annotations: every detection format reads into the same data, and malformed files are named."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from lab import annotations, coco, detection
from lab.errors import InputError


def summary_of(data) -> np.ndarray:
    return np.array(list(coco.evaluate(data).summary().values()))


@pytest.fixture(scope="module")
def example_summary() -> np.ndarray:
    return summary_of(annotations.from_tables(*detection.example_detections()))


@pytest.mark.parametrize("format_name", list(annotations.FORMATS))
def test_each_bundled_example_reads_back_to_the_same_numbers(format_name, example_summary):
    files = {name: data for name, (_, data) in annotations.example_files(format_name).items()}
    assert set(files) == {name for name, _, _ in annotations.FORMATS[format_name][1]}
    np.testing.assert_allclose(summary_of(annotations.load(format_name, files)), example_summary, atol=1e-9)


def test_a_missing_upload_is_named():
    with pytest.raises(InputError, match="Detections: COCO results JSON"):
        annotations.load("coco", {"coco_gt": b"{}"})
    with pytest.raises(InputError, match="Unknown format"):
        annotations.load("pickle", {})


def coco_files(**changes) -> tuple[bytes, bytes]:
    instances = {
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}],
    }
    results = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]
    instances.update(changes.get("instances", {}))
    return json.dumps(instances).encode(), json.dumps(changes.get("results", results)).encode()


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ((b"{not json", b"[]"), "not valid JSON"),
        (coco_files(instances={"images": "none"}), "list of objects under 'images'"),
        (
            coco_files(results=[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "score": 1}]),
            r"result 0 bbox must be \[x, y",
        ),
        (coco_files(results=[{"image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1], "score": 1}]), "negative width"),
        (
            coco_files(results=[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": float("nan")}]),
            "score is nan",
        ),
        (coco_files(results=[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "high"}]), "'high'"),
        (coco_files(results=[{"image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]), "image 7"),
        (
            coco_files(instances={"annotations": [{"id": 1, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}]}),
            "category 9",
        ),
        (coco_files(results={"oops": 1}), "expected a list"),
    ],
)
def test_malformed_coco_json_is_named(files, fragment):
    with pytest.raises(InputError, match=fragment):
        annotations.read_coco_json(*files)


def test_a_too_large_json_is_refused(monkeypatch):
    monkeypatch.setattr(annotations, "MAX_JSON_BYTES", 10)
    with pytest.raises(InputError, match="larger than"):
        annotations.read_coco_json(*coco_files())


def voc_xml(objects: str, prefix: str = "") -> bytes:
    return f"{prefix}<annotation><filename>a.jpg</filename>{objects}</annotation>".encode()


GOOD_OBJECT = "<object><name>cat</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>"


def test_voc_xml_reads_boxes_and_difficult_flags():
    rows = annotations.parse_voc_xml(voc_xml(GOOD_OBJECT), "a.xml")
    assert rows == [
        {"image_id": "a.jpg", "label": "cat", "x_min": 1.0, "y_min": 2.0, "x_max": 30.0, "y_max": 40.0, "difficult": 1}
    ]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (voc_xml(GOOD_OBJECT, '<!DOCTYPE lolz [<!ENTITY lol "lol">]>'), "DTD or entities"),
        (b"<annotation><object>", "not well-formed"),
        (voc_xml("<object><name>cat</name></object>"), "needs a <name> and a <bndbox>"),
        (voc_xml(GOOD_OBJECT.replace("<xmin>1</xmin>", "<xmin>one</xmin>")), "<xmin> is 'one'"),
        (voc_xml(GOOD_OBJECT.replace("<xmax>30</xmax>", "<xmax>0</xmax>")), "xmax < xmin"),
    ],
)
def test_hostile_or_malformed_voc_xml_is_refused(data, fragment):
    with pytest.raises(InputError, match=fragment):
        annotations.parse_voc_xml(data, "a.xml")


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_voc_zips_are_checked():
    with pytest.raises(InputError, match="not a readable zip"):
        annotations.read_voc_zip(b"PK not really")
    with pytest.raises(InputError, match=r"no \.xml files"):
        annotations.read_voc_zip(zip_of({"notes.txt": b"hi"}))
    bomb = zip_of({"a.xml": b"<annotation>" + b" " * (2 * 1024 * 1024) + b"</annotation>"})
    with pytest.raises(InputError, match=r"MB|expands"):
        annotations.read_voc_zip(bomb)
    table = annotations.read_voc_zip(zip_of({"Annotations/a.xml": voc_xml(GOOD_OBJECT), "__MACOSX/._a.xml": b"junk"}))
    assert len(table) == 1 and table["difficult"].tolist() == [1]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0 0.5 0.5 0.2", "expected 5 values"),
        ("3 0.5 0.5 0.2 0.2", "class '3' is not one of 0..1"),
        ("0 1.5 0.5 0.2 0.2", "normalised"),
        ("0 0.5 zero 0.2 0.2", "not a number"),
        ("0 0.5 nan 0.2 0.2", "not finite"),
    ],
)
def test_malformed_yolo_lines_are_named(text, fragment):
    with pytest.raises(InputError, match=fragment):
        annotations.parse_yolo(text, "img", 100, 80, ["cat", "dog"], scored=False)


def test_yolo_boxes_scale_by_the_image_size():
    rows = annotations.parse_yolo("1 0.5 0.5 0.2 0.5 0.75\n", "img", 100, 80, ["cat", "dog"], scored=True)
    assert rows == [
        {"image_id": "img", "label": "dog", "x_min": 40.0, "y_min": 20.0, "x_max": 60.0, "y_max": 60.0, "score": 0.75}
    ]
    with pytest.raises(InputError, match="no width and height for image 'other'"):
        annotations.read_yolo_zip(zip_of({"other.txt": b"0 0.5 0.5 0.1 0.1\n"}), {"img": (100, 80)}, ["cat"], False)
    with pytest.raises(InputError, match="row 1 has width"):
        annotations.read_image_sizes(b"image_id,width,height\nimg,0,80\n")


def test_the_example_voc_files_are_written_as_voc_writes_them():
    """<size> with width, height and depth, the image's file name, whole-pixel corners (globox refused
    files without <size> and with 10.0 coordinates)."""
    import xml.etree.ElementTree as ElementTree

    archive = zipfile.ZipFile(io.BytesIO(annotations.example_files("voc")["voc_zip"][1]))
    root = ElementTree.fromstring(archive.read("Annotations/img1.xml"))
    assert root.findtext("filename") == "img1.jpg"
    assert [root.findtext(f"size/{tag}") for tag in ("width", "height", "depth")] == ["200", "160", "3"]
    first = root.find("object")
    assert [first.findtext(tag) for tag in ("name", "pose", "truncated", "difficult")] == [
        "cat",
        "Unspecified",
        "0",
        "0",
    ]
    assert [first.findtext(f"bndbox/{tag}") for tag in ("xmin", "ymin", "xmax", "ymax")] == ["10", "10", "60", "60"]


def test_difficult_objects_and_yolo_rounding_are_counted():
    gt = annotations.read_voc_zip(zip_of({"a.xml": voc_xml(GOOD_OBJECT)}))  # GOOD_OBJECT is difficult
    assert "1 of 1 objects are marked difficult" in " ".join(annotations.difficult_note(gt))
    rows = annotations.parse_yolo("0 0.5 0.5 0.333333 0.25\n0 0.5 0.5 0.5 0.5\n", "a", 100, 80, ["cat"], False)
    note = annotations.yolo_rounding_note(pd.DataFrame(rows), "ground truth")
    assert "1 of 2 boxes do not land on whole pixels" in note[0]


GROUND_TRUTH = {
    "images": [{"id": 1}],
    "categories": [{"id": 1, "name": "cat"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]}],
}


@pytest.mark.parametrize(
    ("instances", "results", "fragment"),
    [
        (GROUND_TRUTH, b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),  # RecursionError
        (
            GROUND_TRUTH,
            b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1' + b"0" * 400 + b', 1], "score": 1}]',
            "not a finite number",
        ),
        ({**GROUND_TRUTH, "images": [{"id": 1}, {"id": "1"}]}, b"[]", "ids 1 and '1' are two images"),
        (
            {**GROUND_TRUTH, "categories": [{"id": 1, "name": "cat"}, {"id": 1, "name": "dog"}]},
            b"[]",
            "category id 1 is listed twice",
        ),
    ],
)
def test_hostile_coco_json_is_a_message(instances, results, fragment):
    with pytest.raises(InputError, match=fragment):
        annotations.read_coco_json(json.dumps(instances).encode(), results)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_dtd_in_another_encoding_is_refused_too(encoding):
    declaration = f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
    text = declaration + '<!DOCTYPE a [<!ENTITY b "c">]><annotation/>'
    data = ("\ufeff" + text).encode(encoding) if encoding == "utf-16-be" else text.encode(encoding)
    with pytest.raises(InputError, match="DTD or entities"):
        annotations.parse_voc_xml(data, "a.xml")


def test_voc_xml_in_utf16_with_no_dtd_is_read():
    data = voc_xml(GOOD_OBJECT).decode().replace("utf-8", "UTF-16").encode("utf-16")
    assert annotations.parse_voc_xml(data, "a.xml")[0]["label"] == "cat"


def test_a_zip_of_many_boxes_is_refused_at_the_cap_without_reading_on(monkeypatch):
    """Caps were checked after every row was built: a 614 KB VOC zip took 62-81 s to be refused."""
    monkeypatch.setattr(annotations, "MAX_BOXES", 25)
    parsed = []
    real = annotations.parse_voc_xml
    monkeypatch.setattr(annotations, "parse_voc_xml", lambda data, name: parsed.append(name) or real(data, name))
    members = {f"Annotations/{i:03}.xml": voc_xml(GOOD_OBJECT * 10) for i in range(150)}
    with pytest.raises(InputError, match="more than 25 boxes; refused at the cap"):
        annotations.read_voc_zip(zip_of(members))
    assert len(parsed) == 2  # the third file's objects were counted, not parsed, and nothing after it
    labels = {f"labels/img{i}.txt": b"0 0.5 0.5 0.1 0.1\n" * 10 for i in range(150)}
    sizes = {f"img{i}": (10.0, 10.0) for i in range(150)}
    with pytest.raises(InputError, match="more than 25 boxes"):
        annotations.read_yolo_zip(zip_of(labels), sizes, ["cat"], False)


def test_a_zip_whose_small_members_expand_together_is_a_bomb():
    labels = {f"labels/img{i}.txt": b"0 0.5 0.5 0.1 0.1\n" * 45_409 for i in range(30)}  # 77 KB zipped
    with pytest.raises(InputError, match="zip bomb"):
        annotations.read_yolo_zip(zip_of(labels), {f"img{i}": (1.0, 1.0) for i in range(30)}, ["cat"], False)


def test_yolo_files_read_fast_give_the_slow_readers_rows():
    text = "0 0.5 0.5 0.25 0.5\n1 0.1 0.2 0.1 0.1\n"
    fast = annotations._yolo_frame(text, "a", 100.0, 80.0, ["cat", "dog"], False, list(detection.BOX_COLUMNS))
    slow = pd.DataFrame(annotations.parse_yolo(text, "a", 100.0, 80.0, ["cat", "dog"], False))
    pd.testing.assert_frame_equal(fast, slow[list(detection.BOX_COLUMNS)], check_dtype=False)
    with pytest.raises(InputError, match="line 2: class '7'"):
        annotations._yolo_frame(
            "0 .5 .5 .1 .1\n7 .5 .5 .1 .1\n", "a", 1.0, 1.0, ["cat"], False, list(detection.BOX_COLUMNS)
        )
