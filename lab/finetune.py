"""Two-phase transfer learning (HOML): a new head on a frozen ImageNet base, then the base unfrozen.

Data: ``tf_flowers`` through tensorflow-datasets with HOML's split (test ``train[:10%]``,
validation ``train[10%:25%]``, train ``train[25%:]``), or a user's zip of class folders
(:func:`lab.uploads.extract_image_zip`, split in the same proportions). Evaluation images are
centre-cropped to a square and resized; training images are randomly cropped and flipped; then the
base model's own ``preprocess_input``. BatchNormalization stays in inference mode throughout (the
base is called with ``training=False``), as HOML recommends when fine-tuning.

Its :func:`run` is the ``"finetune"`` run kind (:mod:`lab.worker`), so curves, cancel, resume and the run list
work as for training. Each phase checkpoints; a resumed run skips a finished phase 1.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lab import datasets, export, network, runlog, training
from lab.config import Config, choice, number, whole
from lab.device import enable_mixed_precision, keras, tf
from lab.errors import InputError
from models.imagenet import IMAGENET_MODELS
from recipes import finetune as recipe

os.environ.setdefault("TFDS_DISABLE_GCS", "1")  # tensorflow-datasets: never reach for Google Cloud Storage

BASES = ("Xception", "MobileNetV2", "EfficientNetB0")
SOURCES = ("tf_flowers", "zip")
HOML_SPLITS = tuple(recipe.HOML_SPLITS)  # test, validation, train
MARGIN = recipe.MARGIN  # stored images are this much larger than the input, room for the random crop
THUMBNAIL = 64


@dataclass(frozen=True)
class FinetuneConfig(Config):
    """Settings of one fine-tuning run; defaults are HOML's recipe (2nd edition)."""

    what = "fine-tuning"
    source: str = "tf_flowers"  # or "zip" with data_dir
    data_dir: str | None = None  # extracted class folders, for source="zip"
    base_model: str = "Xception"  # HOML
    weights: str | None = "imagenet"  # None: random initialisation (only if the user confirms)
    image_size: int = 224  # HOML resizes to 224x224
    batch_size: int = 32
    head_epochs: int = 5  # phase 1: SGD(lr 0.2, momentum 0.9, decay 0.01)
    head_learning_rate: float = 0.2
    head_decay: float = 0.01
    finetune_epochs: int = 10  # phase 2: SGD(lr 0.01, Nesterov, decay 0.001)
    finetune_learning_rate: float = 0.01
    finetune_decay: float = 0.001
    unfreeze_from: int = 0  # first base layer made trainable in phase 2 (0: all)
    patience: int = 3  # early stopping on validation loss, per phase
    augmentation: bool = True  # random crop + horizontal flip
    seed: int = 42

    def check(self) -> None:
        choice("data source", self.source, SOURCES)
        if self.source == "zip" and not (self.data_dir and Path(self.data_dir).is_dir()):
            raise InputError("Upload a zip of class folders first (no extracted data folder).")
        choice("base model", self.base_model, BASES)
        choice("weights", self.weights, ("imagenet", None))
        whole("image size", self.image_size, 32, 512)
        whole("batch size", self.batch_size, 1, 512)
        whole("head epochs", self.head_epochs, 0, 100)
        whole("fine-tune epochs", self.finetune_epochs, 0, 100)
        whole("unfreeze-from layer", self.unfreeze_from, 0, 10_000)
        whole("patience", self.patience, 1, 100)
        whole("seed", self.seed, 0, 2**31 - 1)
        if self.head_epochs + self.finetune_epochs == 0:
            raise InputError("Train at least one epoch in one of the two phases.")
        number("head learning rate", self.head_learning_rate, 0, 10, low_open=True)
        number("fine-tune learning rate", self.finetune_learning_rate, 0, 10, low_open=True)
        number("head decay", self.head_decay, 0, 10)
        number("fine-tune decay", self.finetune_decay, 0, 10)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
_square = recipe.square  # the central square, resized (uint8 kept)


