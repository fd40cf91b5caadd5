"""Real downloads (deselected by default; run with ``pytest -m network`` where there is internet)."""

from __future__ import annotations

import pytest

from lab import classify, datasets, images

pytestmark = pytest.mark.network


def test_homl_resnet50_on_the_sample_photos():
    loaded = classify.load_imagenet("ResNet50")
    crops = [classify.fit_image(images.sample_image(name), 224, "crop_and_resize") / 255.0 for name in images.SAMPLES]
    top = classify.classify(loaded, crops, top_k=3).predictions
    assert {"palace", "monastery", "bell_cote"} & {p.label for p in top[0]}  # HOML: palace 43%, bell cote 43%
    assert {"vase", "daisy", "cup"} & {p.label for p in top[1]}  # HOML: vase 54%, cup 10%, daisy 5%


def test_keras_datasets_download():
    data = datasets.load("fashion_mnist")
    assert data.x_train.shape == (55_000, 28, 28, 1) and data.x_valid.shape[0] == 5_000
