"""lab.pooling.pool versus a bare Keras pooling layer call on the 427x640x3 china image.

Run from the repository root: ``python -m benchmarks.bench_pooling`` (or ``make bench``).
"""

from __future__ import annotations

import numpy as np

from benchmarks.timing import interleaved, report
from lab import images, pooling
from lab.device import keras


def main() -> None:
    image = images.prepare(images.sample_image("china"))
    batch = image[np.newaxis]
    for kind, layer_class in (("max", keras.layers.MaxPooling2D), ("avg", keras.layers.AveragePooling2D)):
        layer = layer_class(pool_size=2)
        times = interleaved(
            {
                "ours": lambda kind=kind: pooling.pool(image, kind, 2),
                "keras": lambda layer=layer: np.asarray(layer(batch)),
            },
            repeat=30,
            warmup=3,
        )
        report(f"{kind} pool 2x2, china 427x640x3", times["ours"], times["keras"], 1.2, f"keras {layer_class.__name__}")
    stack = np.repeat(batch, 4, axis=-1)  # 12 channels
    times = interleaved(
        {
            "ours": lambda: pooling.depth_pool(stack, 3),
            "numpy": lambda: stack.reshape(*stack.shape[:-1], 4, 3).max(axis=-1),
        },
        repeat=30,
    )
    report("depth max pool /3, 427x640x12", times["ours"], times["numpy"], None, "NumPy reshape-max")


if __name__ == "__main__":
    main()
