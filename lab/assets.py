"""Pre-fetch what the lab downloads (datasets, ImageNet weights) for workshops without internet.

``python -m lab assets`` on a machine with internet fills ``~/.keras`` (and the tfds cache);
copy those folders to the offline server.
"""

from __future__ import annotations

from lab import datasets


def fetch_all(datasets_too: bool = True, weights: bool = True, **aliases) -> int:
    """Download every dataset and model weight file; returns a process exit code."""
    datasets_too = aliases.get("datasets", datasets_too)
    failures = 0
    if datasets_too:
        for name in datasets.KERAS_DATASETS:
            try:
                datasets.load(name)
                print(f"ok       dataset {name}")
            except datasets.DatasetUnavailable as error:
                failures += 1
                print(f"missing  dataset {name}: {error}")
    if weights:
        try:
            from lab import classify
        except ImportError:
            classify = None
        if classify is not None:
            failures += classify.fetch_weights()
    return 1 if failures else 0
