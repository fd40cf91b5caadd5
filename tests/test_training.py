"""lab.training and lab.datasets: settings, splits, the look inside, and the CLI's promise."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lab import datasets, training
from lab.errors import InputError
from tests.conftest import ROOT


def test_digits_splits_are_stratified_scaled_and_disjoint():
    data = datasets.load("digits")
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10
    assert len(data.x_train) + len(data.x_valid) + len(data.x_test) == 1797
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert len(data.x_test) == 360 and set(np.unique(data.y_test)) == set(range(10))


def test_unknown_and_offline_datasets(monkeypatch, tmp_path):
    with pytest.raises(InputError, match="Unknown dataset"):
        datasets.load("imagenet")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(datasets.DatasetUnavailable, match="python -m lab assets"):
        datasets.load("cifar10")


def test_augmentation_preview_is_seeded_and_in_range():
    image = datasets.load("digits").x_train[0]
    first = datasets.augmentation_preview(image, flip=False)
    assert first.shape == (9, 8, 8, 1) and first.min() >= 0 and first.max() <= 1
    np.testing.assert_array_equal(first, datasets.augmentation_preview(image, flip=False))
    assert not np.allclose(first[0], first[1])


def test_confusion_matrix_and_highest_loss_against_sklearn(rng):
    from sklearn.metrics import confusion_matrix

    labels = rng.integers(0, 4, 200)
    probabilities = rng.dirichlet(np.ones(4), 200)
    predicted = probabilities.argmax(1)
    np.testing.assert_array_equal(training.confusion_matrix(labels, predicted, 4), confusion_matrix(labels, predicted))
    worst, losses = training.highest_loss(probabilities, labels, 5)
    assert np.all(np.diff(losses) <= 0)
    assert losses[0] == pytest.approx((-np.log(probabilities[np.arange(200), labels])).max())
    assert labels[worst[0]] != probabilities[worst[0]].argmax()


def test_filters_and_activation_maps_of_a_model():
    import models

    model = models.build("small_cnn", (8, 8, 1), 10)
    assert training.first_conv_filters(model).shape == (3, 3, 1, 32)
    maps = training.activation_maps(model, np.zeros((8, 8, 1), np.float32))
    assert len(maps) == 3  # the three Conv2D layers
    assert maps[0][1].shape == (8, 8, 32)


def test_train_config_defaults_and_validation():
    assert training.TrainConfig().dataset == "digits"
    with pytest.raises(InputError, match="learning rate"):
        training.TrainConfig(learning_rate=float("inf"))
    with pytest.raises(InputError, match="epochs"):
        training.TrainConfig(epochs=True)


@pytest.mark.slow
def test_cli_trains_digits_to_97_percent_in_under_a_minute(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "train",
            "--dataset",
            "digits",
            "--model",
            "small_cnn",
            "--epochs",
            "10",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**__import__("os").environ, "CNNLAB_HOME": str(tmp_path)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) >= {"test_accuracy", "test_loss", "epochs", "seconds", "images_per_second", "run_id"}
    assert report["test_accuracy"] >= 0.97 and report["epochs"] == 10 and report["seconds"] < 60
    assert (tmp_path / "runs" / report["run_id"] / "model.keras").exists()


def test_cli_bad_settings_exit_with_a_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "lab", "train", "--epochs", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**__import__("os").environ, "CNNLAB_HOME": str(tmp_path)},
    )
    assert result.returncode == 2 and "epochs" in result.stderr and "Traceback" not in result.stderr
