"""Per-image latency through lab.classify versus a bare compiled call of the same model on the same
batch, and versus an eager ``model(x)`` call; batch 1 and 8, MobileNetV2 and ResNet50.

Weights do not change latency, so ``weights=None`` keeps this offline.

* same batch: images already at the model's input size; ours = classify() (fit, preprocessing,
  lock, top-k), bare = a tf.function of preprocess_input + model. The 1.1 limit applies here.
* full photos: 427x640 photos; bare = the plain TF pipeline a learner writes (tf.image.resize,
  preprocess_input, compiled call), to show what resizing costs both.

Run from the repository root: ``python -m benchmarks.bench_classify`` (or ``make bench``).
"""

from __future__ import annotations

import numpy as np

from benchmarks.timing import interleaved, report
from lab import classify, images
from lab.device import tf


def measure(name: str, loaded, bare, pictures, batch_size: int, label: str, limit: float | None) -> None:
    times = interleaved(  # ours vs bare, alternating; eager apart (it disturbs whatever follows it)
        {"ours": lambda: classify.classify(loaded, pictures, top_k=5), "bare": lambda: bare(pictures)},
        repeat=10 if batch_size == 8 else 25,
        warmup=3,
    )
    per = {key: value / batch_size for key, value in times.items()}
    report(f"{name} batch {batch_size}, {label}, per image", per["ours"], per["bare"], limit, "bare compiled call")


def main() -> None:
    photo = images.sample_image("china")
    for name in ("MobileNetV2", "ResNet50"):
        loaded = classify.load_imagenet(name, weights=None)
        preprocess = classify.IMAGENET_MODELS[name].module().preprocess_input
        compiled = tf.function(
            lambda x, model=loaded.model, preprocess=preprocess: model(preprocess(x), training=False)
        )
        size = loaded.input_size
        fitted = tf.image.resize(photo, size).numpy().astype(np.uint8)  # a photo already at input size
        for batch_size in (1, 8):
            small, full = [fitted] * batch_size, [photo] * batch_size
            ready = tf.constant(np.stack(small), tf.float32)  # the bare call gets its batch ready-made
            stacked = tf.constant(np.stack(full))

            def same(_, compiled=compiled, ready=ready):
                return compiled(ready).numpy()

            def pipeline(_, compiled=compiled, stacked=stacked, size=size):
                return compiled(tf.image.resize(stacked, size)).numpy()

            def eager(ready=ready, model=loaded.model, preprocess=preprocess):
                return model(preprocess(ready), training=False).numpy()

            measure(name, loaded, same, small, batch_size, "same batch", 1.1)
            measure(name, loaded, pipeline, full, batch_size, "full photos vs TF pipeline", None)
            slow = interleaved({"eager": eager}, repeat=5)["eager"]
            ours = interleaved(
                {"ours": lambda small=small, loaded=loaded: classify.classify(loaded, small, top_k=5)}, repeat=10
            )
            report(
                f"{name} batch {batch_size}, per image",
                ours["ours"] / batch_size,
                slow / batch_size,
                None,
                "eager model(x)",
            )


if __name__ == "__main__":
    main()
