"""lab.training and lab.datasets: settings, splits, the look inside, and the CLI's promise."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from lab import datasets, runlog, training
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


def _train(config, run_dir):
    """A run in this process (as a warm worker runs it): its result and its epoch-level metrics."""
    rows = []
    result = training.run(config, run_dir, runlog.RunLog(rows.extend))
    timings = ("seconds", "images_per_second")
    return result, [
        (epoch, name, value) for epoch, step, name, value in rows if step == runlog.EPOCH_END and name not in timings
    ]


def _kept_model():
    return next(iter(training._kept.values()))[0]


def test_a_warm_worker_reuses_its_traced_model_and_trains_exactly_as_a_fresh_one(tmp_path, monkeypatch):
    training.forget_kept_models()
    config = training.TrainConfig(epochs=2, seed=1)
    _, first = _train(config, tmp_path / "first")
    model = _kept_model()
    train_function = model.train_function  # Keras traces it once per model: fit reuses it as it is
    reused_result, reused = _train(replace(config, seed=2), tmp_path / "reused")
    assert _kept_model() is model and model.train_function is train_function
    monkeypatch.setenv("CNNLAB_REUSE_TRACES", "0")
    fresh_result, fresh = _train(replace(config, seed=2), tmp_path / "fresh")
    # The oracle: a model built for seed 2 and trained from scratch, epoch for epoch.
    assert [row[:2] for row in reused] == [row[:2] for row in fresh]
    np.testing.assert_allclose([row[2] for row in reused], [row[2] for row in fresh], atol=1e-6)
    assert reused_result["test_accuracy"] == pytest.approx(fresh_result["test_accuracy"], abs=1e-9)
    assert [row[2] for row in reused] != [row[2] for row in first]  # another seed: another run


def test_other_settings_or_a_large_model_are_not_reused(tmp_path, monkeypatch):
    training.forget_kept_models()
    config = training.TrainConfig(epochs=1)
    _train(config, tmp_path / "a")
    model = _kept_model()
    _train(replace(config, learning_rate=0.01), tmp_path / "b")
    assert _kept_model() is not model and len(training._kept) == 1
    monkeypatch.setattr(training, "KEEP_MAX_PARAMETERS", 1000)
    _train(config, tmp_path / "c")
    assert training._kept == {}


def test_a_warm_workers_first_default_run_reuses_the_model_traced_at_warm_up(tmp_path, monkeypatch):
    from lab.device import keras

    training.forget_kept_models()
    training.warm_up()
    model = _kept_model()
    assert model.train_function is not None and model.predict_function is not None  # traced already
    keras.backend.clear_session(free_memory=True)  # as the worker does after its warm-up
    config = training.TrainConfig(epochs=1)
    warm_result, warm = _train(config, tmp_path / "warm")
    assert _kept_model() is model
    monkeypatch.setenv("CNNLAB_REUSE_TRACES", "0")
    fresh_result, fresh = _train(config, tmp_path / "fresh")
    np.testing.assert_allclose([row[2] for row in warm], [row[2] for row in fresh], atol=1e-6)
    assert warm_result["test_accuracy"] == pytest.approx(fresh_result["test_accuracy"], abs=1e-9)


def test_a_runs_memory_figure_is_the_planners_count_of_its_model():
    import math

    import models
    from lab import planner

    for name in ("small_cnn", "homl_fashion_cnn", "cifar10_tutorial_cnn", "happy_model"):  # chains: the oracle
        plan = planner.plan_stack((28, 28, 1), training.registry_stack(name, (28, 28, 1)))
        assert training.registry_footprint(name, (28, 28, 1), 10) == (plan.total_params, plan.training_bytes)
    config = training.TrainConfig()  # small_cnn on digits, Adam, batch 32
    parameters, activations = training.registry_footprint("small_cnn", (8, 8, 1), 10)
    assert config.memory_bytes() == 4 * parameters * (2 + 2) + 2 * activations * 32 + planner.RUNTIME_BYTES
    assert replace(config, batch_size=64).memory_bytes() - config.memory_bytes() == 2 * activations * 32
    assert config.memory_bytes() - replace(config, optimizer="sgd").memory_bytes() == 4 * parameters * 2
    custom = training.TrainConfig(model="custom", stack="conv-16-k3-same-relu,max-k2,flat")
    plan = custom.plan()
    assert custom.memory_bytes() == planner.run_memory_bytes(plan.total_params, plan.training_bytes, 32, 2)
    # A residual unit is one Keras layer holding several maps: each is counted.
    model = models.build("resnet34", (32, 32, 3), 10)
    outputs = 4 * 32 * 32 * 3 + sum(4 * math.prod(layer.output.shape[1:]) for layer in model.layers[1:])
    parameters, activations = training.registry_footprint("resnet34", (32, 32, 3), 10)
    assert parameters == model.count_params() and activations > 2 * outputs


def test_a_kept_model_after_a_resumed_run_trains_the_next_runs_from_epoch_zero(tmp_path, monkeypatch):
    """A resume makes BackupAndRestore set where fit starts; the kept model carried it into the next
    runs: a 2-epoch run then trained 0 epochs and 'succeeded' at chance accuracy."""
    monkeypatch.setenv("CNNLAB_CHECKPOINT_SECONDS", "0")  # a checkpoint every epoch
    training.forget_kept_models()
    config = training.TrainConfig(epochs=5, seed=1)
    stop_after = {"epochs": 3}

    def stop_at_third_epoch(rows):
        stop_after["seen"] = stop_after.get("seen", 0) + sum(
            1 for _, step, name, _ in rows if step == runlog.EPOCH_END and name == "loss"
        )

    log = runlog.RunLog(stop_at_third_epoch, should_stop=lambda: stop_after.get("seen", 0) >= stop_after["epochs"])
    assert training.run(config, tmp_path / "a", log) is None  # cancelled with a checkpoint
    resumed, rows = _train(config, tmp_path / "a")  # resume: Keras starts this fit at the checkpoint
    assert resumed["epochs"] == 5 and {row[0] for row in rows} == {3, 4}
    reused_result, reused = _train(replace(config, epochs=2, seed=2), tmp_path / "b")
    monkeypatch.setenv("CNNLAB_REUSE_TRACES", "0")
    fresh_result, fresh = _train(replace(config, epochs=2, seed=2), tmp_path / "fresh")
    assert [row[:2] for row in reused] == [row[:2] for row in fresh] and {row[0] for row in fresh} == {0, 1}
    np.testing.assert_allclose([row[2] for row in reused], [row[2] for row in fresh], atol=1e-6)
    assert reused_result["epochs"] == fresh_result["epochs"] == 2
    assert reused_result["test_accuracy"] == pytest.approx(fresh_result["test_accuracy"], abs=1e-9)
