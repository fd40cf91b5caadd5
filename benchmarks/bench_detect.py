"""The Detect page's numbers: each step's default run (trained here, timed), the FCN against the window
loop, our NMS against ``tf.image.non_max_suppression``, and the page's interactions (server time).

Run from the repository root: ``python -m benchmarks.bench_detect`` (``--search`` also trains the grid
detector at cheaper settings, to show which hold the goal: AP50 >= 0.90 and AP >= 0.55 in <= 120 s).
The last line is one JSON object of the figures.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.timing import interleaved, report
from lab import detect, jobs, runlog
from recipes import detect as recipe

ROOT = Path(__file__).resolve().parent.parent
GRID_SEARCH = ((2000, 8), (3000, 6), (3000, 8), (4000, 6), (4000, 8))  # (training canvases, epochs)


def trained(config: detect.DetectConfig) -> tuple[str, dict, float]:
    """A run of ``config`` in this process, registered as a worker's would be; its id, result and wall time."""
    run_id = jobs.create("detect", config.to_dict(), status="succeeded")
    start = time.perf_counter()
    result = detect.run(config, jobs.run_dir(run_id), runlog.RunLog(lambda rows: None))
    jobs.update(run_id, result=json.dumps(result))
    return run_id, result, time.perf_counter() - start


def fcn_figures(run_id: str) -> dict:
    """The FCN once over a canvas against the crop classifier looped over its windows, and batched."""
    model = detect.load_model(run_id)
    fcn = recipe.to_fcn(model)
    config = detect.demo_config(detect.DetectConfig.from_dict(jobs.get(run_id).config))
    canvas = detect.test_canvases(config, 1)[0][0]
    crops, _ = recipe.windows(canvas)
    _, difference, _, _ = recipe.fcn_check(model, fcn, canvas)
    times = interleaved(
        {
            "fcn": lambda: fcn(canvas[np.newaxis], training=False),
            "loop": lambda: [model(crop[np.newaxis], training=False) for crop in crops],
            "batched": lambda: model(crops, training=False),
        },
        repeat=5,
    )
    report(f"FCN once vs the CNN on {len(crops)} windows, one call each", times["fcn"], times["loop"], None, "loop")
    report("FCN once vs the CNN on every window as one batch", times["fcn"], times["batched"], None, "batch")
    return {
        "fcn_max_diff": difference,
        "fcn_speedup": round(times["loop"] / times["fcn"], 1),
        "fcn_vs_batched": round(times["batched"] / times["fcn"], 2),
    }


def nms_against_tensorflow(cases: int = 200) -> float:
    """The largest coordinate difference between the boxes our NMS and TensorFlow's keep (0: the same)."""
    import tensorflow as tf

    rng, worst = np.random.default_rng(0), 0.0
    for _ in range(cases):
        count = int(rng.integers(1, 200))
        corners = rng.uniform(0, 64, (count, 2, 2))
        boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
        scores, iou_threshold, score_threshold = rng.random(count), rng.uniform(0.1, 0.9), rng.uniform(0, 0.5)
        ours = boxes[recipe.nms(boxes, scores, iou_threshold, score_threshold)]
        kept = tf.image.non_max_suppression(
            boxes[:, [1, 0, 3, 2]].astype(np.float32), scores.astype(np.float32), 100, iou_threshold, score_threshold
        ).numpy()
        theirs = boxes[kept]
        if ours.shape != theirs.shape:
            return float("inf")
        worst = max(worst, float(np.abs(ours - theirs).max(initial=0.0)))
    print(f"NMS on {cases} random sets of up to 200 boxes: largest difference from TensorFlow's {worst}")
    return worst


def interactions(grid_run: str) -> dict:
    """Server time (to ``script_finished``, a real server over its websocket) of the URL states the
    page's quick interactions lead to: NMS thresholds, the step button, another seed's samples."""

    from benchmarks.streamlit_client import server, state_times

    states = {
        "nms_slider_s": f"det.step=nms&run={grid_run}&det.nms.score=0.05&det.nms.iou=0.3",
        "nms_step_button_s": f"det.step=nms&run={grid_run}&det.nms.score=0.05&det.nms.shown=2",
        "grid_canvas_s": f"det.step=grid&run={grid_run}&det.grid.canvas=3",
        "sample_redraw_s": "det.step=grid&det.grid.seed=7",
    }
    figures = {}
    with server(os.environ["CNNLAB_HOME"]) as (port, _):
        for name, query in states.items():
            times = state_times(port, "detect", query)
            figures[f"{name[:-2]}_new_session_s"] = round(times.first_s, 3)  # a new seed: canvases made anew
            figures[name] = round(times.rerun_s, 3)
    print("page reruns, server time (median of 3):", figures)
    return figures


def main() -> None:
    os.environ.setdefault("CNNLAB_HOME", tempfile.mkdtemp(prefix="bench_detect_"))
    if "--only-interactions" in sys.argv:  # a quick check of the page's reruns, on a tiny run
        grid_run, _, _ = trained(detect.for_task("grid", train_canvases=1000, epochs=3))
        print(json.dumps(interactions(grid_run)))
        return
    figures = {}
    _, localized, _ = trained(detect.for_task("localize"))
    print(f"step 1, localize: mean test IoU {localized['mean_iou']}, random boxes {localized['random_box_iou']}, ")
    print(f"  class accuracy {localized['class_accuracy']}, {localized['seconds']} s of training")
    figures |= {"localization_iou": localized["mean_iou"], "random_box_iou": localized["random_box_iou"]}
    figures |= {
        "localization_class_accuracy": localized["class_accuracy"],
        "localization_train_s": localized["seconds"],
    }
    crops_run, cropped, _ = trained(detect.for_task("crops"))
    print(f"step 2, crops: test crop accuracy {cropped['crop_accuracy']}, {cropped['seconds']} s of training")
    figures |= fcn_figures(crops_run)
    grid_run, grid, _ = trained(detect.for_task("grid"))
    print(f"step 3, grid: COCO AP50 {grid['AP50']}, AP {grid['AP']}, VOC AP50 {grid['VOC AP50']}, {grid['seconds']} s")
    figures |= {"detector_ap50": grid["AP50"], "detector_ap": grid["AP"], "detector_train_s": grid["seconds"]}
    if "--search" in sys.argv:
        for canvases, epochs in GRID_SEARCH:
            _, found, _ = trained(detect.for_task("grid", train_canvases=canvases, epochs=epochs))
            print(
                f"  grid, {canvases} canvases x {epochs} epochs: AP50 {found['AP50']}, AP {found['AP']}, {found['seconds']} s"
            )
    figures["nms_max_diff_vs_tf"] = nms_against_tensorflow()
    figures |= interactions(grid_run)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
