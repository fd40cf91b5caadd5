"""Training a CNN: the settings, the fit itself, and the look inside a trained model.

:func:`run` is the ``"train"`` run kind's runner (see :mod:`lab.worker`): it runs in a worker
process, or in the foreground for the CLI. It checkpoints (Keras ``BackupAndRestore``, throttled),
so an interrupted run resumes from its last saved epoch, and writes its metrics and artifacts
through :mod:`lab.runlog`.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import models
from lab import datasets, export, planner, runlog, settings, uploads
from lab.config import Config, choice, number, whole
from lab.errors import InputError
from models import DESCRIPTIONS as MODEL_DESCRIPTIONS
from models import MODELS

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "nadam")
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "nadam": 2}  # values kept per parameter
MAX_EPOCHS = 200
MAX_BATCH = 4096
CUSTOM = "custom"  # the model is the config's own layer stack (lab.planner's text form)
FOLDERS = "folders"  # the dataset is an uploaded zip of class folders (a staged upload's data_dir)
MODEL_CHOICES = (*MODELS, CUSTOM)
DATASET_CHOICES = (*datasets.DATASETS, FOLDERS)
__all__ = ["CUSTOM", "FOLDERS", "MODELS", "MODEL_DESCRIPTIONS", "OPTIMIZERS", "TrainConfig", "run"]


@dataclass(frozen=True)
class TrainConfig(Config):
    """Settings of one training run (also the run's record in the registry)."""

    what = "training"
    dataset: str = "digits"  # offline: ships with scikit-learn
    model: str = "small_cnn"  # seconds per epoch on a 2-core CPU
    epochs: int = 10
    batch_size: int = 32  # Keras' default
    optimizer: str = "adam"  # HOML's Fashion-MNIST net uses nadam
    learning_rate: float = 1e-3  # Adam's default
    augmentation: bool = False  # the CIFAR-10 tutorial's distortions
    seed: int = 42
    stack: str = ""  # model "custom": the layers, e.g. "conv-16-k3-same-relu,max-k2,flat" (a head is added)
    data_dir: str = ""  # dataset "folders": the extracted class folders of an upload
    image_size: int = 32  # dataset "folders": each picture is cropped square and resized to this side

    def check(self) -> None:
        choice("dataset", self.dataset, DATASET_CHOICES)
        choice("model", self.model, MODEL_CHOICES)
        choice("optimizer", self.optimizer, OPTIMIZERS)
        whole("epochs", self.epochs, 1, MAX_EPOCHS)
        whole("batch size", self.batch_size, 1, MAX_BATCH)
        number("learning rate", self.learning_rate, 0, 10, low_open=True)
        whole("seed", self.seed, 0, 2**31 - 1)
        whole("image size", self.image_size, 8, 128)
        if self.dataset == FOLDERS and not (self.data_dir and Path(self.data_dir).is_dir()):
            raise InputError("Upload a zip of class folders (or capture pictures) before training on your own data.")
        if self.model == CUSTOM:
            self.plan()  # refuses a stack that collapses or is over a cap, naming the layer
        elif (side := min(self.input_shape[:2])) < models.min_side(self.model):
            raise InputError(
                f"{self.model} needs pictures of at least {models.min_side(self.model)}x{models.min_side(self.model)} "
                f"pixels ({side}x{side} here: its poolings would leave nothing): pick CIFAR-10, or your own pictures "
                "at 32 or more, or a model for small pictures (small_cnn, lenet5, mobilenet)."
            )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        if self.dataset == FOLDERS:
            return (self.image_size, self.image_size, 3)
        return datasets.INPUT_SHAPES[self.dataset]

    @property
    def num_classes(self) -> int:
        return len(uploads.folder_class_names(self.data_dir)) if self.dataset == FOLDERS else 10

    def memory_bytes(self) -> int:
        """The run's accelerator memory figure (:func:`lab.planner.run_memory_bytes`): the custom
        stack's plan, or the registry model's layers counted the planner's way."""
        if self.model == CUSTOM:
            plan = self.plan()
            parameters, activations = plan.total_params, plan.training_bytes
        else:
            parameters, activations = registry_footprint(self.model, self.input_shape, self.num_classes)
        return planner.run_memory_bytes(parameters, activations, self.batch_size, OPTIMIZER_SLOTS[self.optimizer])

    def plan(self) -> planner.StackPlan:
        """The custom stack's plan on this dataset, with its classifier head (model "custom" only)."""
        if not self.stack.strip():
            raise InputError("The custom model has no layers: add some, or pick a model from the list.")
        specs = planner.decode_stack(self.stack)
        return planner.trainable_plan(self.input_shape, specs, self.num_classes, self.batch_size)[0]


def uncompiled_model(config: TrainConfig, input_shape, num_classes: int):
    """The registry model, or the custom stack with its head (exactly the planned layers)."""
    if config.model != CUSTOM:
        return models.build(config.model, input_shape, num_classes)
    from lab import padding_tf

    specs, _ = planner.with_head(planner.decode_stack(config.stack), num_classes)
    return padding_tf.build_model(input_shape, specs)


def registry_stack(name: str, input_shape) -> list[planner.LayerSpec] | None:
    """A registry model's layers as planner rows (a custom stack's starting point); None when the
    model is not one chain of planner layers (the ResNets) or does not fit pictures this small."""
    from lab import padding_tf
    from recipes.architectures import shapes_only

    try:
        models.check_input(name, input_shape)
    except ValueError:
        return None
    return padding_tf.stack_from_model(shapes_only(models.MODELS[name], tuple(input_shape), 10))


@functools.cache
def registry_footprint(name: str, input_shape: tuple, num_classes: int) -> tuple[int, int]:
    """A registry model's parameters and activation bytes per image, counted as the planner counts a
    chain (the input and every layer's float32 output). A layer made of layers (a ResidualUnit)
    counts its output once per inner layer: each keeps a map of about that size for backprop."""
    from lab.device import keras
    from recipes.architectures import shapes_only

    models.check_input(name, input_shape)
    model = shapes_only(models.MODELS[name], tuple(input_shape), num_classes)  # counted, never allocated
    activations = 4 * math.prod(model.input_shape[1:])
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inner = len(list(layer._flatten_layers(include_self=False)))  # Keras' own sublayer walk
        activations += 4 * math.prod(layer.output.shape[1:]) * max(1, inner)
    return model.count_params(), activations


def build_model(config: TrainConfig, input_shape, num_classes: int):
    """The model for ``config``, compiled for sparse labels."""
    import lab.device  # noqa: F401
    from recipes import train

    return train.compile_for_training(
        uncompiled_model(config, input_shape, num_classes), config.optimizer, config.learning_rate
    )


# A warm worker keeps its last run's compiled model: the next run with the same settings but for its
# seed and epochs (a room pressing Train on the default) trains that model again, so it skips the
# tracing of Keras' train, test and predict steps (~1 s of a digits run's first batch here, 2-4 s on
# a busy core). It gets a freshly built model's variables (weights and dropout seeds) and its
# optimizer's starting state, so it trains exactly as the fresh model would (the test checks).
_kept: dict[str, tuple[object, list[np.ndarray]]] = {}  # {settings key: (model, optimizer start)}
KEEP_MAX_PARAMETERS = 2_000_000  # larger models are not kept: their memory matters, their tracing less


def reuse_traces() -> bool:
    """Whether runs reuse the previous run's traced model (``CNNLAB_REUSE_TRACES=0``: never)."""
    return settings.get("CNNLAB_REUSE_TRACES")


def _trace_key(config: TrainConfig, input_shape, num_classes: int) -> str:
    from lab.device import keras

    settings = {name: value for name, value in config.to_dict().items() if name not in ("seed", "epochs")}
    policy = keras.mixed_precision.global_policy().name
    return json.dumps([settings, list(input_shape), num_classes, policy], sort_keys=True)


def _same_layout(model, fresh) -> bool:
    pairs = list(zip(model.variables, fresh.variables, strict=False))
    return len(model.variables) == len(fresh.variables) and all(a.shape == b.shape for a, b in pairs)


def model_for_run(config: TrainConfig, input_shape, num_classes: int):
    """The compiled model a run trains: built and seeded now, or the kept model holding its state.

    Call after seeding (``keras.utils.set_random_seed``): the fresh model's initial weights are
    the run's either way.
    """
    fresh = build_model(config, input_shape, num_classes)
    if not reuse_traces():
        return fresh
    key = _trace_key(config, input_shape, num_classes)
    if key in _kept and _same_layout(_kept[key][0], fresh):
        model, optimizer_start = _kept[key]
        for variable, value in zip(model.variables, fresh.variables, strict=True):
            variable.assign(value)
        for variable, value in zip(model.optimizer.variables, optimizer_start, strict=True):
            variable.assign(value)
        model.reset_metrics()
        model.stop_training = False
        # BackupAndRestore of a resumed run set where fit starts; a new run starts at epoch 0.
        model._initial_epoch = None
        return model
    _kept.clear()  # one model at most: a worker holds no more than its last run
    if fresh.count_params() > KEEP_MAX_PARAMETERS:
        return fresh
    fresh.optimizer.build(fresh.trainable_variables)  # as fit would: its starting state is kept
    _kept[key] = (fresh, [variable.numpy() for variable in fresh.optimizer.variables])
    return fresh


def warm_up() -> None:
    """Trace the default run's model before anyone waits for it (a warm worker's start, see
    :mod:`lab.worker`): the first run on the default settings then reuses it."""
    if not reuse_traces():
        return
    from lab.device import keras

    config = TrainConfig()
    data = load_data(config)
    keras.utils.set_random_seed(config.seed)
    model = model_for_run(config, data.input_shape, data.num_classes)
    few = slice(0, 2 * config.batch_size)  # the same element shapes as a run's pipelines: the same traces
    train_data = datasets.pipeline(data.x_train[few], data.y_train[few], config.batch_size, shuffle=True)
    valid_data = datasets.pipeline(data.x_valid[few], data.y_valid[few], max(config.batch_size, 256))
    model.fit(train_data, validation_data=valid_data, epochs=1, verbose=0, shuffle=False)
    model.predict(datasets.pipeline(data.x_test[few], data.y_test[few], 256), verbose=0)


def forget_kept_models() -> None:
    """Drop the kept model (its memory, and its traced steps)."""
    _kept.clear()


def model_summary(config: TrainConfig, input_shape, num_classes: int) -> list[dict]:
    """Layer, type, output shape and parameters, before training (what ``model.summary()`` prints): the
    model's shapes only (a VGG-16's weights are not allocated to be counted)."""
    from recipes.architectures import shapes_only

    model = shapes_only(lambda *_: uncompiled_model(config, input_shape, num_classes), input_shape, num_classes)
    return [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": str(tuple(layer.output.shape[1:])),
            "parameters": layer.count_params(),
        }
        for layer in model.layers
    ]