def tf_flowers_available() -> str:
    """'prepared' (ready offline), 'downloadable', or 'unavailable' (no copy and no network)."""
    import tensorflow_datasets as tfds

    try:
        tfds.builder("tf_flowers").as_dataset(split="train[:1]")
        return "prepared"
    except Exception:  # DatasetNotFoundError and friends: not prepared here
        pass
    return "downloadable" if network.reachable() else "unavailable"


def _tf_flowers(side: int):
    import tensorflow_datasets as tfds

    def load(download: bool):
        return tfds.load("tf_flowers", split=list(HOML_SPLITS), as_supervised=True, with_info=True, download=download)

    try:
        splits, info = load(download=False)  # fails in under a second when not prepared
    except Exception:
        if tf_flowers_available() == "unavailable":
            raise datasets.DatasetUnavailable(
                "tf_flowers is not prepared here and there is no network. On a machine with internet run "
                "`python -m lab assets`, then copy ~/tensorflow_datasets to this server; or upload a zip of class folders."
            ) from None
        splits, info = load(download=True)
    test, valid, train = (split.map(lambda image, label: (_square(image, side), label)) for split in splits)
    return train, valid, test, list(info.features["label"].names)


def _zip_folders(data_dir: str, side: int, seed: int):
    from lab import images

    return recipe.folder_sets(data_dir, side, seed, read=images.load_image)


def load_splits(config: FinetuneConfig):
    """train, valid, test datasets of (uint8 square image at size * MARGIN, label) and class names."""
    side = round(config.image_size * MARGIN)
    if config.source == "tf_flowers":
        return _tf_flowers(side)
    return _zip_folders(config.data_dir, side, config.seed)


def pipelines(config: FinetuneConfig, train, valid, test):
    """Batched, preprocessed, prefetched datasets; evaluation ones cached."""
    preprocess = IMAGENET_MODELS[config.base_model].module().preprocess_input
    return recipe.views(
        train, valid, test, preprocess, config.image_size, config.batch_size, config.augmentation, config.seed
    )


# ---------------------------------------------------------------------------------------------
# Model and the two phases
# ---------------------------------------------------------------------------------------------
def build(config: FinetuneConfig, num_classes: int):
    """(model, base): GlobalAveragePooling + Dense softmax on the ImageNet base, base frozen."""
    if config.weights == "imagenet":
        network.require_weights(config.base_model)
    return recipe.build(config.base_model, config.weights, config.image_size, num_classes)


calibrate_batchnorm = recipe.calibrate_batchnorm  # BatchNormalization statistics for a random base
unfreeze = recipe.unfreeze  # the base trainable from a layer on, BatchNormalization kept frozen


def parameter_counts(model) -> tuple[int, int]:
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    return trainable, model.count_params() - trainable


def base_layer_names(base_model: str) -> list[str]:
    """The base's layer names in order (HOML prints them to choose where to unfreeze)."""
    spec = IMAGENET_MODELS[base_model]
    return [layer.name for layer in spec.builder()(weights=None, include_top=False).layers]


