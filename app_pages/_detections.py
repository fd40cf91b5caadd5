"""The detections input of the PR / mAP explorer: the built-in example, or uploads in one of the formats.

It returns what was read and where the page's "Show the code" script finds the same data: the
example written into the script, the learner's own COCO JSON files by name, or (for CSV, VOC and
YOLO) the page's COCO JSON of what it scored, offered for download beside the script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import streamlit as st

from app_pages._widgets import bound, friendly_errors
from lab import annotations, codegen, detect, detection, images
from lab.coco import CocoData

UPLOAD_NOTE = (
    f"Each file up to {images.DEFAULT_MAX_BYTES // 2**20} MB. A larger COCO JSON file (COCO val2017's results are "
    f"about 32 MB) uploads gzip-compressed as `.json.gz`, up to {annotations.MAX_JSON_BYTES // 2**20} MB once "
    "decompressed; zips up to the same upload cap."
)


@dataclass(frozen=True)
class Detections:
    """What the page scores, and how its script finds it."""

    data: CocoData
    script_data: dict | tuple[str, str]  # the example as COCO JSON, or two file names
    format_label: str
    script_json: tuple[str, str] | None = None  # a CSV/VOC/YOLO upload as the COCO JSON the script reads


@st.cache_data(max_entries=4, show_spinner="Reading the detection files…")
def _load(format_name: str, files: dict[str, bytes]) -> CocoData:
    return annotations.load(format_name, files)  # once per content, not on every rerun


@st.cache_data(max_entries=2, show_spinner="Writing the detections as COCO JSON…")
def _script_json(format_name: str, files: dict[str, bytes]) -> tuple[str, str]:
    """Once per upload, not on every rerun: 10^6 boxes make tens of MB of JSON."""
    instances, results = annotations.coco_json(_load(format_name, files))
    return json.dumps(instances), json.dumps(results)


def _example() -> Detections:
    data = annotations.from_tables(*detection.example_detections())
    instances, results = annotations.coco_json(data)
    return Detections(data, {"instances": instances, "results": results}, "the built-in example")


def _from_run(run_id: str) -> Detections:
    """A Detect run's test detections (``?pr.run=``), as the Detect page's "open in the explorer" sends them."""
    with friendly_errors():
        instances, results = detect.coco_files(run_id)
        data = _load("coco", {"coco_gt": instances, "coco_dt": results})
    label = f"detect run {run_id}'s test canvases"
    return Detections(data, codegen.DETECTION_FILES, label, (instances.decode(), results.decode()))


def detections_ui() -> Detections:
    """A Detect run's detections (from its link), the built-in example, or uploads in one of
    :data:`lab.annotations.FORMATS`."""
    run_id = st.query_params.get("pr.run")
    if run_id and bound(st.toggle, f"Use detect run {run_id}'s detections", "pr.use_run", True):
        return _from_run(run_id)
    if bound(st.toggle, "Use the built-in example", "pr.example", True):
        return _example()
    formats = annotations.FORMATS
    chosen = bound(
        st.segmented_control, "Format", "pr.format", "csv", list(formats), format_func=lambda f: formats[f][0]
    )
    chosen = chosen or "csv"
    inputs, example = formats[chosen][1], annotations.example_files(chosen)
    st.caption(UPLOAD_NOTE)
    files, names = {}, {}
    for col, (name, label, types) in zip(st.columns(len(inputs)), inputs, strict=True):
        if (upload := col.file_uploader(label, type=types, key=f"pr.{name}")) is not None:
            files[name], names[name] = upload.getvalue(), upload.name
        col.download_button(
            "Example file", example[name][1], example[name][0], key=f"pr.example.{name}", on_click="ignore"
        )
    if len(files) < len(inputs):
        st.info("Upload both files, or use the built-in example." if len(inputs) == 2 else "Upload every file.")
        st.stop()
    with friendly_errors():
        data = _load(chosen, files)
    label = formats[chosen][0]
    if chosen == "coco":
        return Detections(data, (names["coco_gt"], names["coco_dt"]), label)
    return Detections(data, codegen.DETECTION_FILES, label, _script_json(chosen, files))


def script_files(found: Detections) -> None:
    """For CSV, VOC and YOLO uploads: the COCO JSON the script reads, as downloads."""
    if found.script_json is None:
        return
    st.caption(f"The script reads these two files: what the page scored, from your {found.format_label} files.")
    for col, name, content in zip(st.columns(2), codegen.DETECTION_FILES, found.script_json, strict=True):
        col.download_button(
            f"Download {name}", content, name, "application/json", key=f"pr.coco.{name}", on_click="ignore"
        )


def notes(found: Detections) -> None:
    """What the reader changed, dropped or could not carry over, with counts."""
    for note in found.data.notes:
        st.warning(note, icon=":material/info:")
