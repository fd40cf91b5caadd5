"""Throughput of a run through lab.jobs (worker body: checkpoints, CSV, live metrics) versus a plain
model.fit of the same model and data, interleaved; then the digits accuracy/time of the CLI run.

Run from the repository root: ``python -m benchmarks.bench_training`` (or ``make bench``).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

EPOCHS = 12


def plain_fit(config) -> float:
    from lab import datasets, training
    from lab.device import keras

    keras.utils.set_random_seed(config.seed)
    data = datasets.load(config.dataset, config.seed)
    model = training.build_model(config, data.input_shape, data.num_classes)
    train = datasets.pipeline(data.x_train, data.y_train, config.batch_size, shuffle=True, seed=config.seed)
    valid = datasets.pipeline(data.x_valid, data.y_valid, 256)
    start = time.perf_counter()
    model.fit(train, validation_data=valid, epochs=config.epochs, verbose=0, shuffle=False)
    return len(data.x_train) * config.epochs / (time.perf_counter() - start)


def through_jobs(config) -> tuple[float, dict]:
    from lab import worker

    run_id = worker.create("train", config.to_dict(), status="starting")
    result = worker.execute(run_id)
    return result["images_per_second"], result


def main() -> None:
    from lab.training import TrainConfig

    os.environ["CNNLAB_HOME"] = tempfile.mkdtemp(prefix="cnnlab-bench-")
    config = TrainConfig(dataset="digits", model="small_cnn", epochs=EPOCHS, batch_size=32)
    plain_fit(config)  # warm-up: graph tracing, data caches
    ours, base = [], []
    for _ in range(5):  # interleaved, medians: single 4 s runs vary by several percent here
        base.append(plain_fit(config))
        ours.append(through_jobs(config)[0])
    ratio = statistics.median(ours) / statistics.median(base)
    print(
        f"images/s, digits small_cnn {EPOCHS} epochs: lab.jobs {statistics.median(ours):,.0f}, "
        f"plain fit {statistics.median(base):,.0f}, ratio {ratio:.3f} {'OK' if ratio >= 0.95 else 'BELOW 0.95'}"
    )
    _, result = through_jobs(TrainConfig(dataset="digits", model="small_cnn", epochs=10))
    print(
        f"digits, small_cnn, 10 epochs: test accuracy {result['test_accuracy']:.4f} in {result['seconds']:.1f} s of training"
    )


if __name__ == "__main__":
    main()
