"""Detection datasets in the formats people hold, read into one form: COCO JSON, Pascal VOC XML, YOLO txt, CSV.

Every reader is for untrusted uploads: sizes and counts are capped, JSON is parsed with ``json``
(no pickle, no eval), XML with the standard library's parser after refusing DTDs and entities
(no entity expansion, no external resources), and every malformed field is an
:class:`~lab.errors.InputError` naming the file, the record and the value.

Two shapes come out:

* box *tables* (pandas, the columns of :data:`lab.detection.BOX_COLUMNS`, detections add
  ``score``, ground truth may add ``iscrowd`` and ``area``) for the VOC evaluation and the page;
* :class:`lab.coco.CocoData`, COCO's own column arrays, for the COCO evaluation.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath

import numpy as np

from lab import safety, tables
from lab.coco import CocoData
from lab.detection import BOX_COLUMNS
from lab.errors import InputError, describe_value

MAX_JSON_BYTES = 64 * 1024 * 1024  # decompressed: COCO val2017's results at 60 detections an image are ~32 MB
GZIP_MAGIC = b"\x1f\x8b"
MAX_BOXES = 1_000_000
MAX_IMAGES = 200_000
MAX_ZIP_BYTES = 200 * 1024 * 1024
MAX_XML_BYTES = 1024 * 1024  # one annotation file


# ---------------------------------------------------------------------------------------------
# COCO JSON
# ---------------------------------------------------------------------------------------------
def _gunzip(data: bytes, what: str) -> bytes:
    """A gzip-compressed file, decompressed in chunks and refused as soon as it passes the JSON cap."""
    import gzip
    import zlib

    chunks, size = [], 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > MAX_JSON_BYTES:
                    raise InputError(f"{what}: larger than {MAX_JSON_BYTES // 2**20} MB once decompressed.")
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"{what}: a damaged gzip file ({error}).") from None
    return b"".join(chunks)


def _json(data: bytes, what: str):
    """JSON, or gzip-compressed JSON (``.json.gz``: a COCO val2017 results file fits the upload cap so)."""
    if data[:2] == GZIP_MAGIC:
        data = _gunzip(data, what)
    if len(data) > MAX_JSON_BYTES:
        raise InputError(f"{what}: the file is larger than {MAX_JSON_BYTES // 2**20} MB.")
    try:
        return json.loads(data)
    except RecursionError:
        raise InputError(f"{what}: refused, its JSON is nested too deeply to be a COCO file.") from None
    except (UnicodeDecodeError, ValueError) as error:  # ValueError: also integers past 4,300 digits
        raise InputError(f"{what}: not valid JSON ({str(error)[:200]}).") from None


def _number(value, what: str, where: str) -> float:
    try:  # a 400-digit integer is a Real, but no float (OverflowError)
        number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InputError(f"{what}: {where} is {describe_value(value)}, not a finite number.")
    return number


def _box(value, what: str, where: str) -> list[float]:
    if not isinstance(value, list) or len(value) != 4:
        raise InputError(f"{what}: {where} bbox must be [x, y, width, height], got {describe_value(value)}.")
    box = [_number(v, what, f"{where} bbox") for v in value]
    if box[2] < 0 or box[3] < 0:
        raise InputError(f"{what}: {where} bbox {describe_value(value)} has a negative width or height.")
    return box


def _records(node, key: str, what: str) -> list[dict]:
    records = node.get(key) if isinstance(node, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError(f"{what}: expected a list of objects under {key!r}.")
    return records


def _id(record: dict, key: str, what: str, where: str):
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(f"{what}: {where} {key} is {describe_value(value)}; expected an integer or a string.")
    return value


def coco_data(
    images: Sequence,
    categories: Sequence[dict],
    annotations: Sequence[dict],
    results: Sequence[dict],
    notes: Sequence[str] = (),
) -> CocoData:
    """Build :class:`CocoData` from COCO records (``instances`` lists and a results list).

    Mirrors pycocotools: the evaluated images and classes are the ground truth's (sorted ids);
    detections of classes outside the ground truth's categories are left out, detections on an
    image the ground truth does not list are refused (pycocotools asserts), a detection's area is
    width x height, a ground truth's is its ``area`` field (width x height when absent).

    Raises:
        InputError: Naming the record and field.
    """
    what = "ground truth"
    image_ids = sorted({_id(record, "id", what, f"image {i}") for i, record in enumerate(images)}, key=_sort_key)
    _refuse_ids_alike_as_text(image_ids, "image")
    categories = sorted(categories, key=lambda c: _sort_key(_id(c, "id", what, "category")))
    _refuse_duplicate_categories(categories)
    category_ids = [c["id"] for c in categories]
    names = [str(c.get("name", c["id"])) for c in categories]
    if len(image_ids) > MAX_IMAGES or len(annotations) + len(results) > MAX_BOXES:
        raise InputError(f"At most {MAX_IMAGES:,} images and {MAX_BOXES:,} boxes.")
    image_index = {image: i for i, image in enumerate(image_ids)}
    category_index = {category: k for k, category in enumerate(category_ids)}
    gt = {"image": [], "category": [], "boxes": [], "area": [], "crowd": []}
    for i, record in enumerate(annotations):
        where = f"annotation {i}"
        image, category = _id(record, "image_id", what, where), _id(record, "category_id", what, where)
        if image not in image_index:
            raise InputError(f"{what}: {where} is on image {describe_value(image)}, which 'images' does not list.")
        if category not in category_index:
            raise InputError(f"{what}: {where} has category {describe_value(category)}, not in 'categories'.")
        box = _box(record.get("bbox"), what, where)
        area = record.get("area", box[2] * box[3])
        gt["image"].append(image_index[image])
        gt["category"].append(category_index[category])
        gt["boxes"].append(box)
        gt["area"].append(_number(area, what, f"{where} area"))
        gt["crowd"].append(bool(record.get("iscrowd", 0)))
    dt = {"image": [], "category": [], "boxes": [], "score": []}
    what = "detections"
    unknown = Counter()
    for i, record in enumerate(results):
        where = f"result {i}"
        image, category = _id(record, "image_id", what, where), _id(record, "category_id", what, where)
        if image not in image_index:
            raise InputError(
                f"{what}: {where} is on image {describe_value(image)}, which the ground truth does not list."
            )
        if category not in category_index:
            unknown[category] += 1  # pycocotools evaluates only the ground truth's categories
            continue
        dt["image"].append(image_index[image])
        dt["category"].append(category_index[category])
        dt["boxes"].append(_box(record.get("bbox"), what, where))
        dt["score"].append(_number(record.get("score"), what, f"{where} score"))
    notes = (*notes, *_annotation_id_notes(annotations), *_scored_notes(len(results), unknown, category_ids))
    return CocoData(
        image_ids,
        category_ids,
        names,
        np.array(gt["image"], np.int64),
        np.array(gt["category"], np.int64),
        np.array(gt["boxes"], np.float64).reshape(-1, 4),
        np.array(gt["area"], np.float64),
        np.array(gt["crowd"], bool),
        np.array(dt["image"], np.int64),
        np.array(dt["category"], np.int64),
        np.array(dt["boxes"], np.float64).reshape(-1, 4),
        np.array(dt["score"], np.float64),
        tuple(notes),
    )


def _few(values, limit: int = 5) -> str:
    values = list(values)
    shown = ", ".join(describe_value(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit:,} more" if len(values) > limit else "")


def _scored_notes(total: int, unknown: Counter, category_ids: Sequence) -> list[str]:
    """Say what is left out of the evaluation: detections on categories the ground truth lacks."""
    notes = []
    dropped = sum(unknown.values())
    if total == 0:
        notes.append("No detections to score: the detections file holds none, so every number is 0 (or -1).")
    elif dropped:
        notes.append(
            f"{dropped:,} of {total:,} detections are on categories the ground truth does not have "
            f"(ids {_few(sorted(unknown, key=_sort_key))}) and are left out, as pycocotools leaves them out; "
            f"the ground truth's category ids are {_few(category_ids)}."
            + (" No detection is left to score." if dropped == total else "")
        )
    return notes


def _annotation_id_notes(annotations: Sequence[dict]) -> list[str]:
    """pycocotools' two quirks with annotation ids, stated (the numbers shown treat each annotation as itself)."""
    ids = [record["id"] for record in annotations if "id" in record]
    notes = []
    if any(not isinstance(i, bool) and i == 0 for i in ids):
        notes.append(
            "An annotation has id 0: pycocotools marks a match by the matched annotation's id, so it counts a "
            "detection matched to annotation 0 as a false positive. The numbers shown score it as a match "
            "(pycocotools' own numbers would be lower); renumber the annotations from 1 to agree."
        )
    repeated = [i for i, count in Counter(ids).items() if count > 1]
    if repeated:
        notes.append(
            f"{len(repeated):,} annotation ids are used more than once ({_few(repeated)}): pycocotools keeps only "
            "the last annotation of each id and evaluates it in place of the others. The numbers shown use every "
            "annotation as given (pycocotools' own numbers would differ); give each annotation its own id."
        )
    return notes


