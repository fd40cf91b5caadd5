"""Training a CNN: the settings, the fit itself, and the look inside a trained model.

:func:`train` runs in a worker process (see :mod:`lab.jobs`) or in the foreground for the CLI.
It checkpoints every epoch (Keras ``BackupAndRestore``), so an interrupted run resumes from its
last completed epoch, and reports metrics through a callback that converts tensors to Python
floats only every few batches: on a GPU, a per-step host sync can cost as much as the step.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from lab import datasets
from lab.errors import InputError, describe_value

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "nadam")
MAX_EPOCHS = 200
MAX_BATCH = 4096


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (also the run's record in the registry)."""

    dataset: str = "digits"  # offline: ships with scikit-learn
    model: str = "small_cnn"  # seconds per epoch on a 2-core CPU
    epochs: int = 10
    batch_size: int = 32  # Keras' default
    optimizer: str = "adam"  # HOML's Fashion-MNIST net uses nadam
    learning_rate: float = 1e-3  # Adam's default
    augmentation: bool = False  # the CIFAR-10 tutorial's distortions
    seed: int = 42

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {field.name for field in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise InputError(f"Unknown training setting(s): {', '.join(sorted(unknown))}.")
        return cls(**values).validated()

    def validated(self) -> TrainConfig:
        """Return self, or raise :class:`InputError` naming the first bad setting."""
        from models import MODELS

        if self.dataset not in datasets.DATASETS:
            raise InputError(
                f"Unknown dataset {describe_value(self.dataset)}; choose one of {', '.join(datasets.DATASETS)}."
            )
        if self.model not in MODELS:
            raise InputError(f"Unknown model {describe_value(self.model)}; choose one of {', '.join(MODELS)}.")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(
                f"Unknown optimizer {describe_value(self.optimizer)}; choose one of {', '.join(OPTIMIZERS)}."
            )
        for name, value, high in (("epochs", self.epochs, MAX_EPOCHS), ("batch size", self.batch_size, MAX_BATCH)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise InputError(f"The {name} must be a whole number from 1 to {high}, got {describe_value(value)}.")
        rate = self.learning_rate
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float))
            or not math.isfinite(rate)
            or not 0 < rate <= 10
        ):
            raise InputError(f"The learning rate must be a number above 0 and at most 10, got {describe_value(rate)}.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2**31:
            raise InputError(f"The seed must be a whole number from 0 to 2^31 - 1, got {describe_value(self.seed)}.")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def make_optimizer(name: str, learning_rate: float):
    from lab.device import keras

    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=0.9)
    if name == "nesterov":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    return (keras.optimizers.Adam if name == "adam" else keras.optimizers.Nadam)(learning_rate)


def build_model(config: TrainConfig, input_shape, num_classes: int):
    """The registry model for ``config``, compiled for sparse labels."""
    import models

    model = models.build(config.model, input_shape, num_classes)
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def model_summary(config: TrainConfig, input_shape, num_classes: int) -> list[dict]:
    """Layer, type, output shape and parameters, before training (what ``model.summary()`` prints)."""
    import models

    model = models.build(config.model, input_shape, num_classes)
    return [
        {"layer": layer.name, "type": type(layer).__name__, "output shape": str(tuple(layer.output.shape[1:])),
         "parameters": layer.count_params()}
        for layer in model.layers
    ]  # fmt: skip


