"""lab.finetune offline: tfds mock data, BatchNorm kept in inference mode, a real two-phase run."""

from __future__ import annotations

import time

import numpy as np
import pytest

from lab import finetune, jobs, runlog, supervision, uploads, worker
from lab.device import keras
from lab.errors import InputError
from tests.zipgen import make_zip, shapes_members


@pytest.fixture
def shapes_dir(tmp_path):
    archive = tmp_path / "shapes.zip"
    archive.write_bytes(make_zip(shapes_members(30)))
    uploads.extract_image_zip(archive, tmp_path / "data")
    return str(tmp_path / "data")


def test_tf_flowers_path_with_tfds_mock_data():
    import tensorflow_datasets as tfds

    config = finetune.FinetuneConfig(base_model="MobileNetV2", weights=None, image_size=64, batch_size=4)
    with tfds.testing.mock_data(num_examples=12):
        train, valid, test, names = finetune.load_splits(config)
        assert len(names) == 5 and "daisy" in names
        image, label = next(iter(train))
        assert image.shape == (73, 73, 3) and image.dtype == np.uint8 and 0 <= int(label) < 5  # 64 * 1.14, square
        train_data, _, _ = finetune.pipelines(config, train, valid, test)
        batch, _ = next(iter(train_data))
        assert batch.shape[1:] == (64, 64, 3)
        assert float(np.min(batch)) >= -1.0 and float(np.max(batch)) <= 1.0  # MobileNetV2's preprocess_input
    assert finetune.HOML_SPLITS == ("train[:10%]", "train[10%:25%]", "train[25%:]")  # mock data ignores slicing


def test_unfreezing_keeps_batchnorm_in_inference_mode():
    base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(64, 64, 3))
    inputs = keras.Input((64, 64, 3))
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(base(inputs, training=False))
    )
    model = keras.Model(inputs, outputs)
    finetune.unfreeze(base, first_layer=10)
    norm = next(layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization))
    before = norm.moving_mean.numpy().copy()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).random((8, 64, 64, 3), dtype=np.float32)
    model.fit(images, np.array([0, 1] * 4), epochs=1, verbose=0)
    np.testing.assert_array_equal(norm.moving_mean.numpy(), before)
    assert not base.layers[5].trainable  # before `first_layer`: still frozen
    later_conv = next(layer for layer in base.layers[10:] if isinstance(layer, keras.layers.Conv2D))
    assert later_conv.trainable and not norm.trainable


def test_config_validation_and_fail_fast_weights(monkeypatch, tmp_path):
    with pytest.raises(InputError, match="zip of class folders"):
        finetune.FinetuneConfig(source="zip")
    with pytest.raises(InputError, match="learning rate"):
        finetune.FinetuneConfig(head_learning_rate=float("nan"))
    with pytest.raises(InputError, match="at least one epoch"):
        finetune.FinetuneConfig(head_epochs=0, finetune_epochs=0)
    with pytest.raises(InputError, match="Unknown base"):
        finetune.FinetuneConfig(base_model="VGG16")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(InputError, match="python -m lab assets"):
        finetune.build(finetune.FinetuneConfig(base_model="MobileNetV2", image_size=64), 3)
    assert time.monotonic() - start < 10


@pytest.mark.slow
def test_two_phases_through_the_runner_beat_chance(tmp_path, monkeypatch, shapes_dir):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))
    config = {
        "source": "zip",
        "data_dir": shapes_dir,
        "base_model": "MobileNetV2",
        "weights": None,
        "image_size": 96,
        "batch_size": 16,
        "head_epochs": 2,
        "finetune_epochs": 8,
        "head_learning_rate": 0.05,
        "augmentation": False,
    }
    run_id = worker.submit("finetune", config)
    deadline = time.monotonic() + 240
    while jobs.get(run_id).active and time.monotonic() < deadline:
        supervision.schedule()
        time.sleep(0.5)
    run = jobs.get(run_id)
    assert run.status == "succeeded", (run.error, (jobs.run_dir(run_id) / "worker.log").read_text()[-2000:])
    assert run.result["test_accuracy"] >= 0.67  # chance is 1/3
    assert (
        run.result["parameters"]["phase 1"][0] < run.result["parameters"]["phase 2"][0]
    )  # more trainable after unfreezing
    state = runlog.progress(jobs.metrics(run_id))
    assert state.curves["marker:unfreeze_epoch"][0] == [2.0] and state.epochs_done == 10
    assert (jobs.run_dir(run_id) / "model.keras").exists()
    from lab import classify

    loaded = classify.load_run(run_id)
    assert loaded.class_names == ["blue", "green", "red"] and loaded.input_size == (96, 96)
    # The last step of the exercise: classify new photos with the fine-tuned model. Its ImageNet
    # preprocessing is traced into the compiled call (it once wrapped np.array around a symbolic tensor).
    picture = np.zeros((120, 90, 3), np.uint8)
    picture[..., 2] = 255  # a blue square
    answer = classify.classify(loaded, [picture], top_k=3, mode="crop_and_resize")
    assert answer.predictions[0][0].label in loaded.class_names
    assert abs(sum(p.probability for p in answer.predictions[0]) - 1) < 1e-4