def run(config: FinetuneConfig, run_dir: Path, log: runlog.RunLog) -> dict | None:
    """Both phases into ``run_dir``, then the run's artifacts (:func:`lab.runlog.save_artifacts`)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    mixed = enable_mixed_precision(True)  # mixed_float16 on a GPU; float32 on the CPU
    log.phase("loading data")
    train, valid, test, names = load_splits(config)
    train_data, valid_data, test_data = pipelines(config, train, valid, test)
    log.phase("building the model")
    model, base = build(config, len(names))
    log.phase("compiling")
    if config.weights is None:
        calibrate_batchnorm(base, train_data)
    callback = log.keras_callback(config.batch_size)
    phase_file = run_dir / "phase.json"
    counts: dict[str, list[int]] = {}
    start = time.perf_counter()
    if phase_file.exists():  # resumed after phase 1 finished
        model.load_weights(run_dir / "phase1.weights.h5")
        head_epochs = json.loads(phase_file.read_text())["phase1_epochs"]
    else:
        counts["phase 1"] = list(parameter_counts(model))
        _compile(model, config.head_learning_rate, config.head_decay, nesterov=False)
        head_epochs = 0
        if config.head_epochs:
            stop = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=config.patience, restore_best_weights=True
            )
            backup = runlog.checkpoint_callback(run_dir / "backup_phase1", log)
            history = model.fit(
                train_data,
                validation_data=valid_data,
                epochs=config.head_epochs,
                verbose=0,
                shuffle=False,
                callbacks=[backup, stop, callback],
            )
            if log.cancelled:
                return None
            head_epochs = history.epoch[-1] + 1 if history.epoch else config.head_epochs  # early stopping
        model.save_weights(run_dir / "phase1.weights.h5")
        phase_file.write_text(json.dumps({"phase1_epochs": head_epochs}))
    log.note(head_epochs, "unfreeze_epoch", head_epochs)
    pretrained = config.weights == "imagenet"
    unfreeze(base, config.unfreeze_from, freeze_batchnorm=pretrained)
    counts["phase 2"] = list(parameter_counts(model))
    if config.finetune_epochs:
        _compile(model, config.finetune_learning_rate, config.finetune_decay, nesterov=True)
        # Early stopping needs trustworthy validation numbers: a random base's BN statistics lag
        # behind its weights until recalibrated at the end, so it trains its epochs in full.
        callbacks = [runlog.checkpoint_callback(run_dir / "backup_phase2", log), callback]
        if pretrained:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
            )
        model.fit(
            train_data,
            validation_data=valid_data,
            initial_epoch=head_epochs,
            epochs=head_epochs + config.finetune_epochs,
            verbose=0,
            shuffle=False,
            callbacks=callbacks,
        )
        if log.cancelled:
            return None
    if not pretrained:
        calibrate_batchnorm(base, train_data)  # statistics for the final weights, not an average of the way there
    seconds = time.perf_counter() - start
    probabilities = model.predict(test_data, verbose=0)
    labels = np.concatenate([y for _, y in test.batch(256)]) if probabilities.size else np.zeros(0, np.int64)
    test_loss, test_accuracy = training.test_scores(probabilities, labels)
    thumbnails = np.stack(
        [tf.image.resize(image, (THUMBNAIL, THUMBNAIL)).numpy().astype(np.uint8) for image, _ in test]
    )
    size = config.image_size
    run_labels = runlog.RunLabels(
        names,
        [size, size, 3],
        config.source,
        f"{config.base_model} fine-tuned",
        runlog.IMAGENET_PIXELS,
        config.base_model,
    )
    runlog.save_artifacts(run_dir, model, run_labels, runlog.Predictions(probabilities, labels, thumbnails))
    log.phase("exporting")
    inputs = [x for x, _ in test_data.take(-(-export.CHECK_IMAGES // config.batch_size))]
    test_inputs = np.concatenate(inputs) if inputs else np.zeros((0, size, size, 3), np.float32)
    tflite = export.to_tflite(model, run_dir, test_inputs, probabilities)
    return {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "head_epochs": head_epochs,
        "seconds": round(seconds, 1),
        "parameters": counts,
        "mixed_precision": mixed,
        "classes": names,
        **tflite,
    }


_compile = recipe.compile_phase  # SGD, momentum 0.9, lr / (1 + decay * step)


def augmentation_preview(image: np.ndarray, size: int, count: int = 6, seed: int = 0) -> np.ndarray:
    """``count`` training views of one image (square, random crop, flip), uint8 (count, size, size, 3)."""
    square = _square(np.asarray(image), round(size * MARGIN))
    views = []
    for index in range(count):
        crop = tf.image.stateless_random_crop(square, (size, size, 3), seed=(seed, index))
        views.append(tf.image.stateless_random_flip_left_right(crop, seed=(index, seed)).numpy())
    return np.stack(views)
