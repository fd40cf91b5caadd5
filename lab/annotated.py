"""Your own annotated pictures for the Detect page's grid detector: one zip of pictures and their boxes
in COCO JSON (an instances file), Pascal VOC XML (one file a picture) or YOLO txt (one file a picture,
and ``classes.txt``), read by :mod:`lab.annotations`' readers with their caps and refusals.

Every picture is decoded by :func:`lab.images.load_image` (format sniffed, pixel bomb limit), made
gray and resized to the canvas, its boxes scaled with it. What a run reads is staged once per content
(:func:`stage`): ``canvases.npz`` (the pictures, boxes and labels as :func:`recipes.canvases.load_annotated`
reads them) and its class names, in a folder named by the zip's hash, renamed into place whole.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from lab import annotations, images, safety
from lab.errors import InputError, describe_value
from lab.uploads import IMAGE_SUFFIXES, member_problem
from recipes import canvases as canvas_recipe

MAX_PICTURES = 2_000  # pictures in one zip
MIN_PICTURES = 10  # fewer cannot be split into training and test pictures
MAX_CLASSES = 20
MAX_ZIP_TOTAL_BYTES = 400 * 1024 * 1024  # expanded, all members
BOX_TOLERANCE = 1.0  # pixels a box may pass the picture's edge (rounding in annotation tools)
DATA_FILE = canvas_recipe.ANNOTATED_FILE  # what a run (and the script) reads
FORMATS = {".json": "COCO JSON", ".xml": "Pascal VOC XML", ".txt": "YOLO txt"}


@dataclass(frozen=True)
class Annotated:
    """Annotated pictures as canvases: (N, size, size, 1) pixels in [0, 1], boxes and labels per picture."""

    pictures: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    class_names: list[str]
    format_label: str
    names: list[str]  # each picture's name (its file stem)


def _members(data: bytes) -> dict[str, list[tuple[str, bytes]]]:
    """The zip's pictures and annotation files by kind, after the one zip policy."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError("annotated pictures: not a readable zip file.") from None
    found: dict[str, list[tuple[str, bytes]]] = {"pictures": [], **{suffix: [] for suffix in FORMATS}}
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        safety.check_zip_sizes(
            infos,
            max_members=3 * MAX_PICTURES,
            max_total_bytes=MAX_ZIP_TOTAL_BYTES,
            max_member_bytes=images.DEFAULT_MAX_BYTES,
        )
        for info in sorted(infos, key=lambda i: i.filename):
            if (problem := member_problem(info)) is not None:
                raise InputError(f"annotated pictures: refused, {problem}.")
            path = PurePosixPath(info.filename)
            if "__MACOSX" in path.parts or path.name.startswith("."):
                continue
            suffix = path.suffix.lower()
            kind = "pictures" if suffix in IMAGE_SUFFIXES else suffix if suffix in FORMATS else None
            if kind is not None:
                found[kind].append((info.filename, archive.read(info)))
    if not found["pictures"]:
        raise InputError("annotated pictures: the zip holds no pictures (JPEG, PNG, ...).")
    if len(found["pictures"]) > MAX_PICTURES:
        raise InputError(f"annotated pictures: {len(found['pictures']):,} pictures; at most {MAX_PICTURES:,}.")
    return found


def _annotation_zip(files: list[tuple[str, bytes]]) -> bytes:
    """The annotation files alone, as a zip for the readers (and their caps: 1 MB a file, 10^6 boxes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return buffer.getvalue()


def _coco_table(files: list[tuple[str, bytes]]):
    """COCO instances JSON -> a box table keyed by each image's file stem."""
    if len(files) != 1:
        raise InputError(f"annotated pictures: expected one COCO instances JSON file, found {len(files)}.")
    name, content = files[0]
    data = annotations.read_coco_json(content, b"[]")
    records = annotations._records(annotations._json(content, name), "images", name)
    stems = {
        str(record.get("id")): PurePosixPath(str(record.get("file_name", record.get("id")))).stem for record in records
    }
    tables, _ = annotations.to_tables(data)
    tables["image_id"] = [stems.get(str(image), str(image)) for image in tables["image_id"]]
    return tables


def _table(found: dict, sizes: dict[str, tuple[float, float]]):
    """The zip's boxes as one table (image_id = a picture's stem), and the format's name."""
    kinds = [suffix for suffix in FORMATS if found[suffix]]
    yolo_files = [(name, content) for name, content in found[".txt"] if PurePosixPath(name).name != "classes.txt"]
    if ".json" in kinds:
        return _coco_table(found[".json"]), FORMATS[".json"]
    if ".xml" in kinds:
        table = annotations.read_voc_zip(_annotation_zip(found[".xml"]))
        table["image_id"] = [PurePosixPath(str(image)).stem for image in table["image_id"]]
        return table, FORMATS[".xml"]
    if yolo_files:
        names = [content for name, content in found[".txt"] if PurePosixPath(name).name == "classes.txt"]
        if not names:
            raise InputError("annotated pictures: YOLO labels need a classes.txt (one class name a line).")
        flat = [(PurePosixPath(name).name, content) for name, content in yolo_files]
        return annotations.read_yolo_zip(_annotation_zip(flat), sizes, annotations.class_names_text(names[0]), False), (
            FORMATS[".txt"]
        )
    raise InputError("annotated pictures: no boxes found: add a COCO instances JSON, VOC XML or YOLO txt files.")