def _refuse_ids_alike_as_text(ids: Sequence, what: str) -> None:
    """COCO tells ``1`` from ``"1"``; the box tables, VOC and YOLO name images by text and would merge them."""
    seen: dict[str, object] = {}
    for value in ids:
        if (text := str(value)) in seen and seen[text] != value:
            raise InputError(
                f"ground truth: {what} ids {describe_value(seen[text])} and {describe_value(value)} are two {what}s "
                "for COCO but the same name everywhere else; give every id one type (all integers or all strings)."
            )
        seen[text] = value


def _refuse_duplicate_categories(categories: Sequence[dict]) -> None:
    names: dict[object, str] = {}
    for category in categories:
        name = str(category.get("name", category["id"]))
        if category["id"] in names and names[category["id"]] != name:
            raise InputError(
                f"ground truth: category id {describe_value(category['id'])} is listed twice, as "
                f"{names[category['id']]!r} and {name!r}; each category needs its own id."
            )
        names[category["id"]] = name


def _sort_key(value):
    return (isinstance(value, str), value)  # ints before strings, each in natural order


def read_coco_json(instances: bytes, results: bytes) -> CocoData:
    """A COCO ``instances`` file (images, categories, annotations) and a results list.

    Raises:
        InputError: Invalid JSON, a missing list, or a malformed record (named).
    """
    gt = _json(instances, "ground truth")
    found = _json(results, "detections")
    if isinstance(found, dict) and "annotations" in found:
        found = found["annotations"]
    if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
        raise InputError("detections: expected a list of {image_id, category_id, bbox, score} objects.")
    return coco_data(
        _records(gt, "images", "ground truth"),
        _records(gt, "categories", "ground truth"),
        _records(gt, "annotations", "ground truth"),
        found,
    )


