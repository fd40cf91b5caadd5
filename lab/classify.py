"""Classify images with ImageNet models from keras.applications, or with models trained here.

A :class:`LoadedModel` bundles a Keras model with its input size, preprocessing, class names, a
compiled inference function and a lock: pages cache one per server process (shared by every
session), so calls are serialised and nothing mutates the model.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lab import graph, jobs, network, runlog, training
from lab.device import keras, tf
from lab.errors import InputError, WeightsUnavailable, describe_value
from lab.images import LUMA
from models.imagenet import CLASS_INDEX, IMAGENET_MODELS, RANDOM_WEIGHTS_SEED, WEIGHTS_HOST
from recipes import classify as recipe

FIT_MODES = ("resize", "pad", "crop_or_pad", "crop_and_resize")
FIT_NOTES = {
    "resize": "tf.image.resize: squeezes the whole image to a square (may distort it).",
    "pad": "tf.image.resize_with_pad: keeps the aspect ratio, pads with black.",
    "crop_or_pad": "tf.image.resize_with_crop_or_pad: no scaling; central crop (or pad) to size.",
    "crop_and_resize": "tf.image.crop_and_resize: a box (default: the central square) resized to size.",
}


@dataclass(frozen=True)
class Prediction:
    label: str
    class_id: int
    probability: float


@dataclass(frozen=True)
class ClassifierConfig:
    """The classifier page's settings (recipes/classify.py opens with the same names and defaults)."""

    models: tuple[str, ...] = ("MobileNetV2",)  # keras.applications models by name
    pictures: tuple[str, ...] = ("china", "flower")  # scikit-learn's sample photos by name, or uploads
    mode: str = "resize"  # how a photo meets the input, one of FIT_MODES
    top_k: int = 5  # classes shown per photo
    weights: str | None = "imagenet"  # or None: random weights, seeded (the offline demo)
    seed: int = RANDOM_WEIGHTS_SEED  # the random weights' seed


@dataclass
class LoadedModel:
    """A model ready for inference; build with :func:`load_imagenet` or :func:`load_run`."""

    name: str
    model: object
    input_size: tuple[int, int]
    channels: int
    class_names: list[str]
    preprocess: Callable  # float pixels in [0, 255] -> model input; traced into the compiled call
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _infer: Callable | None = field(default=None, repr=False)

    def infer(self, pixels) -> np.ndarray:
        """Preprocessing + forward pass in one compiled call (a tf.function), serialised.

        Args:
            pixels: (N, H, W, C) float pixels in [0, 255] at the model's input size.
        """
        with self.lock:
            if self._infer is None:
                model, preprocess = self.model, self.preprocess
                self._infer = tf.function(lambda x: model(preprocess(x), training=False), reduce_retracing=True)
            return np.asarray(self._infer(tf.convert_to_tensor(pixels, dtype=tf.float32)))


def class_names_imagenet() -> list[str]:
    """ImageNet's 1,000 class names from the Keras cache; placeholders if it was never fetched."""
    path = network.keras_home() / "models" / CLASS_INDEX
    if path.exists():
        index = json.loads(path.read_text())
        return [index[str(i)][1] for i in range(1000)]
    if network.reachable(WEIGHTS_HOST):
        url = f"https://{WEIGHTS_HOST}/download.tensorflow.org/data/{CLASS_INDEX}"
        try:
            keras.utils.get_file(CLASS_INDEX, url, cache_subdir="models")
            return class_names_imagenet()
        except Exception:  # keras raises a bare Exception on fetch failures: fall back to numbers
            pass
    return [f"class {i}" for i in range(1000)]


_SEEDED_BUILD = threading.Lock()