def _check_boxes(table, sizes: dict[str, tuple[float, float]]) -> None:
    for row in table.itertuples(index=False):
        if row.image_id not in sizes:
            raise InputError(
                f"annotated pictures: boxes for {describe_value(row.image_id)}, but no picture of that name."
            )
        width, height = sizes[row.image_id]
        box = [row.x_min, row.y_min, row.x_max, row.y_max]
        outside = (
            min(box[0], box[1]) < -BOX_TOLERANCE or box[2] > width + BOX_TOLERANCE or box[3] > height + BOX_TOLERANCE
        )
        if outside:
            raise InputError(
                f"annotated pictures: a {row.label!r} box {describe_value([round(v, 1) for v in box])} lies outside "
                f"{row.image_id!r}, which is {width:g} x {height:g} pixels."
            )


def _canvas(picture: np.ndarray, size: int) -> np.ndarray:
    gray = (picture.astype(np.float32) @ np.asarray(images.LUMA, np.float32)) / 255.0
    resized = Image.fromarray(gray, mode="F").resize((size, size), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized), 0.0, 1.0)


def read_annotated_zip(data: bytes, canvas_size: int) -> Annotated:
    """A zip of pictures and their boxes -> canvases of ``canvas_size`` with boxes scaled to them.

    Raises:
        InputError: A zip the policy refuses, an undecodable picture, no or unreadable annotations,
            a box outside its picture or for a picture not in the zip, too many classes or boxes,
            fewer than 10 pictures.
    """
    found = _members(data)
    decoded = {PurePosixPath(name).stem: images.load_image(content) for name, content in found["pictures"]}
    if len(decoded) < MIN_PICTURES:
        raise InputError(f"annotated pictures: {len(decoded)} picture(s); at least {MIN_PICTURES} are needed.")
    sizes = {stem: (float(picture.shape[1]), float(picture.shape[0])) for stem, picture in decoded.items()}
    table, format_label = _table(found, sizes)
    _check_boxes(table, sizes)
    class_names = sorted({str(label) for label in table["label"]})
    if not class_names or len(class_names) > MAX_CLASSES:
        raise InputError(f"annotated pictures: {len(class_names)} classes; from 1 to {MAX_CLASSES} are trained here.")
    index = {name: k for k, name in enumerate(class_names)}
    pictures, boxes, labels = [], [], []
    for stem, picture in decoded.items():
        mine = table[table["image_id"] == stem]
        width, height = sizes[stem]
        scale = np.array([canvas_size / width, canvas_size / height] * 2, np.float32)
        corners = mine[["x_min", "y_min", "x_max", "y_max"]].to_numpy(np.float32).reshape(-1, 4) * scale
        pictures.append(_canvas(picture, canvas_size))
        boxes.append(np.clip(corners, 0, canvas_size))
        labels.append(np.array([index[str(label)] for label in mine["label"]], np.int64))
    stack = np.stack(pictures)[..., np.newaxis]
    return Annotated(stack, boxes, labels, class_names, format_label, list(decoded))


def stage(data: bytes, canvas_size: int, uploads_dir: Path) -> tuple[Path, Annotated]:
    """Read the zip once per content and size, and keep it as a folder a run reads (renamed into place)."""
    digest = hashlib.sha256(data).hexdigest()[:20]
    folder = Path(uploads_dir) / f"annotated-{digest}-{canvas_size}"
    found = read_annotated_zip(data, canvas_size)
    if not (folder / canvas_recipe.ANNOTATED_FILE).exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".annotated-", dir=folder.parent))
        canvas_recipe.save_annotated(partial, found.pictures, found.boxes, found.labels, found.class_names)
        try:
            os.rename(partial, folder)
        except OSError:  # another session staged the same zip first: theirs is whole, ours goes
            import shutil

            shutil.rmtree(partial, ignore_errors=True)
    return folder, found


def summary(found: Annotated) -> str:
    """One line for the page: what was read."""
    count = sum(len(b) for b in found.boxes)
    return (
        f"{len(found.names)} pictures, {count:,} boxes of {len(found.class_names)} classes "
        f"({', '.join(found.class_names)}), from {found.format_label}."
    )


def class_names(data_dir: str | Path) -> list[str]:
    """The class names a staged folder was trained with."""
    path = Path(data_dir) / canvas_recipe.ANNOTATED_FILE
    if not path.exists():
        raise InputError(f"The annotated pictures of {describe_value(str(data_dir))} are gone: upload the zip again.")
    return json.loads(str(np.load(path)["class_names"]))