# ---------------------------------------------------------------------------------------------
# Tables (CSV, the built-in example, VOC and YOLO readers)
# ---------------------------------------------------------------------------------------------
def from_tables(ground_truth, detections, notes: Sequence[str] = ()) -> CocoData:
    """Box tables -> :class:`CocoData`: images are every image id in either table, classes every label.

    Corners become x-y-w-h; ground truth may carry ``iscrowd`` and ``area`` columns. ``notes`` (what
    the reader could not carry over) travel with the data, after the tables' own (:func:`table_notes`).
    """
    from lab import detection

    gt = detection.validate_boxes(ground_truth, "ground truth")
    det = detection.validate_boxes(detections, "detections", with_score=True)
    image_ids = sorted(set(gt["image_id"]) | set(det["image_id"]))
    labels = sorted(set(gt["label"]) | set(det["label"]))
    images = [{"id": image} for image in image_ids]
    categories = [{"id": label, "name": label} for label in labels]
    crowd = ground_truth["iscrowd"].astype(int).tolist() if "iscrowd" in ground_truth else [0] * len(gt)
    given_area = ground_truth["area"].astype(float).tolist() if "area" in ground_truth else None
    annotations = []
    for i, row in enumerate(gt.itertuples(index=False)):
        box = [row.x_min, row.y_min, row.x_max - row.x_min, row.y_max - row.y_min]
        area = given_area[i] if given_area is not None else box[2] * box[3]
        record = {"image_id": row.image_id, "category_id": row.label, "bbox": box, "area": area, "iscrowd": crowd[i]}
        annotations.append(record)
    results = []
    for row in det.itertuples(index=False):
        box = [row.x_min, row.y_min, row.x_max - row.x_min, row.y_max - row.y_min]
        results.append({"image_id": row.image_id, "category_id": row.label, "bbox": box, "score": row.score})
    return coco_data(images, categories, annotations, results, notes)


def table_notes(ground_truth, detections, format_label: str) -> list[str]:
    """What box tables lose or mismatch, said with counts: detections on images or classes that have
    no ground truth, and the crowd flags and mask areas a format cannot hold."""
    notes = []
    truth_images = set(ground_truth["image_id"].astype(str).str.strip())
    named = detections["image_id"].astype(str).str.strip()
    orphans = named[~named.isin(truth_images)]
    if len(orphans):
        notes.append(
            f"{len(orphans):,} of {len(named):,} detections name {orphans.nunique():,} images that have no ground "
            f"truth ({_few(sorted(orphans.unique()))}): each of them counts as a false positive. Check that both "
            f"files name the images alike (the ground truth has {_few(sorted(truth_images))})."
        )
    truth_labels = set(ground_truth["label"].astype(str).str.strip())
    labels = detections["label"].astype(str).str.strip()
    strangers = labels[~labels.isin(truth_labels)]
    if len(strangers):
        notes.append(
            f"{len(strangers):,} detections are on classes with no ground truth ({_few(sorted(strangers.unique()))}): "
            "those classes have no AP (there is nothing to find) and count in neither mean."
        )
    if "iscrowd" not in ground_truth.columns and "area" not in ground_truth.columns:
        keep = " Add `iscrowd` and `area` columns to keep them." if format_label == "CSV" else ""
        notes.append(
            f"{format_label} has no crowd flag or mask area: all {len(ground_truth):,} ground-truth boxes are scored "
            f"as regular objects with area width x height (COCO JSON keeps `iscrowd` and `area`).{keep}"
        )
    return notes


