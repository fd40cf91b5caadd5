"""lab.convolution.convolve versus a bare tf.nn.conv2d call, and the playground's rerun time.

Run from the repository root: ``python -m benchmarks.bench_convolution`` (or ``make bench``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks.timing import interleaved, report
from lab import convolution, images
from lab.device import tf

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "convolution.py")


def main() -> None:
    image = images.prepare(images.sample_image("china"))  # 427x640x3
    filters = convolution.homl_line_filters()  # two 7x7 kernels
    batch = image[np.newaxis]
    times = interleaved(
        {
            "ours": lambda: convolution.convolve(image, filters),
            # The plain call a learner would write, including getting the numbers back.
            "bare": lambda: tf.nn.conv2d(batch, filters, strides=1, padding="SAME").numpy(),
        },
        repeat=30,
        warmup=3,
    )
    report("convolve, china 427x640x3, two 7x7 kernels", times["ours"], times["bare"], 1.2, "tf.nn.conv2d")

    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(PAGE, default_timeout=120)
    app.run()
    reruns = []
    for _ in range(5):
        start = time.perf_counter()
        app.run()
        reruns.append(time.perf_counter() - start)
    print(
        f"playground full rerun (full china image, AppTest): best {min(reruns) * 1e3:.0f} ms, median {np.median(reruns) * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
