"""Segment: a class for every pixel of the digit canvases (:mod:`recipes.segment`, :mod:`recipes.canvases`).

:func:`run` is the ``"segment"`` run kind's runner (:mod:`lab.worker`): an encoder-decoder with transposed
convolutions (a U-Net with ``skips``), trained on canvases and their masks, judged on test canvases by IoU per
class, mIoU and foreground IoU. What the page shows after a run is read from the run's folder and its config
(the test canvases are made again from the seed: the same seed gives the same canvases).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lab import jobs, runlog
from lab.canvases import CanvasConfig
from lab.config import choice, number, whole
from lab.errors import InputError, describe_value
from recipes import canvases as canvas_recipe
from recipes import segment as recipe

CLASSES = ("digits", "foreground")
MASKS_FILE = "masks.npz"  # the predicted masks of the test canvases (uint8)


@dataclass(frozen=True)
class SegmentConfig(CanvasConfig):
    """Settings of one segment run (the recipe's settings block, with the same names and defaults): the
    canvases' (:class:`lab.canvases.CanvasConfig`), then the network's and the training's."""

    what = "segmentation"
    canvas_size: int = 48  # pixels per side (2 ** depth must divide it)
    train_canvases: int = 3000  # canvases to train on (10% of them validate)
    classes: str = "digits"  # digits: the background and each digit (11 classes); foreground: background or digit
    depth: int = 3  # downsampling steps: each halves the canvas (the bottom sees 2 ** depth pixels per cell)
    filters: int = 12  # the first step's filters; each step down doubles them
    skips: bool = True  # a U-Net: each upsampling step concatenates the encoder's map of its size
    foreground_weight: float = 5.0  # a digit pixel's loss counts this many times a background pixel's
    epochs: int = 6
    batch_size: int = 16
    learning_rate: float = 0.002  # Adam's start, decayed to 0 along a cosine over the run

    def check(self) -> None:
        super().check()
        choice("classes", self.classes, CLASSES)
        whole("depth", self.depth, 1, 5)
        whole("filters", self.filters, 2, 64)
        if not isinstance(self.skips, bool):
            raise InputError(f"Skip connections are on or off (true or false), got {describe_value(self.skips)}.")
        number("foreground weight", self.foreground_weight, 0.1, 100.0)
        whole("epochs", self.epochs, 1, 100)
        whole("batch size", self.batch_size, 1, 1024)
        number("learning rate", self.learning_rate, 0.0, 1.0, low_open=True)
        cell = 2**self.depth
        if self.canvas_size % cell:
            fits = [str(depth) for depth in range(1, 6) if self.canvas_size % 2**depth == 0]
            raise InputError(
                f"A {self.canvas_size}-pixel canvas cannot be halved {self.depth} times (2^{self.depth} = {cell} "
                f"does not divide it): a depth of {', '.join(fits) or 'none'}, or a canvas side that {cell} divides."
            )

    @property
    def names(self) -> list[str]:
        """The classes' names: the background, then each digit (or one "digit" class)."""
        return recipe.class_names(self.classes)


def canvases(config: SegmentConfig, split: str, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Canvases of one split and their masks as the classes to learn (made again from the seed)."""
    count = count or (config.test_canvases if split == "test" else config.train_canvases)
    pictures, masks, _, _ = canvas_recipe.masked_canvases(count, config.seed, *config.canvas_shape(), split)
    return pictures, recipe.targets(masks, config.classes)


def build(config: SegmentConfig):
    """The compiled segmenter (the recipe's builder and compile step)."""
    model = recipe.segmenter(config.canvas_size, len(config.names), config.depth, config.filters, config.skips)
    steps = recipe.training_steps(config.train_canvases, config.batch_size, config.epochs)
    return recipe.compile_segmenter(model, config.learning_rate, steps)


def run(config: SegmentConfig, run_dir: Path, log: runlog.RunLog) -> dict | None:
    """Train ``config``'s segmenter into ``run_dir`` (resuming from its checkpoint), then measure it."""
    from lab.device import keras

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    log.phase("loading data")
    pictures, truth = canvases(config, "train")
    log.phase("building the model")
    model = build(config)
    log.phase("compiling")
    weights = recipe.pixel_weights(truth, config.foreground_weight)
    history, seconds = runlog.fit_arrays(
        model, log, run_dir, pictures, truth, config.batch_size, config.epochs, sample_weight=weights
    )
    if log.cancelled:
        return None
    model.save(run_dir / runlog.MODEL_FILE)
    log.phase("exporting")
    test, test_truth = canvases(config, "test")
    predicted = recipe.predict_masks(model, test)
    np.savez_compressed(run_dir / MASKS_FILE, predicted=predicted)
    return {
        **scores(config, test_truth, predicted),
        "epochs": runlog.epochs_run(history, model),
        "seconds": round(seconds, 2),
        "parameters": int(model.count_params()),
    }


def scores(config: SegmentConfig, truth: np.ndarray, predicted: np.ndarray) -> dict:
    """mIoU, foreground IoU, pixel accuracy and each class's IoU (None for a class no pixel has)."""
    ious = recipe.class_ious(recipe.confusion(truth, predicted, len(config.names)))
    return {
        "miou": round(float(np.nanmean(ious)), 4),
        "foreground_iou": round(recipe.foreground_iou(truth, predicted), 4),
        "pixel_accuracy": round(float((truth == predicted).mean()), 4),
        "class_iou": {
            name: None if np.isnan(iou) else round(float(iou), 4) for name, iou in zip(config.names, ious, strict=True)
        },
    }


# ---------------------------------------------------------------------------------------------
# What the page shows of a finished run
# ---------------------------------------------------------------------------------------------
def predicted_masks(run_id: str) -> np.ndarray:
    """A finished run's predicted masks of its test canvases, (N, size, size) class indices."""
    path = jobs.run_dir(jobs.succeeded(run_id, "segment").id) / MASKS_FILE
    if not path.exists():
        raise InputError(f"Run {describe_value(run_id)} saved no predicted masks (a {MASKS_FILE} file).")
    with np.load(path) as saved:
        return saved["predicted"]


def load_model(run_id: str):
    """A segment run's trained network (safe mode, not compiled)."""
    from lab.device import keras

    path = jobs.run_dir(jobs.succeeded(run_id, "segment").id) / runlog.MODEL_FILE
    if not path.exists():
        raise InputError(f"Run {describe_value(run_id)} saved no trained model.")
    return keras.saving.load_model(path, safe_mode=True, compile=False)


@dataclass(frozen=True)
class MasksView:
    """A run's test canvases, their true and predicted masks, each canvas's mIoU, worst first."""

    pictures: np.ndarray
    truth: np.ndarray
    predicted: np.ndarray
    canvas_ious: np.ndarray
    order: np.ndarray  # canvas indices, worst mIoU first
    confusion: np.ndarray  # counts[true class, predicted class] over every test pixel


def masks_view(config: SegmentConfig, predicted: np.ndarray) -> MasksView:
    """What the page draws of a finished run's test canvases (checked to be the run's own)."""
    pictures, truth = canvases(config, "test")
    if predicted.shape != truth.shape:
        raise InputError(f"The saved masks are {predicted.shape}, not the run's test canvases' {truth.shape}.")
    classes = len(config.names)
    ious = recipe.canvas_mean_ious(truth, predicted, classes)
    order = np.argsort(ious, kind="stable")
    return MasksView(pictures, truth, predicted, ious, order, recipe.confusion(truth, predicted, classes))


@dataclass(frozen=True)
class UpsamplingView:
    """The trained network's first transposed convolution on one canvas, done again by hand."""

    layer: str
    kernel_size: int
    stride: int
    input_shape: tuple[int, int, int]  # the bottom's map it upsamples
    output_shape: tuple[int, int, int]
    difference: float  # the largest |by hand - the layer's own output|


def upsampling_view(model, canvas: np.ndarray) -> UpsamplingView:
    """Zero insertion, padding and a VALID convolution with the flipped trained kernel (+ bias, ReLU)
    against the layer's own output, on ``canvas`` (:func:`recipes.convolution.transposed_by_hand`)."""
    from lab.device import keras
    from recipes.convolution import transposed_by_hand

    layer = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2DTranspose))
    probe = keras.Model(model.inputs[0], [layer.input, layer.output])
    inputs, outputs = (np.asarray(value) for value in probe(canvas[np.newaxis], training=False))
    kernel, bias = layer.get_weights()
    by_hand = np.maximum(transposed_by_hand(inputs, kernel, layer.strides[0]) + bias, 0.0)
    return UpsamplingView(
        layer.name,
        int(layer.kernel_size[0]),
        int(layer.strides[0]),
        tuple(inputs.shape[1:]),
        tuple(outputs.shape[1:]),
        float(np.abs(by_hand - outputs).max()),
    )