def metrics_callback(report: Callable[[list[tuple]], None], should_stop: Callable[[], bool], every: int = 20,
                     flush_seconds: float = 1.0, batch_size: int | None = None):  # fmt: skip
    """A Keras callback that reports (epoch, step, name, value) rows and honours a stop request.

    Batch metrics are read every ``every`` batches only (each read is a host-device sync);
    rows are handed to ``report`` at most once per ``flush_seconds``, and at each epoch's end.
    """
    from lab.device import keras

    class MetricsLogger(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.buffer: list[tuple] = []
            self.epoch = 0
            self.last_flush = self.last_check = time.monotonic()
            self.epoch_start = time.monotonic()
            self.cancelled = False

        def note(self, epoch: int, name: str, value: float) -> None:
            """Record an event on the epoch axis (step -2), e.g. where a fine-tune unfreezes."""
            self.buffer.append((epoch, -2, name, float(value)))

        def flush(self) -> None:
            if self.buffer:
                report(self.buffer)
                self.buffer = []
            self.last_flush = time.monotonic()

        def on_train_begin(self, logs=None):
            steps, epochs = self.params.get("steps"), self.params.get("epochs")
            self.buffer += [(0, -2, "steps_per_epoch", float(steps or 0)), (0, -2, "epochs_total", float(epochs or 0))]
            self.flush()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.epoch_start = epoch, time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            if batch % every == 0 and logs:
                self.buffer += [(self.epoch, batch, f"batch_{name}", float(value)) for name, value in logs.items()]
            if now - self.last_flush >= flush_seconds:
                self.buffer.append((self.epoch, batch, "progress", float(batch + 1)))
                self.flush()
            if now - self.last_check >= 0.25:
                self.last_check = now
                if should_stop():
                    self.cancelled = True  # distinct from early stopping, which also sets stop_training
                    self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.monotonic() - self.epoch_start
            self.buffer += [(epoch, -1, name, float(value)) for name, value in (logs or {}).items()]
            self.buffer.append((epoch, -1, "seconds", seconds))
            if batch_size and self.params.get("steps"):
                self.buffer.append(
                    (epoch, -1, "images_per_second", self.params["steps"] * batch_size / max(seconds, 1e-9))
                )
            self.flush()

    return MetricsLogger()


def checkpoint_callback(backup_dir: Path, min_seconds: float | None = None):
    """Keras ``BackupAndRestore`` that saves at most once per ``min_seconds`` of training.

    On a 0.3 s digits epoch a checkpoint per epoch costs ~13% of throughput; on real epochs
    (many seconds) this still saves every epoch. ``CNNLAB_CHECKPOINT_SECONDS`` overrides the
    default of 5 s. A resumed run continues from the last *saved* epoch.
    """
    import os

    from lab.device import keras

    interval = float(os.environ.get("CNNLAB_CHECKPOINT_SECONDS", 5.0) if min_seconds is None else min_seconds)

    class ThrottledBackup(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self.last_save = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            self._current_epoch, self._last_batch_seen = epoch + 1, 0
            if time.monotonic() - self.last_save >= interval:
                self._save_model()
                self.last_save = time.monotonic()

    return ThrottledBackup(str(backup_dir))


def saved_epoch(run_dir: Path) -> int:
    """Epochs completed in the run's checkpoint (0 when there is none)."""
    metadata = Path(run_dir) / "backup" / "training_metadata.json"
    return int(json.loads(metadata.read_text())["epoch"]) if metadata.exists() else 0


def train(config: TrainConfig, run_dir: Path, callbacks: list | None = None) -> dict | None:
    """Train ``config`` into ``run_dir``; resumes from ``run_dir/backup`` if a checkpoint is there.

    Writes ``model.keras``, ``labels.json`` and ``predictions.npz`` (test-set
    probabilities, for the confusion matrix). Returns test accuracy/loss, epochs, seconds and
    images per second; ``None`` when a callback cancelled the run.
    """
    from lab.device import keras

    config = config.validated()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    data = datasets.load(config.dataset, config.seed)
    model = build_model(config, data.input_shape, data.num_classes)
    train_data = datasets.pipeline(data.x_train, data.y_train, config.batch_size, shuffle=True,
                                   augment=config.augmentation, flip=data.flip_ok, seed=config.seed)  # fmt: skip
    valid_data = datasets.pipeline(data.x_valid, data.y_valid, max(config.batch_size, 256))
    standard = [checkpoint_callback(run_dir / "backup")]
    start = time.perf_counter()
    history = model.fit(train_data, validation_data=valid_data, epochs=config.epochs, verbose=0, shuffle=False,
                        callbacks=standard + list(callbacks or []))  # fmt: skip
    seconds = time.perf_counter() - start
    if any(getattr(callback, "cancelled", False) for callback in callbacks or []):
        return None  # cancelled: stop now, no evaluation or export
    epochs_run = len(history.history.get("loss", []))
    probabilities = model.predict(datasets.pipeline(data.x_test, data.y_test, 256), verbose=0)
    test_loss, test_accuracy = test_scores(probabilities, data.y_test)
    model.save(run_dir / "model.keras")
    np.savez_compressed(run_dir / "predictions.npz", probabilities=probabilities, labels=data.y_test)
    (run_dir / "labels.json").write_text(
        json.dumps(
            {
                "class_names": data.class_names,
                "input_shape": list(data.input_shape),
                "dataset": data.name,
                "model": config.model,
                "preprocessing": "pixels / 255 (digits: / 16)",
            }
        )
    )
    return {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "epochs": epochs_run,
        "seconds": round(seconds, 2),
        "images_per_second": round(len(data.x_train) * max(epochs_run, 1) / seconds, 1) if seconds else None,
    }


# ---------------------------------------------------------------------------------------------
# A look inside a trained model
# ---------------------------------------------------------------------------------------------
def test_scores(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Sparse cross-entropy and accuracy from predicted probabilities (one pass over the test set,
    not ``evaluate`` and ``predict`` both); probabilities are clipped as Keras clips them."""
    if not len(labels):
        return 0.0, 0.0
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    return float(-np.log(picked).mean()), float((probabilities.argmax(axis=1) == labels).mean())


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def highest_loss(probabilities: np.ndarray, labels: np.ndarray, count: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cross-entropy of the ``count`` test examples the model got most wrong."""
    losses = -np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1.0))
    order = np.argsort(-losses)[:count]
    return order, losses[order]


def first_conv_filters(model) -> np.ndarray:
    """The first Conv2D layer's kernel, (kh, kw, C, n)."""
    from lab.device import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return np.asarray(layer.get_weights()[0])
    raise InputError("This model has no top-level Conv2D layer.")


def activation_maps(model, image: np.ndarray, limit: int = 8) -> list[tuple[str, np.ndarray]]:
    """The output of each top-level convolutional layer for one image: (name, (H, W, C))."""
    from lab.device import keras

    conv_layers = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) or "Residual" in type(layer).__name__
    ]
    if not conv_layers:
        return []
    probe = keras.Model(model.input, [layer.output for layer in conv_layers[:limit]])
    outputs = probe(np.asarray(image, dtype=np.float32)[np.newaxis], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [(layer.name, np.asarray(output)[0]) for layer, output in zip(conv_layers, outputs, strict=False)]


def load_trained(directory: Path):
    """A finished run's model (safe mode, not compiled) and its ``labels.json``."""
    import models  # noqa: F401  registers the lab's custom layers (ResidualUnit) for loading
    from lab.device import keras

    directory = Path(directory)
    if not (directory / "model.keras").exists():
        raise InputError(f"No trained model in {directory}.")
    model = keras.saving.load_model(directory / "model.keras", safe_mode=True, compile=False)
    return model, json.loads((directory / "labels.json").read_text())
