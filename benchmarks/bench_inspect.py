"""The Inspect page: a neuron's arithmetic against the model's own value (every layer of a trained digits
model), the time one neuron takes (digits, and MobileNetV2 at 224 x 224), the page's reruns on a real
server, and the Grad-CAM trust checks of a trained digits model against its randomised twin.

Run from the repository root: ``python -m benchmarks.bench_inspect``. The last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import numpy as np

from lab import inspect, jobs, runlog, training
from recipes import saliency


def trained_digits() -> tuple[str, object, np.ndarray]:
    config = training.TrainConfig()
    run_id = jobs.create("train", config.to_dict(), status="succeeded")
    result = training.run(config, jobs.run_dir(run_id), runlog.RunLog(lambda rows: None))
    jobs.update(run_id, result=json.dumps(result))
    return run_id, runlog.load_model(jobs.run_dir(run_id)), training.load_data(config).x_test


def neuron_seconds(model, shape, picture, layer: str, repeat: int = 5) -> tuple[float, float]:
    """The first call of a layer (its probe built) and the best warm call."""
    start = time.perf_counter()
    inspect.neuron(model, shape, picture, layer, 1, 1, 0)
    first = time.perf_counter() - start
    warm = []
    for _ in range(repeat):
        start = time.perf_counter()
        inspect.neuron(model, shape, picture, layer, 1, 1, 0)
        warm.append(time.perf_counter() - start)
    return first, min(warm)


def trust_figures(model, pictures: np.ndarray, count: int = 20) -> dict:
    """The trained model's checks, and how its maps compare with a twin re-initialised throughout."""
    shape = pictures.shape[1:]
    twin = saliency.randomised(model, shape, len([layer for layer in model.layers if layer.weights]))
    reports = [inspect.trust(model, picture) for picture in pictures[:count]]
    twin_rho = [
        saliency.rank_correlation(report.cam, saliency.grad_cam(twin, picture, report.class_id))
        for report, picture in zip(reports, pictures[:count], strict=True)
    ]
    twin_areas = []
    for report, picture in zip(reports, pictures[:count], strict=True):
        cam = saliency.grad_cam(twin, picture, report.class_id)
        twin_areas.append(saliency.deletion(twin, picture, report.class_id, cam)[2])
    cascade = np.mean([[rho for _, rho in report.cascade] for report in reports], axis=0)
    print("Grad-CAM trust checks on", count, "test digits (trained small CNN):")
    print("  rank correlation with the trained map, top 1-4 layers re-initialised:", np.round(cascade, 3).tolist())
    print(f"  flagged (still > {inspect.UNCHANGED} after 4): {sum(r.flagged for r in reports)} of {count}")
    print(
        f"  deletion area (random - salient): trained {np.mean([r.area for r in reports]):+.3f}, twin {np.mean(twin_areas):+.3f}"
    )
    print(f"  the fully randomised twin's maps: rank correlation {np.mean(twin_rho):.3f} with the trained ones")
    return {
        "trust_cascade_rho": [round(float(v), 3) for v in cascade],
        "trust_flagged": int(sum(r.flagged for r in reports)),
        "trust_deletion_area": round(float(np.mean([r.area for r in reports])), 3),
        "twin_deletion_area": round(float(np.mean(twin_areas)), 3),
        "twin_rank_correlation": round(float(np.mean(twin_rho)), 3),
    }


def page_reruns(run_id: str, layers: list[str]) -> dict:
    from benchmarks.streamlit_client import server, state_times

    figures = {}
    with server(os.environ["CNNLAB_HOME"]) as (port, _):
        for layer in layers:
            query = f"inspect.run={run_id}&inspect.layer={layer}&inspect.row=1&inspect.col=1"
            times = state_times(port, "inspect", query)  # the first visit warms the model, data and checks
            figures[f"rerun_{layer}_s"] = round(times.rerun_s, 3)
    print("page reruns, server time (median of 3):", figures)
    return figures


def main() -> None:
    os.environ.setdefault("CNNLAB_HOME", tempfile.mkdtemp(prefix="bench_inspect_"))
    from lab.device import keras

    run_id, model, x_test = trained_digits()
    shape = x_test.shape[1:]
    differences = []
    for name, kind, _ in inspect.layers(model, shape):
        if kind == "Conv2D":
            view = inspect.neuron(model, shape, x_test[0], name, 2, 2, 1)
            differences.append(view.difference)
    print(f"digits model: its {len(differences)} Conv2D layers, largest |ours - the model's| {max(differences):.1e}")
    figures = {"neuron_max_difference": max(differences)}
    first, warm = neuron_seconds(model, shape, x_test[0], "conv2d_1")
    figures |= {"digits_neuron_first_s": round(first, 4), "digits_neuron_warm_s": round(warm, 4)}
    mobile = keras.applications.MobileNetV2(weights=None)
    photo = np.random.default_rng(0).random((224, 224, 3)).astype(np.float32)
    layer = [name for name, kind, _ in inspect.layers(mobile, (224, 224, 3)) if kind == "Conv2D"][5]
    first, warm = neuron_seconds(mobile, (224, 224, 3), photo, layer)
    figures |= {"mobilenetv2_neuron_first_s": round(first, 3), "mobilenetv2_neuron_warm_s": round(warm, 3)}
    print(
        f"one neuron: digits {figures['digits_neuron_warm_s']} s warm; MobileNetV2 {first:.3f} s first, {warm:.3f} s warm"
    )
    figures |= trust_figures(model, x_test)
    figures |= page_reruns(run_id, ["conv2d", "max_pooling2d", "dense"])
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