def voc_stems(ground_truth, detections):
    """VOC names images with their extension (``<filename>000005.jpg``), detection files mostly by
    the stem: when stems match more of the detections' images, the ground truth takes the stems.

    Returns:
        (ground truth, notes): the table, renamed or not, and what was done.
    """
    names = sorted(set(ground_truth["image_id"]))
    stems = {name: PurePosixPath(name).stem for name in names}
    wanted = set(detections["image_id"].astype(str).str.strip())
    if not wanted - set(names) or len(wanted & set(stems.values())) <= len(wanted & set(names)):
        return ground_truth, []
    renamed = ground_truth.assign(image_id=ground_truth["image_id"].map(stems))
    example = next(name for name in names if stems[name] != name)
    note = (
        f"The VOC files name their images with an extension ({example!r}) and the detections by the stem "
        f"({stems[example]!r}): the {len(names):,} images are matched by stem."
    )
    return renamed, [note]


def difficult_note(ground_truth) -> list[str]:
    """VOC's ``difficult`` objects: the devkit ignores them, COCO has no such flag."""
    count = int(ground_truth["difficult"].sum()) if "difficult" in ground_truth else 0
    if not count:
        return []
    return [
        f"{count:,} of {len(ground_truth):,} objects are marked difficult: VOC's devkit ignores them, COCO has no "
        "such flag, so both evaluators here score them as regular objects."
    ]


def yolo_rounding_note(boxes, what: str) -> list[str]:
    """YOLO keeps fractions of the image size: how many boxes do not come back on whole pixels."""
    corners = boxes[list(BOX_COLUMNS[2:])].to_numpy(dtype=float)
    off = np.abs(corners - np.round(corners)).max(axis=1) if len(corners) else np.zeros(0)
    moved = int((off > 1e-6).sum())
    if not moved:
        return []
    return [
        f"{what}: {moved:,} of {len(corners):,} boxes do not land on whole pixels when their YOLO fractions are "
        f"scaled back by the image sizes (at most {off.max():.3g} px from one): a writer rounded the fractions, "
        "so those boxes can sit slightly off the original ones."
    ]


def to_tables(data: CocoData):
    """:class:`CocoData` -> (ground truth, detections) box tables, for the VOC evaluation and display."""
    import pandas as pd

    def frame(image, category, boxes):
        return pd.DataFrame(
            {
                "image_id": [str(data.image_ids[i]) for i in image],
                "label": [data.category_names[k] for k in category],
                "x_min": boxes[:, 0],
                "y_min": boxes[:, 1],
                "x_max": boxes[:, 0] + boxes[:, 2],
                "y_max": boxes[:, 1] + boxes[:, 3],
            }
        )

    gt = frame(data.gt_image, data.gt_category, data.gt_boxes)
    gt["iscrowd"], gt["area"] = data.gt_crowd.astype(int), data.gt_area
    det = frame(data.dt_image, data.dt_category, data.dt_boxes)
    det["score"] = data.dt_score
    return gt, det


MAX_EXPANDED_BYTES = 64 * 1024 * 1024  # a detection zip's members together: 10^6 boxes of YOLO text is ~40 MB