def load_imagenet(name: str, weights: str | None = "imagenet") -> LoadedModel:
    """Build a keras.applications model; with ``weights="imagenet"`` download them once.

    Raises:
        InputError: Unknown model.
        WeightsUnavailable: Not cached and no network (within ~3 s), with pre-fetch instructions.
    """
    if name not in IMAGENET_MODELS:
        raise InputError(f"Unknown model {describe_value(name)}; choose one of {', '.join(IMAGENET_MODELS)}.")
    spec = IMAGENET_MODELS[name]
    if weights == "imagenet":
        network.require_weights(name)
    try:
        if weights is None:  # random weights, but the same on every load and in "Show the code"
            with _SEEDED_BUILD:  # the global seed is process state: one seeded build at a time
                keras.utils.set_random_seed(RANDOM_WEIGHTS_SEED)
                model = spec.builder()(weights=None)
        else:  # a download must not hold up the seeded builds
            model = spec.builder()(weights=weights)
    except Exception as error:  # keras raises a bare Exception("URL fetch failure ...")
        raise WeightsUnavailable(f"Could not download {name}'s weights: {error}") from None
    names = class_names_imagenet() if weights == "imagenet" else [f"class {i}" for i in range(1000)]
    return LoadedModel(name, model, (spec.input_size, spec.input_size), 3, names, spec.module().preprocess_input)


def _scale_unit(pixels):
    """The lab's own models take pixels in [0, 1]."""
    return pixels / 255.0


def load_run(run_id: str) -> LoadedModel:
    """A model trained in this lab (training or fine-tune run), with its own classes and size."""
    folder = jobs.run_dir(run_id)
    model, labels = runlog.load_model(folder), runlog.read_labels(folder)
    height, width, channels = labels.input_shape
    if labels.preprocessing == runlog.IMAGENET_PIXELS:
        # The base's preprocess_input works on tensors: it is traced into the compiled call.
        preprocess = IMAGENET_MODELS[labels.base_model].module().preprocess_input
    else:
        preprocess = _scale_unit
    return LoadedModel(run_id, model, (height, width), channels, labels.class_names, preprocess)


def fetch_weights() -> int:
    """Download every registry model's ImageNet weights and the class index (``lab assets``)."""
    failures = 0
    for name in IMAGENET_MODELS:
        try:
            load_imagenet(name)
            print(f"ok       weights {name}")
        except WeightsUnavailable as error:
            failures += 1
            print(f"missing  weights {name}: {error}")
    print(
        "ok       ImageNet class names" if class_names_imagenet()[0] != "class 0" else "missing  ImageNet class names"
    )
    return failures


