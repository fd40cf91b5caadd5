"""lab.classify offline: weights=None for the ImageNet registry, a digits model trained here."""

from __future__ import annotations

import time

import numpy as np
import pytest

from lab import classify, datasets, images, worker
from lab.errors import InputError
from tests.imagegen import gradient


@pytest.mark.parametrize("name", sorted(classify.IMAGENET_MODELS))
def test_every_registry_model_gives_a_well_formed_top_k(name):
    loaded = classify.load_imagenet(name, weights=None)
    assert loaded.input_size == (classify.IMAGENET_MODELS[name].input_size,) * 2
    pictures = [gradient(50, 40, seed=1), gradient(30, 60, seed=2), np.random.default_rng(3).random((20, 20, 3))]
    result = classify.classify(loaded, pictures, top_k=5)
    assert len(result.predictions) == 3 and result.seconds_per_image > 0
    for top in result.predictions:
        assert len(top) == 5 and len({p.class_id for p in top}) == 5
        probabilities = [p.probability for p in top]
        assert probabilities == sorted(probabilities, reverse=True) and 0 <= probabilities[-1] <= probabilities[0] <= 1


def test_fit_image_modes_and_the_crop_box():
    china = images.sample_image("china")
    for mode in classify.FIT_MODES:
        assert classify.fit_image(china, 224, mode).shape == (224, 224, 3)
    # A box exactly on pixel edges, resized to its own size, is the plain crop (HOML's crop).
    top, bottom, left, right = images.HOML_CROP
    box = (top / 426, left / 639, (bottom - 1) / 426, (right - 1) / 639)  # crop_and_resize samples pixel centres
    cropped = classify.fit_image(china, (bottom - top, right - left), "crop_and_resize", box)
    np.testing.assert_allclose(cropped, china[top:bottom, left:right].astype(np.float32), atol=1e-3)
    padded = classify.fit_image(china, 224, "pad")
    assert padded[:30].max() == 0 and padded[112].max() > 0  # letterbox bars top and bottom
    with pytest.raises(InputError, match="box"):
        classify.fit_image(china, 224, "crop_and_resize", (0.5, 0.5, 0.2, 0.9))
    with pytest.raises(InputError, match="resize mode"):
        classify.fit_image(china, 224, "stretch")


def test_grad_cam_is_a_normalised_map_at_input_size():
    loaded = classify.load_imagenet("MobileNetV2", weights=None)
    cam = classify.grad_cam(loaded, images.sample_image("flower"))
    assert cam.shape == (224, 224) and cam.min() >= 0 and cam.max() <= 1


def test_missing_weights_fail_fast_with_prefetch_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(classify.WeightsUnavailable, match="python -m lab assets"):
        classify.load_imagenet("ResNet50")
    assert time.monotonic() - start < 10


@pytest.mark.slow
def test_a_digits_model_trained_here_classifies_unseen_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path))
    run_id = worker.create("train", {"dataset": "digits", "model": "small_cnn", "epochs": 10}, status="starting")
    assert worker.execute(run_id) is not None
    assert run_id in dict(classify.lab_runs())
    loaded = classify.load_run(run_id)
    test = datasets.load("digits")
    pictures = [(image * 255).astype(np.uint8) for image in test.x_test]  # as an upload would arrive
    result = classify.classify(loaded, pictures, top_k=1)
    predicted = np.array([top[0].class_id for top in result.predictions])
    assert (predicted == test.y_test).mean() >= 0.9
    assert result.predictions[0][0].label in test.class_names


def test_bad_requests_are_messages():
    loaded = classify.load_imagenet("MobileNetV2", weights=None)
    with pytest.raises(InputError, match="No images"):
        classify.classify(loaded, [])
    with pytest.raises(InputError, match="top_k"):
        classify.classify(loaded, [gradient()], top_k=0)
    with pytest.raises(InputError, match="Unknown model"):
        classify.load_imagenet("AlexNet")


def test_runs_trained_here_are_told_apart_by_date_accuracy_and_id(tmp_path, monkeypatch):
    from lab import jobs, runlog

    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))

    class Saved:
        def save(self, path):
            path.write_bytes(b"model")

    names = []
    for accuracy in (0.91, 0.95):
        run_id = jobs.create("train", {"dataset": "digits", "model": "small_cnn"}, status="succeeded")
        jobs.update(run_id, result=f'{{"test_accuracy": {accuracy}}}')
        labels = runlog.RunLabels([str(d) for d in range(10)], [8, 8, 1], "digits", "small_cnn")
        runlog.save_artifacts(jobs.run_dir(run_id), Saved(), labels, runlog.Predictions(np.eye(10), np.arange(10)))
        names.append(run_id)
    described = dict(classify.lab_runs())
    assert len(set(described.values())) == 2
    assert all(run_id[-6:] in described[run_id] and "test accuracy 0.9" in described[run_id] for run_id in names)


def test_random_weights_are_the_same_on_every_load_and_in_the_script():
    """The offline demo's random weights are seeded per build: two loads (whatever the global RNG did
    in between) give one model, so the page's numbers are the script's (it seeds before each model)."""
    from lab.device import keras

    picture = [images.sample_image("china")]
    keras.utils.set_random_seed(7)
    first = classify.classify(classify.load_imagenet("MobileNetV2", None), picture, 3, "resize").predictions[0]
    keras.utils.set_random_seed(8)
    second = classify.classify(classify.load_imagenet("MobileNetV2", None), picture, 3, "resize").predictions[0]
    assert [p.class_id for p in first] == [p.class_id for p in second]
    np.testing.assert_allclose([p.probability for p in first], [p.probability for p in second], rtol=0, atol=1e-7)