def _zip_members(data: bytes, suffixes: tuple[str, ...], what: str):
    """(name, bytes) of the members ending in ``suffixes``, in name order, one at a time, after the
    one zip policy and a whole-archive expansion check (30 small members that each expand 600x are a
    bomb too, though none is over the per-member limit)."""
    import zipfile

    if len(data) > MAX_ZIP_BYTES:
        raise InputError(f"{what}: the zip is larger than {MAX_ZIP_BYTES // 2**20} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError(f"{what}: not a readable zip file.") from None
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        safety.check_zip_sizes(
            infos, max_members=MAX_IMAGES, max_total_bytes=MAX_EXPANDED_BYTES, max_member_bytes=MAX_XML_BYTES
        )
        packed, expanded = sum(info.compress_size for info in infos), sum(info.file_size for info in infos)
        if expanded > 1_000_000 and expanded > safety.MAX_RATIO * max(packed, 1):
            raise InputError(f"{what}: refused, the zip expands {expanded / max(packed, 1):,.0f}x (a zip bomb?).")
        chosen = sorted(
            (info for info in infos if _wanted(PurePosixPath(info.filename), suffixes)), key=lambda i: i.filename
        )
        if not chosen:
            raise InputError(f"{what}: the zip holds no {'/'.join(suffixes)} files.")
        for info in chosen:
            try:
                yield info.filename, archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise InputError(f"{what}: {info.filename!r} is damaged ({error}).") from None


def _wanted(name: PurePosixPath, suffixes: tuple[str, ...]) -> bool:
    return name.suffix.lower() in suffixes and "__MACOSX" not in name.parts and not name.name.startswith(".")


class _BoxBudget:
    """Counts boxes while a reader reads, and stops it at the cap: work bounded by the cap, not by
    what a small zip expands to."""

    def __init__(self, what: str, limit: int | None = None):
        self.what, self.limit, self.count = what, MAX_BOXES if limit is None else limit, 0

    def take(self, boxes: int) -> None:
        self.count += boxes
        if self.count > self.limit:
            raise InputError(f"{self.what}: more than {self.limit:,} boxes; refused at the cap, without reading on.")


def _voc_number(node, tag: str, where: str) -> float:
    text = node.findtext(tag)
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError(f"{where}: <{tag}> is {describe_value(text)}, not a number.") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: <{tag}> is {describe_value(text)}.")
    return value


_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")


def _xml_text(data: bytes, name: str) -> str:
    """An XML file's text: its byte-order mark, else its declared encoding, else UTF-8."""
    import codecs

    marks = (  # UTF-32's marks first: UTF-32-LE's starts with UTF-16-LE's
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    encoding = next((encoding for mark, encoding in marks if data.startswith(mark)), None)
    if encoding is None:
        declared = _XML_ENCODING.match(data)
        encoding = declared.group(1).decode() if declared else "utf-8"
    try:
        return data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as error:
        raise InputError(f"{name}: cannot be read as {encoding} text ({error}).") from None


def parse_voc_xml(data: bytes, name: str = "annotation.xml") -> list[dict]:
    """One Pascal VOC annotation file -> box rows with a ``difficult`` flag.

    VOC's devkit ignores difficult objects; COCO has no such flag (its ``ignore`` is ``iscrowd``),
    so they are evaluated as regular ground truth here and the page says how many there are.

    Raises:
        InputError: A DTD or entity (refused: entity expansion), malformed XML, or a bad field.
    """
    import xml.etree.ElementTree as ElementTree

    if len(data) > MAX_XML_BYTES:
        raise InputError(f"{name}: larger than {MAX_XML_BYTES // 1024} KB.")
    text = _xml_text(data, name)  # decoded first: in UTF-16 the DTD's bytes are not b"<!DOCTYPE"
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise InputError(f"{name}: refused, it declares a DTD or entities (an XML bomb can hide there).")
    try:
        root = ElementTree.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", text).encode("utf-8"))
    except ElementTree.ParseError as error:
        raise InputError(f"{name}: not well-formed XML ({error}).") from None
    image = root.findtext("filename") or PurePosixPath(name).stem
    rows = []
    for index, node in enumerate(root.iter("object")):
        where = f"{name}, object {index + 1}"
        label = (node.findtext("name") or "").strip()
        box = node.find("bndbox")
        if not label or box is None:
            raise InputError(f"{where}: needs a <name> and a <bndbox>.")
        corners = [_voc_number(box, tag, where) for tag in ("xmin", "ymin", "xmax", "ymax")]
        if corners[2] < corners[0] or corners[3] < corners[1]:
            raise InputError(f"{where}: xmax < xmin or ymax < ymin ({describe_value(corners)}).")
        difficult = (node.findtext("difficult") or "0").strip() == "1"
        rows.append(dict(zip(BOX_COLUMNS, [image, label, *corners], strict=True), difficult=int(difficult)))
    return rows


def read_voc_zip(data: bytes):
    """A zip of Pascal VOC XML files -> a ground-truth box table (with the ``difficult`` flags)."""
    import pandas as pd

    budget, rows = _BoxBudget("VOC annotations"), []
    for name, xml in _zip_members(data, (".xml",), "VOC annotations"):
        budget.take(len(re.findall(rb"<object[\s>]", xml)))  # counted before the file is parsed
        rows += parse_voc_xml(xml, name)
    return pd.DataFrame(rows, columns=[*BOX_COLUMNS, "difficult"])


def parse_yolo(text: str, image: str, width: float, height: float, class_names: Sequence[str], scored: bool):
    """One YOLO label file (``class cx cy w h [score]`` per line, normalised to [0, 1]) -> box rows."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        where = f"{image}.txt, line {number}"
        expected = 6 if scored else 5
        if len(fields) != expected:
            raise InputError(
                f"{where}: expected {expected} values (class cx cy w h{' score' if scored else ''}), got {len(fields)}."
            )
        try:
            values = [float(v) for v in fields]
        except ValueError:
            raise InputError(f"{where}: {describe_value(line.strip())} holds something that is not a number.") from None
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"{where}: a value is not finite.")
        cls = values[0]
        if not cls.is_integer() or not 0 <= cls < len(class_names):
            raise InputError(f"{where}: class {fields[0]!r} is not one of 0..{len(class_names) - 1}.")
        cx, cy, w, h = values[1:5]
        if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 <= w <= 1 and 0 <= h <= 1):
            raise InputError(f"{where}: cx, cy, w and h must be normalised to [0, 1], got {fields[1:5]}.")
        corners = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
        row = dict(zip(BOX_COLUMNS, [image, class_names[int(cls)], *corners], strict=True))
        if scored:
            row["score"] = values[5]
        rows.append(row)
    return rows


def read_image_sizes(data: bytes) -> dict[str, tuple[float, float]]:
    """A CSV of ``image_id,width,height`` (YOLO's boxes are fractions of these)."""
    import pandas as pd

    frame = tables.read_csv(data, "image sizes", ("image_id", "width", "height"))
    tables.refuse_formulas(frame, ("image_id",), "image sizes")
    sizes = {}
    for row, record in enumerate(frame.itertuples(index=False), start=1):
        width, height = pd.to_numeric(pd.Series([record.width, record.height]), errors="coerce").tolist()
        if not (width > 0 and height > 0):
            raise InputError(f"image sizes: row {row} has width {record.width!r} and height {record.height!r}.")
        sizes[str(record.image_id).strip()] = (float(width), float(height))
    return sizes


def read_yolo_zip(data: bytes, sizes: dict[str, tuple[float, float]], class_names: Sequence[str], scored: bool):
    """A zip of YOLO ``<image>.txt`` files -> a box table (detections when ``scored``)."""
    import pandas as pd

    what = "YOLO detections" if scored else "YOLO labels"
    budget, frames = _BoxBudget(what), []
    columns = [*BOX_COLUMNS, "score"] if scored else list(BOX_COLUMNS)
    for name, raw in _zip_members(data, (".txt",), what):
        image = PurePosixPath(name).stem
        if PurePosixPath(name).name == "classes.txt":
            continue
        if image not in sizes:
            raise InputError(f"{what}: no width and height for image {image!r} in the image sizes.")
        budget.take(raw.count(b"\n") + (not raw.endswith(b"\n")))  # at most a box a line, counted first
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{what}: {name!r} is not UTF-8 text.") from None
        frames.append(_yolo_frame(text, image, *sizes[image], class_names, scored, columns))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _yolo_frame(text: str, image: str, width: float, height: float, class_names, scored: bool, columns):
    """One label file as a box table, vectorised; any file that does not parse at once goes through
    :func:`parse_yolo`, line by line, for the message that names the line."""
    import pandas as pd

    expected = 6 if scored else 5
    try:  # NumPy's C parser: ragged or non-numeric lines raise, and the slow path names them
        values = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2, comments=None) if text.strip() else None
    except ValueError:
        values = None
    if values is None or values.shape[1] != expected:
        if not text.strip():
            return pd.DataFrame(columns=columns)
        return pd.DataFrame(parse_yolo(text, image, width, height, class_names, scored), columns=columns)
    cls, (cx, cy, w, h) = values[:, 0], values[:, 1:5].T
    valid = (
        np.isfinite(values).all()
        and (cls == np.round(cls)).all()
        and ((cls >= 0) & (cls < len(class_names))).all()
        and ((values[:, 1:5] >= 0) & (values[:, 1:5] <= 1)).all()
    )
    if not valid:
        return pd.DataFrame(parse_yolo(text, image, width, height, class_names, scored), columns=columns)
    frame = pd.DataFrame(
        {
            "image_id": image,
            "label": np.asarray(class_names, dtype=object)[cls.astype(np.int64)] if len(cls) else [],
            "x_min": (cx - w / 2) * width,
            "y_min": (cy - h / 2) * height,
            "x_max": (cx + w / 2) * width,
            "y_max": (cy + h / 2) * height,
        }
    )
    if scored:
        frame["score"] = values[:, 5]
    return frame[columns]


# ---------------------------------------------------------------------------------------------
# Writers (the bundled examples, and round trips in the tests)
# ---------------------------------------------------------------------------------------------
def coco_json(data: CocoData) -> tuple[dict, list[dict]]:
    """:class:`CocoData` -> (instances, results) in COCO's JSON form: the ids as they are (types kept),
    boxes as (x, y, width, height) as held, annotations numbered from 1."""
    images = [{"id": image} for image in data.image_ids]
    categories = [
        {"id": category, "name": name} for category, name in zip(data.category_ids, data.category_names, strict=True)
    ]
    annotations = [
        {
            "id": number,
            "image_id": data.image_ids[image],
            "category_id": data.category_ids[k],
            "bbox": box.tolist(),
            "area": float(area),
            "iscrowd": int(crowd),
        }
        for number, (image, k, box, area, crowd) in enumerate(
            zip(data.gt_image, data.gt_category, data.gt_boxes, data.gt_area, data.gt_crowd, strict=True), start=1
        )
    ]
    results = [
        {
            "image_id": data.image_ids[image],
            "category_id": data.category_ids[k],
            "bbox": box.tolist(),
            "score": float(score),
        }
        for image, k, box, score in zip(data.dt_image, data.dt_category, data.dt_boxes, data.dt_score, strict=True)
    ]
    return {"images": images, "categories": categories, "annotations": annotations}, results


def to_coco_json(ground_truth, detections) -> tuple[bytes, bytes]:
    """Box tables -> (instances JSON, results JSON); class ids 1.. in sorted label order."""
    data = from_tables(ground_truth, detections)
    data = replace(data, category_ids=list(range(1, len(data.category_ids) + 1)))
    instances, results = coco_json(data)
    for image in instances["images"]:
        image["file_name"] = f"{image['id']}.jpg"
    return json.dumps(instances, indent=1).encode(), json.dumps(results, indent=1).encode()


def _voc_coordinate(value: float) -> str:
    """VOC writes whole pixels (``48``, not ``48.0``); a fractional corner keeps its digits."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def to_voc_zip(ground_truth, sizes: dict[str, tuple[float, float]], extension: str = ".jpg") -> bytes:
    """A ground-truth box table -> a zip of Pascal VOC XML files, one per image, as VOC writes them:
    ``<folder>``, ``<filename>`` with the image's extension, ``<size>`` (width, height, depth 3),
    ``<segmented>``, and per object ``<name>``, ``<pose>``, ``<truncated>``, ``<difficult>`` and a
    ``<bndbox>`` in whole pixels."""
    import xml.etree.ElementTree as ElementTree
    import zipfile

    def element(parent, tag: str, text) -> None:
        ElementTree.SubElement(parent, tag).text = str(text)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for image, rows in ground_truth.groupby("image_id", sort=True):
            width, height = sizes[str(image)]
            root = ElementTree.Element("annotation")
            element(root, "folder", "JPEGImages")
            element(root, "filename", f"{image}{extension}")
            size = ElementTree.SubElement(root, "size")
            for tag, value in (("width", width), ("height", height), ("depth", 3)):
                element(size, tag, _voc_coordinate(value))
            element(root, "segmented", 0)
            for row in rows.itertuples(index=False):
                node = ElementTree.SubElement(root, "object")
                element(node, "name", row.label)
                element(node, "pose", "Unspecified")
                element(node, "truncated", 0)
                element(node, "difficult", int(getattr(row, "difficult", 0)))
                box = ElementTree.SubElement(node, "bndbox")
                for tag in ("xmin", "ymin", "xmax", "ymax"):
                    element(box, tag, _voc_coordinate(getattr(row, tag.replace("m", "_m", 1))))
            ElementTree.indent(root)
            archive.writestr(f"Annotations/{image}.xml", ElementTree.tostring(root) + b"\n")
    return buffer.getvalue()


def to_yolo_zip(boxes, sizes: dict[str, tuple[float, float]], class_names: Sequence[str]) -> bytes:
    """A box table -> a zip of YOLO ``<image>.txt`` files (with a score column for detections)."""
    import zipfile

    index = {name: i for i, name in enumerate(class_names)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for image, rows in boxes.groupby("image_id", sort=True):
            width, height = sizes[str(image)]
            lines = []
            for row in rows.itertuples(index=False):
                cx, cy = (row.x_min + row.x_max) / 2 / width, (row.y_min + row.y_max) / 2 / height
                w, h = (row.x_max - row.x_min) / width, (row.y_max - row.y_min) / height
                line = f"{index[row.label]} {cx!r} {cy!r} {w!r} {h!r}"
                lines.append(line + (f" {float(row.score)!r}" if "score" in boxes.columns else ""))
            archive.writestr(f"labels/{image}.txt", "\n".join(lines) + "\n")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# One entry point for the page: a format and its uploaded files
# ---------------------------------------------------------------------------------------------
FORMATS = {
    # format: (label, [(input name, what to upload, file types)])
    "csv": ("CSV tables", [("gt_csv", "Ground truth CSV", ["csv"]), ("det_csv", "Detections CSV (+ score)", ["csv"])]),
    "coco": (
        "COCO JSON",
        [
            ("coco_gt", "Ground truth: COCO instances JSON (or .json.gz)", ["json", "gz"]),
            ("coco_dt", "Detections: COCO results JSON (or .json.gz)", ["json", "gz"]),
        ],
    ),
    "voc": (
        "Pascal VOC XML",
        [("voc_zip", "Ground truth: zip of VOC XML files", ["zip"]), ("voc_det", "Detections CSV (+ score)", ["csv"])],
    ),
    "yolo": (
        "YOLO txt",
        [
            ("yolo_gt", "Ground truth: zip of YOLO label .txt files", ["zip"]),
            ("yolo_det", "Detections: zip of YOLO .txt files with a 6th score column", ["zip"]),
            ("yolo_sizes", "Image sizes CSV (image_id,width,height)", ["csv"]),
            ("yolo_names", "Class names, one per line (classes.txt)", ["txt"]),
        ],
    ),
}


def class_names_text(data: bytes) -> list[str]:
    try:
        names = [line.strip() for line in data.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise InputError("class names: not UTF-8 text.") from None
    if not names or len(names) > 10_000:
        raise InputError(f"class names: expected 1 to 10,000 names, one per line; got {len(names)}.")
    return names


def load(format_name: str, files: dict[str, bytes]) -> CocoData:
    """The uploaded files of one of :data:`FORMATS` as :class:`CocoData`.

    Raises:
        InputError: Unknown format, a missing file, or anything its reader refuses.
    """
    if format_name not in FORMATS:
        raise InputError(f"Unknown format {describe_value(format_name)}; choose one of {', '.join(FORMATS)}.")
    missing = [label for name, label, _ in FORMATS[format_name][1] if name not in files]
    if missing:
        raise InputError(f"Upload {', '.join(missing)}.")
    from lab import detection

    if format_name == "csv":
        gt = detection.read_boxes_csv(files["gt_csv"], "ground truth")
        det = detection.read_boxes_csv(files["det_csv"], "detections", with_score=True)
        return from_tables(gt, det, table_notes(gt, det, "CSV"))
    if format_name == "coco":
        return read_coco_json(files["coco_gt"], files["coco_dt"])
    if format_name == "voc":
        gt = read_voc_zip(files["voc_zip"])
        det = detection.read_boxes_csv(files["voc_det"], "detections", True)
        gt, renamed = voc_stems(gt, det)
        return from_tables(gt, det, [*renamed, *difficult_note(gt), *table_notes(gt, det, "Pascal VOC XML")])
    sizes, names = read_image_sizes(files["yolo_sizes"]), class_names_text(files["yolo_names"])
    gt = read_yolo_zip(files["yolo_gt"], sizes, names, False)
    det = read_yolo_zip(files["yolo_det"], sizes, names, True)
    notes = [*yolo_rounding_note(gt, "ground truth"), *yolo_rounding_note(det, "detections")]
    return from_tables(gt, det, [*notes, *table_notes(gt, det, "YOLO txt")])


def example_files(format_name: str) -> dict[str, tuple[str, bytes]]:
    """The built-in example written in ``format_name``: {input name: (file name, bytes)}."""
    from lab import detection

    gt, det = detection.example_detections()
    if format_name == "csv":
        return {
            "gt_csv": ("ground_truth.csv", gt.to_csv(index=False).encode()),
            "det_csv": ("detections.csv", det.to_csv(index=False).encode()),
        }
    if format_name == "coco":
        instances, results = to_coco_json(gt, det)
        return {"coco_gt": ("instances.json", instances), "coco_dt": ("results.json", results)}
    sizes = {image: (200.0, 160.0) for image in sorted(set(gt["image_id"]) | set(det["image_id"]))}
    if format_name == "voc":
        return {
            "voc_zip": ("voc_annotations.zip", to_voc_zip(gt, sizes)),
            "voc_det": ("detections.csv", det.to_csv(index=False).encode()),
        }
    names = sorted(set(gt["label"]) | set(det["label"]))
    size_csv = "image_id,width,height\n" + "".join(f"{i},{w:g},{h:g}\n" for i, (w, h) in sizes.items())
    return {
        "yolo_gt": ("yolo_labels.zip", to_yolo_zip(gt, sizes, names)),
        "yolo_det": ("yolo_detections.zip", to_yolo_zip(det, sizes, names)),
        "yolo_sizes": ("image_sizes.csv", size_csv.encode()),
        "yolo_names": ("classes.txt", ("\n".join(names) + "\n").encode()),
    }
