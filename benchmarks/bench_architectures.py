"""The Classic architectures page's numbers: each architecture's parameters and multiply-adds against its
reference (keras.applications, the literature, TensorFlow's profiler), the time to count it without its
weights against building it the plain way, the page's server time for 8 architectures (a real server), and
a short comparison run (each scaled-down version on the digits, 3 epochs).

Goal (issue 30): parameters equal to the reference, multiply-adds within 1%, the view <= 0.3 s for 8.
Run from the repository root: ``python -m benchmarks.bench_architectures`` (``--no-training`` skips the
comparison run). The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import tempfile
import time

import models
from lab import runlog, zoo
from recipes import architectures
from tests.flops import tensorflow_multiply_adds

EIGHT = "lenet5,alexnet,vgg16,googlenet,resnet50,xception,se_resnet50,mobilenet"


def counts() -> dict:
    """Per architecture at its paper's size: ours against the references, and the counting time."""
    import keras

    figures = {}
    print(
        f"{'architecture':14} {'parameters':>12} {'reference':>12} {'MACs':>9} {'TF':>9} {'paper':>9} depth  RF   count s  build s"
    )
    for name, spec in models.ARCHITECTURES.items():
        start = time.perf_counter()
        counted = architectures.figures(architectures.build(name, 0, 1.0, 0), 1)
        count_s = time.perf_counter() - start
        start = time.perf_counter()
        models.build(name, spec.input_shape, spec.classes, **spec.paper_options)  # the plain way: weights made
        build_s = time.perf_counter() - start
        keras.backend.clear_session()
        plain = functools.partial(models.build, name, spec.input_shape, spec.classes)
        tensorflow = tensorflow_multiply_adds(plain, spec.input_shape)  # one tower: no grouped convolution counted
        one_tower = architectures.figures(
            architectures.shapes_only(models.MODELS[name], spec.input_shape, spec.classes), 1
        )
        paper = f"{spec.multiply_adds / 1e9:.3f}G" if spec.multiply_adds else "-"
        print(
            f"{spec.label:14} {counted['parameters']:>12,} {spec.parameters:>12,} {counted['multiply-adds'] / 1e9:>8.3f}G "
            f"{tensorflow / 1e9:>8.3f}G {paper:>9} {counted['depth']:>5} {counted['receptive field']:>4} "
            f"{count_s:>8.2f} {build_s:>8.2f}"
        )
        figures[name] = {
            "parameters": counted["parameters"],
            "parameters_equal_reference": counted["parameters"] == spec.parameters,
            "multiply_adds": counted["multiply-adds"],
            "multiply_adds_over_tensorflow": round(one_tower["multiply-adds"] / tensorflow, 6),
            "multiply_adds_over_paper": round(counted["multiply-adds"] / spec.multiply_adds, 4)
            if spec.multiply_adds
            else None,
            "depth": counted["depth"],
            "receptive_field": counted["receptive field"],
            "count_s": round(count_s, 3),
            "build_s": round(build_s, 3),
        }
    return figures


def page_times() -> dict:
    """Server time of the page with 8 architectures: a new session (the counts already cached by an earlier
    one, as on a running server), reruns, a batch size change, the 32 px view."""
    from benchmarks.streamlit_client import server, state_times, visit

    states = {"view_8_s": f"arch.names={EIGHT}", "batch_change_s": f"arch.names={EIGHT}&arch.batch=8"}
    states["scaled_32_s"] = f"arch.names={EIGHT}&arch.size=32"
    figures = {}
    with server(os.environ["CNNLAB_HOME"]) as (port, _):
        first = asyncio.run(visit(port, "architectures", states["view_8_s"], timeout=300))[0]
        figures["first_visit_s"] = round(first.seconds, 2)  # TensorFlow imported, the 8 counted: once per server
        for name, query in states.items():
            times = state_times(port, "architectures", query, timeout=300)  # the first visit: counts into the cache
            figures[name] = round(times.rerun_s, 3)
            figures[name.replace("_s", "_new_session_s")] = round(times.new_session_s, 3)
    print("page, server time (median of 3 reruns):", figures)
    return figures


def comparison() -> dict:
    """Each scaled-down architecture on the digits (32x32), 3 epochs, one run: accuracy, time, parameters."""
    config = zoo.CompareConfig(names=tuple(EIGHT.split(",")), epochs=3)
    start = time.perf_counter()
    result = zoo.run(config, tempfile.mkdtemp(prefix="bench_compare_"), runlog.RunLog(lambda rows: None))
    for row in zoo.results_table(result):
        print(
            f"  {row['architecture']:14} test accuracy {row['test accuracy']:.3f}, {row['parameters']:>9,} parameters, {row['training time (s)']:6.1f} s"
        )
    accuracies = {name: values["test_accuracy"] for name, values in result["architectures"].items()}
    return {"comparison_s": round(time.perf_counter() - start, 1), "comparison_accuracy": accuracies}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-training", action="store_true", help="skip the comparison run")
    options = parser.parse_args()
    os.environ.setdefault("CNNLAB_HOME", tempfile.mkdtemp(prefix="bench_architectures_"))
    figures = {"architectures": counts()}
    figures |= page_times()
    if not options.no_training:
        figures |= comparison()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
