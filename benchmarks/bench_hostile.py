"""Hostile detection uploads: how long each takes to be refused, and a legitimate file at the cap.

The issue's zips: 77 KB of YOLO labels (30 files x 45,409 lines) and 614 KB of VOC XML (150 files x
7,454 objects) were refused after 62-81 s. The readers now count boxes before parsing each file and
stop at the cap; the whole archive's expansion is checked before anything is read. Beside them, a
real YOLO set of 10^6 boxes (the cap) is read, against NumPy's own ``loadtxt`` of the same lines.

Run from the repository root: ``python -m benchmarks.bench_hostile`` (or ``make bench``).
"""

from __future__ import annotations

import io
import json
import time

import numpy as np

from lab import annotations
from lab.errors import InputError
from tests.zipgen import make_zip


def refused_after(reader) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        reader()
    except InputError as error:
        return time.perf_counter() - start, str(error)
    raise AssertionError("not refused")


def main() -> None:
    figures = {}
    line = b"0 0.5 0.5 0.1 0.1\n"
    yolo = make_zip({f"labels/img{i}.txt": line * 45_409 for i in range(30)})
    sizes = {f"img{i}": (640.0, 480.0) for i in range(30)}
    seconds, why = refused_after(lambda: annotations.read_yolo_zip(yolo, sizes, ["thing"], False))
    print(f"YOLO bomb ({len(yolo) / 1024:.0f} KB, 1.36 M lines): refused in {seconds:.3f} s (was 62-81 s): {why}")
    figures["yolo_bomb_refused_s"] = round(seconds, 4)
    obj = b"<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>"
    voc = make_zip(
        {
            f"Annotations/{i}.xml": b"<annotation><filename>a</filename>" + obj * 7_454 + b"</annotation>"
            for i in range(150)
        }
    )
    seconds, why = refused_after(lambda: annotations.read_voc_zip(voc))
    print(f"VOC bomb ({len(voc) / 1024:.0f} KB, 1.1 M objects): refused in {seconds:.3f} s (was 62-81 s): {why}")
    figures["voc_bomb_refused_s"] = round(seconds, 4)

    rng = np.random.default_rng(0)
    files, per_file = 100, 10_000  # 10^6 boxes: the cap
    texts = {}
    for i in range(files):
        values = np.column_stack(
            [rng.integers(0, 3, per_file), rng.uniform(0.2, 0.8, (per_file, 2)), rng.uniform(0.01, 0.2, (per_file, 2))]
        )
        texts[f"labels/img{i}.txt"] = "\n".join(" ".join(f"{v:.6g}" for v in row) for row in values).encode() + b"\n"
    legit = make_zip(texts)
    sizes = {f"img{i}": (640.0, 480.0) for i in range(files)}
    start = time.perf_counter()
    table = annotations.read_yolo_zip(legit, sizes, ["a", "b", "c"], False)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for data in texts.values():
        np.loadtxt(io.BytesIO(data))
    numpy_time = time.perf_counter() - start
    print(
        f"YOLO at the cap ({len(table):,} boxes, {len(legit) / 2**20:.1f} MB zip): {ours:.2f} s; "
        f"np.loadtxt of the same files {numpy_time:.2f} s; ratio {ours / numpy_time:.2f}"
    )
    figures.update(
        yolo_cap_read_s=round(ours, 3), yolo_cap_loadtxt_s=round(numpy_time, 3), ratio=round(ours / numpy_time, 2)
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
