"""The Segment page's numbers: its default U-Net trained here (timed) and scored on 500 test canvases, the
same network without its skip connections beside it, the page's interactions (server time, a real server).

Goal (issue 30): foreground IoU >= 0.90 and mIoU (11 classes) >= 0.75 after <= 120 s of training.
Run from the repository root: ``python -m benchmarks.bench_segment`` (``--seeds 0,1,2`` trains the default at
other seeds too). The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from lab import jobs, runlog, segment


def trained(config: segment.SegmentConfig) -> tuple[str, dict]:
    """A run of ``config`` in this process, registered as a worker's would be: its id and result."""
    run_id = jobs.create("segment", config.to_dict(), status="succeeded")
    result = segment.run(config, jobs.run_dir(run_id), runlog.RunLog(lambda rows: None))
    jobs.update(run_id, result=json.dumps(result))
    return run_id, result


def line(name: str, result: dict) -> str:
    worst = min((iou, name) for name, iou in result["class_iou"].items() if iou is not None)
    return (
        f"{name}: foreground IoU {result['foreground_iou']}, mIoU {result['miou']}, pixel accuracy "
        f"{result['pixel_accuracy']}, {result['parameters']:,} parameters, {result['seconds']} s of training "
        f"(worst class: {worst[1]} {worst[0]})"
    )


def interactions(run_id: str) -> dict:
    """Server time (to ``script_finished``, over the websocket) of the finished run's view and its rank slider."""
    from benchmarks.streamlit_client import server, state_times

    states = {"results_s": f"run={run_id}", "rank_slider_s": f"run={run_id}&seg.rank=5"}
    figures = {}
    with server(os.environ["CNNLAB_HOME"]) as (port, _):
        for name, query in states.items():
            times = state_times(port, "segment", query)
            figures[f"{name[:-2]}_new_session_s"] = round(times.first_s, 3)
            figures[name] = round(times.rerun_s, 3)
    print("page reruns, server time (median of 3):", figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="", help="more seeds of the default run, e.g. 1,2")
    options = parser.parse_args()
    os.environ.setdefault("CNNLAB_HOME", tempfile.mkdtemp(prefix="bench_segment_"))
    start = time.perf_counter()
    run_id, skips = trained(segment.SegmentConfig())
    print(line("U-Net (skips)", skips))
    _, plain = trained(segment.SegmentConfig(skips=False))
    print(line("no skips", plain))
    figures = {
        "foreground_iou": skips["foreground_iou"],
        "miou": skips["miou"],
        "pixel_accuracy": skips["pixel_accuracy"],
        "train_s": skips["seconds"],
        "parameters": skips["parameters"],
        "foreground_iou_no_skips": plain["foreground_iou"],
        "miou_no_skips": plain["miou"],
        "train_s_no_skips": plain["seconds"],
        "parameters_no_skips": plain["parameters"],
    }
    for seed in filter(None, options.seeds.split(",")):
        _, other = trained(segment.SegmentConfig(seed=int(seed)))
        print(line(f"seed {seed}", other))
        figures[f"miou_seed_{seed}"], figures[f"foreground_iou_seed_{seed}"] = other["miou"], other["foreground_iou"]
    figures |= interactions(run_id)
    figures["bench_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
