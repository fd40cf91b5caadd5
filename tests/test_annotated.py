"""A learner's annotated pictures for the grid detector: the three formats give the boxes they were
made from (scaled to the canvas), and hostile zips are messages that name what is wrong."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from lab import annotated, detect, runlog
from lab.errors import InputError
from recipes import canvases as canvas_recipe
from tests.zipgen import make_zip

WIDTH, HEIGHT = 96, 80  # not square: x and y scale differently onto the 64-px canvas


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def scene(count: int = 12, seed: int = 0):
    """``count`` pictures of WIDTH x HEIGHT with digit boxes: their PNGs, boxes (pixels) and labels."""
    pictures, boxes, labels = canvas_recipe.canvases(count, seed, canvas_size=80, max_digit=20)
    files = {}
    for n, picture in enumerate(pictures):
        wide = np.zeros((HEIGHT, WIDTH), np.uint8)
        wide[:, :80] = np.rint(picture[..., 0] * 255).astype(np.uint8)
        files[f"pictures/p{n:02d}.png"] = png(np.repeat(wide[..., None], 3, axis=2))
    names = {k: ("cat" if k % 2 else "dog") for k in range(10)}  # classes by name, two of them
    return files, boxes, [np.array([names[int(k)] for k in label]) for label in labels]


def coco_zip(files, boxes, labels) -> bytes:
    images = [{"id": n + 1, "file_name": f"p{n:02d}.png", "width": WIDTH, "height": HEIGHT} for n in range(len(boxes))]
    categories = [{"id": 1, "name": "cat"}, {"id": 7, "name": "dog"}]
    ids = {"cat": 1, "dog": 7}
    records = []
    for n, (canvas_boxes, canvas_labels) in enumerate(zip(boxes, labels, strict=True)):
        for (x0, y0, x1, y1), label in zip(canvas_boxes.tolist(), canvas_labels, strict=True):
            bbox = [x0, y0, x1 - x0, y1 - y0]
            records.append({"id": len(records) + 1, "image_id": n + 1, "category_id": ids[label], "bbox": bbox})
    instances = {"images": images, "categories": categories, "annotations": records}
    return make_zip({**files, "instances.json": json.dumps(instances).encode()})


def voc_zip(files, boxes, labels) -> bytes:
    members = dict(files)
    for n, (canvas_boxes, canvas_labels) in enumerate(zip(boxes, labels, strict=True)):
        objects = "".join(
            f"<object><name>{label}</name><bndbox><xmin>{x0:g}</xmin><ymin>{y0:g}</ymin><xmax>{x1:g}</xmax>"
            f"<ymax>{y1:g}</ymax></bndbox></object>"
            for (x0, y0, x1, y1), label in zip(canvas_boxes.tolist(), canvas_labels, strict=True)
        )
        members[f"labels/p{n:02d}.xml"] = (
            f"<annotation><filename>p{n:02d}.png</filename>{objects}</annotation>".encode()
        )
    return make_zip(members)


def yolo_zip(files, boxes, labels, extra: str = "") -> bytes:
    members, names = dict(files), ["cat", "dog"]
    for n, (canvas_boxes, canvas_labels) in enumerate(zip(boxes, labels, strict=True)):
        lines = [
            f"{names.index(label)} {(x0 + x1) / 2 / WIDTH} {(y0 + y1) / 2 / HEIGHT} {(x1 - x0) / WIDTH} {(y1 - y0) / HEIGHT}"
            for (x0, y0, x1, y1), label in zip(canvas_boxes.tolist(), canvas_labels, strict=True)
        ]
        members[f"labels/p{n:02d}.txt"] = ("\n".join(lines) + "\n" + extra).encode()
    members["classes.txt"] = b"cat\ndog\n"
    return make_zip(members)


@pytest.mark.parametrize("writer", [coco_zip, voc_zip, yolo_zip], ids=["coco", "voc", "yolo"])
def test_each_format_gives_the_boxes_it_was_made_from_scaled_to_the_canvas(writer):
    files, boxes, labels = scene()
    found = annotated.read_annotated_zip(writer(files, boxes, labels), 64)
    assert found.class_names == ["cat", "dog"] and found.pictures.shape == (12, 64, 64, 1)
    scale = np.array([64 / WIDTH, 64 / HEIGHT] * 2)
    for n in range(12):
        order = np.lexsort(found.boxes[n].T[::-1])
        truth = boxes[n] * scale
        assert np.allclose(found.boxes[n][order], truth[np.lexsort(truth.T[::-1])], atol=1e-3)
        names = np.array(found.class_names)[found.labels[n][order]]
        assert names.tolist() == labels[n][np.lexsort(truth.T[::-1])].tolist()
    assert found.format_label in annotated.summary(found)


def test_a_box_outside_its_picture_is_a_message_naming_both():
    files, boxes, labels = scene()
    boxes[3] = boxes[3].copy()
    boxes[3][0] = [70, 10, 120, 40]  # past the 96-px width
    with pytest.raises(InputError, match=r"outside 'p03', which is 96 x 80 pixels"):
        annotated.read_annotated_zip(voc_zip(files, boxes, labels), 64)


def test_unknown_classes_and_boxes_without_a_picture_are_messages():
    files, boxes, labels = scene()
    with pytest.raises(InputError, match="class"):
        annotated.read_annotated_zip(yolo_zip(files, boxes, labels, extra="5 0.5 0.5 0.1 0.1\n"), 64)
    del files["pictures/p04.png"]
    with pytest.raises(InputError, match="'p04'"):
        annotated.read_annotated_zip(voc_zip(files, boxes, labels), 64)


def test_a_million_boxes_are_refused_at_the_cap_and_few_pictures_are_a_message():
    files = {f"p{n:02d}.png": png(np.zeros((8, 8, 3), np.uint8)) for n in range(50)}
    rng = np.random.default_rng(0)

    def lines(count: int) -> bytes:  # varied, as real labels are: text that barely compresses
        values = rng.integers(1000, 9999, size=(count, 4))
        return "".join(f"0 .{a} .{b} .0{c % 999} .0{d % 999}\n" for a, b, c, d in values).encode()

    labels = {f"p{n:02d}.txt": lines(20_001) for n in range(50)}  # 1,000,050 boxes
    with pytest.raises(InputError, match="more than 1,000,000 boxes"):
        annotated.read_annotated_zip(make_zip({**files, **labels, "classes.txt": b"a\n"}), 64)
    few = {f"p{n}.png": png(np.zeros((8, 8, 3), np.uint8)) for n in range(3)}
    with pytest.raises(InputError, match="at least 10"):
        annotated.read_annotated_zip(make_zip(few), 64)
    with pytest.raises(InputError, match="no boxes found"):
        annotated.read_annotated_zip(make_zip({**few, **{f"q{n}.png": few["p0.png"] for n in range(10)}}), 64)


def test_a_staged_zip_trains_a_grid_detector_on_its_own_classes(tmp_path):
    files, boxes, labels = scene(20)
    folder, _ = annotated.stage(coco_zip(files, boxes, labels), 64, tmp_path / "uploads")
    again, _ = annotated.stage(coco_zip(files, boxes, labels), 64, tmp_path / "uploads")
    assert again == folder and annotated.class_names(folder) == ["cat", "dog"]
    config = detect.for_task("grid", data_dir=str(folder), epochs=1)
    assert len(detect.test_canvases(config)[0]) == 4  # 20% of 20 pictures
    result = detect.run(config, tmp_path / "run", runlog.RunLog(lambda rows: None))
    instances = json.loads((tmp_path / "run" / detect.INSTANCES_FILE).read_text())
    assert [category["name"] for category in instances["categories"]] == ["cat", "dog"]
    assert "AP" in result
    with pytest.raises(InputError, match="grid detector"):
        detect.for_task("localize", data_dir=str(folder))
