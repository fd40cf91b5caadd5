"""Pre-fetch everything the lab downloads, for workshops without internet.

``python -m lab assets`` on a machine with internet fills the Keras cache (``~/.keras/datasets``,
``~/.keras/models``: datasets, ImageNet weights and class names) and the tensorflow-datasets cache
(``~/tensorflow_datasets``: tf_flowers). Copy those folders to the offline server.
"""

from __future__ import annotations

from lab import datasets as data_sources


def fetch_all(datasets: bool = True, weights: bool = True) -> int:
    """Download every dataset and model weight file; returns a process exit code (1 if any failed)."""
    failures = 0
    if datasets:
        for name in data_sources.KERAS_DATASETS:
            try:
                data_sources.load(name)
                print(f"ok       dataset {name}")
            except data_sources.DatasetUnavailable as error:
                failures += 1
                print(f"missing  dataset {name}: {error}")
        from lab import finetune

        try:
            finetune.load_splits(finetune.FinetuneConfig(image_size=64))
            print("ok       dataset tf_flowers")
        except data_sources.DatasetUnavailable as error:
            failures += 1
            print(f"missing  dataset tf_flowers: {error}")
    if weights:
        from lab import classify

        failures += classify.fetch_weights()
    return 1 if failures else 0