def load_data(config: TrainConfig) -> datasets.Dataset:
    """The run's dataset: a built-in one, or the uploaded class folders at the chosen size."""
    if config.dataset == FOLDERS:
        return uploads.load_folders(config.data_dir, config.image_size, config.seed)
    return datasets.load(config.dataset, config.seed)


def run(config: TrainConfig, run_dir: Path, log: runlog.RunLog) -> dict | None:
    """Train ``config`` into ``run_dir``; resumes from ``run_dir/backup`` if a checkpoint is there.

    Saves the run's artifacts (:func:`lab.runlog.save_artifacts`). Returns test accuracy/loss,
    epochs, seconds and images per second; ``None`` when ``log`` asked it to stop.
    """
    from lab.device import keras

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    log.phase("loading data")
    data = load_data(config)
    log.phase("building the model")
    model = model_for_run(config, data.input_shape, data.num_classes)
    log.phase("compiling")  # the first batch traces the graph
    train_data = datasets.pipeline(
        data.x_train,
        data.y_train,
        config.batch_size,
        shuffle=True,
        augment=config.augmentation,
        flip=data.flip_ok,
        seed=config.seed,
    )
    valid_data = datasets.pipeline(data.x_valid, data.y_valid, max(config.batch_size, 256))
    callbacks = [runlog.checkpoint_callback(run_dir / "backup", log), log.keras_callback(config.batch_size)]
    start = time.perf_counter()
    history = model.fit(
        train_data, validation_data=valid_data, epochs=config.epochs, verbose=0, shuffle=False, callbacks=callbacks
    )
    seconds = time.perf_counter() - start
    if log.cancelled:
        return None  # stop now: no evaluation or export
    epochs_run = runlog.epochs_run(history, model)
    probabilities = model.predict(datasets.pipeline(data.x_test, data.y_test, 256), verbose=0)
    test_loss, test_accuracy = test_scores(probabilities, data.y_test)
    labels = runlog.RunLabels(data.class_names, list(data.input_shape), data.name, config.model)
    runlog.save_artifacts(run_dir, model, labels, runlog.Predictions(probabilities, data.y_test))
    log.phase("exporting")
    tflite = export.to_tflite(model, run_dir, data.x_test, probabilities)
    return {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "epochs": epochs_run,
        "seconds": round(seconds, 2),
        "images_per_second": round(len(data.x_train) * max(len(history.epoch), 1) / seconds, 1) if seconds else None,
        "parameters": int(model.count_params()),
        **tflite,
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
    from lab import graph
    from lab.device import keras

    model = graph.functional(model, np.shape(image))  # a planner stack loaded from .keras has no input
    conv_layers = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) or "Residual" in type(layer).__name__
    ]
    if not conv_layers:
        return []
    probe = keras.Model(model.inputs, [graph.output_of(model, layer) for layer in conv_layers[:limit]])
    outputs = probe(np.asarray(image, dtype=np.float32)[np.newaxis], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [(layer.name, np.asarray(output)[0]) for layer, output in zip(conv_layers, outputs, strict=False)]