# ---------------------------------------------------------------------------------------------
# What the network sees
# ---------------------------------------------------------------------------------------------
def _pixels(image: np.ndarray):
    """uint8 stays uint8 (TF resizes it directly); floats are taken as [0, 1] and scaled to 255."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., np.newaxis]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise InputError(f"Expected an (H, W, 3) or (H, W, 1) image, got shape {image.shape}.")
    if image.dtype == np.uint8:
        return image
    return np.clip(image.astype(np.float32), 0.0, 1.0) * 255.0


def _check_mode(mode: str) -> None:
    if mode not in FIT_MODES:
        raise InputError(f"Unknown resize mode {describe_value(mode)}; choose one of {', '.join(FIT_MODES)}.")


def _fit_batch(batch, size: tuple[int, int], mode: str, box) -> np.ndarray:
    """Fit a stack of same-sized images in one TF op -> float32 pixels in [0, 255]."""
    if mode == "crop_and_resize":
        box = [float(v) for v in (box if box is not None else recipe.central_square(*batch.shape[1:3]))]
        if len(box) != 4 or not (0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1):
            raise InputError(f"The box must be (y_min, x_min, y_max, x_max) within [0, 1], got {describe_value(box)}.")
    return recipe.fit_batch(batch, tuple(size), mode, box)


def fit_image(image: np.ndarray, size, mode: str = "resize", box: Sequence[float] | None = None) -> np.ndarray:
    """Fit an image to ``size`` as HOML shows: resize, pad, crop-or-pad, or crop-and-resize.

    Args:
        image: (H, W, C) uint8, or float in [0, 1].
        size: Target (height, width) or an int.
        mode: One of :data:`FIT_MODES`.
        box: For ``crop_and_resize``: (y_min, x_min, y_max, x_max) in [0, 1]; default the
            largest central square.

    Returns:
        (height, width, C) float32 pixels in [0, 255].
    """
    _check_mode(mode)
    size = (size, size) if isinstance(size, int) else tuple(size)
    return _fit_batch(_pixels(image)[np.newaxis], size, mode, box)[0]


def _prepare(loaded: LoadedModel, images: Sequence[np.ndarray], mode: str, box=None) -> np.ndarray:
    """Fit every image (same-sized ones in one batched op) and match the model's channels."""
    if not len(images):
        raise InputError("No images to classify.")
    _check_mode(mode)
    pixels = [_pixels(image) for image in images]
    groups: dict[tuple, list[int]] = {}
    for index, image in enumerate(pixels):
        groups.setdefault((image.shape, image.dtype.str), []).append(index)
    if len(groups) == 1:  # the common case: one op, no copies
        batch = _fit_batch(np.stack(pixels), loaded.input_size, mode, box)
        return _match_channels(batch, loaded.channels)
    batch = np.empty((len(pixels), *loaded.input_size, pixels[0].shape[2] if len(groups) == 1 else 3), np.float32)
    for indices in groups.values():
        fitted = _fit_batch(np.stack([pixels[i] for i in indices]), loaded.input_size, mode, box)
        if batch.shape[3] == 3 and fitted.shape[3] == 1:
            fitted = np.repeat(fitted, 3, axis=3)
        batch[indices] = fitted
    return _match_channels(batch, loaded.channels)


def _match_channels(batch: np.ndarray, channels: int) -> np.ndarray:
    if channels == 1 and batch.shape[3] == 3:
        return batch @ LUMA[:, np.newaxis]
    if channels == 3 and batch.shape[3] == 1:
        return np.repeat(batch, 3, axis=3)
    return batch


@dataclass(frozen=True)
class Classification:
    predictions: list[list[Prediction]]  # per image, top-k
    seconds_per_image: float


def classify(
    loaded: LoadedModel, images: Sequence[np.ndarray], top_k: int = 5, mode: str = "resize", box=None
) -> Classification:
    """Top-k classes for a batch of images, in one compiled call.

    Args:
        loaded: From :func:`load_imagenet` or :func:`load_run`.
        images: (H, W, C) uint8 or [0, 1] float images of any size.
        top_k: How many classes per image.
        mode: How to fit each image to the model's input (:func:`fit_image`).
        box: For ``crop_and_resize``.
    """
    if not 1 <= int(top_k) <= len(loaded.class_names):
        raise InputError(f"top_k must be between 1 and {len(loaded.class_names)}, got {top_k}.")
    batch = _prepare(loaded, images, mode, box)
    start = time.perf_counter()
    probabilities = loaded.infer(batch)
    seconds = (time.perf_counter() - start) / len(batch)
    results = []
    for row in probabilities:
        best = np.argpartition(-row, top_k - 1)[:top_k]
        best = best[np.argsort(-row[best])]
        results.append([Prediction(loaded.class_names[i], int(i), float(row[i])) for i in best])
    return Classification(results, seconds)


def model_input(loaded: LoadedModel, image: np.ndarray, mode: str = "crop_and_resize") -> tuple[np.ndarray, np.ndarray]:
    """What the network sees of ``image``: the fitted picture (0-255, for showing) and its input (preprocessed)."""
    fitted = _prepare(loaded, [image], mode)
    return fitted[0] / 255.0, np.asarray(loaded.preprocess(tf.convert_to_tensor(fitted)))[0].astype(np.float32)


def grad_cam(loaded: LoadedModel, image: np.ndarray, class_id: int | None = None, mode: str = "resize") -> np.ndarray:
    """Grad-CAM heatmap (H, W) in [0, 1] at the fitted image's size for ``class_id`` (default: top).

    The gradient of the class score with respect to the last convolutional feature maps, averaged
    per channel, weights those maps; their ReLU'd sum shows where the evidence is.
    """
    batch = loaded.preprocess(tf.convert_to_tensor(_prepare(loaded, [image], mode)))
    with loaded.lock:
        # Any model the lab lists: a planner stack (wired from an Input) or a fine-tuned one, whose
        # last feature maps are its nested base's output in the outer graph.
        model = graph.functional(loaded.model, (*loaded.input_size, loaded.channels))
        spatial = graph.spatial_layers(model)
        if not spatial:
            raise InputError(
                f"{loaded.name} has no feature maps (no layer outputs H x W x C), so Grad-CAM has none to weigh."
            )
        probe = keras.Model(model.inputs, [graph.output_of(model, spatial[-1]), *model.outputs])
        with tf.GradientTape() as tape:
            maps, predictions = probe(batch, training=False)
            index = int(tf.argmax(predictions[0])) if class_id is None else int(class_id)
            score = predictions[:, index]
        gradients = tape.gradient(score, maps)
    weights = tf.reduce_mean(gradients, axis=(0, 1, 2))
    cam = tf.nn.relu(tf.reduce_sum(maps[0] * weights, axis=-1))
    peak = float(tf.reduce_max(cam))
    cam = cam / peak if peak > 0 else cam  # all-zero evidence stays zero
    return np.asarray(tf.image.resize(cam[..., tf.newaxis], loaded.input_size)[..., 0])


def lab_runs() -> list[tuple[str, str]]:
    """(run id, description) of finished training and fine-tune runs that saved a model.

    The description names the model, the data, the date and the test accuracy, so two runs of
    the same settings are told apart.
    """
    found = []
    for run in jobs.list_runs(limit=200):
        if run.status == "succeeded" and runlog.has_model(jobs.run_dir(run.id)):
            labels = runlog.read_labels(jobs.run_dir(run.id))
            accuracy = (run.result or {}).get("test_accuracy")
            score = f" · test accuracy {accuracy:.3f}" if accuracy is not None else ""
            when = time.strftime("%b %d %H:%M", time.localtime(run.created))
            found.append((run.id, f"{run.kind}: {labels.model} on {labels.dataset} · {when}{score} · {run.id[-6:]}"))
    return found


def look_inside(loaded: LoadedModel, image: np.ndarray, limit: int = 8) -> tuple[list, np.ndarray]:
    """Each convolutional layer's maps and the class probabilities for one test image.

    Args:
        loaded: A lab-trained model (:func:`load_run`).
        image: (H, W, C) in the training data's [0, 1] scale, at the model's input size.

    Returns:
        ``[(layer name, (H, W, C) maps), ...]`` and the probabilities, computed under the
        model's lock (the model is shared by every session).
    """
    batch = np.asarray(image, dtype=np.float32)[np.newaxis]
    with loaded.lock:
        maps = training.activation_maps(loaded.model, image, limit)
        probabilities = np.asarray(loaded.model(batch, training=False))[0]
    return maps, probabilities


def load_uploaded(path) -> LoadedModel:
    """An uploaded ``.keras`` model, only after :func:`lab.safety.check_keras_file` passes."""
    from lab import safety

    model = safety.load_checked_model(path)
    shape = model.input_shape
    if len(shape) != 4 or shape[1] is None or shape[2] is None or shape[3] not in (1, 3):
        raise InputError(f"The uploaded model takes inputs of shape {shape}; expected (None, H, W, 1 or 3).")
    classes = int(model.output_shape[-1])
    names = [f"class {i}" for i in range(classes)]
    return LoadedModel(Path(path).name, model, (shape[1], shape[2]), shape[3], names, _scale_unit)
