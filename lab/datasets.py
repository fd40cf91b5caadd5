"""Datasets for training: scikit-learn's digits offline, Keras' MNIST/Fashion-MNIST/CIFAR-10.

Splits follow the seeds: the last 5,000 training images are the validation set for the Keras
datasets (HOML), a stratified split for digits. Pixels are scaled to [0, 1]. Downloads go to the
Keras cache; offline they fail within seconds with instructions instead of hanging.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lab import network
from lab.errors import InputError, describe_value
from recipes import data as recipe

# name: (keras cache file, host it downloads from); class names and which flips are natural: recipes/data.py
KERAS_DATASETS = {
    "mnist": ("mnist.npz", "storage.googleapis.com"),
    "fashion_mnist": ("fashion-mnist", "storage.googleapis.com"),
    "cifar10": ("cifar-10-batches-py", "www.cs.toronto.edu"),
}
DATASETS = ("digits", *KERAS_DATASETS)
DESCRIPTIONS = {
    "digits": "scikit-learn's 1,797 handwritten digits, 8x8: ships with the lab, works offline.",
    "mnist": "70,000 handwritten digits, 28x28 (downloaded once, 11 MB).",
    "fashion_mnist": "70,000 clothing images, 28x28, HOML's dataset (downloaded once, 30 MB).",
    "cifar10": "60,000 colour photos, 32x32, 10 classes (downloaded once, 163 MB).",
}
INPUT_SHAPES = {"digits": (8, 8, 1), "mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
VALIDATION_SIZE = recipe.VALIDATION_SIZE  # HOML: the last 5,000 training images


class DatasetUnavailable(InputError):
    """A dataset that must be downloaded cannot be (no network) and is not cached."""


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # (N, H, W, C) float32 in [0, 1]
    y_train: np.ndarray  # (N,) int
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    flip_ok: bool = False  # horizontal flips keep the label (not for digits)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def keras_cache_dir() -> Path:
    return network.keras_home() / "datasets"


def is_cached(name: str) -> bool:
    """Is a built-in dataset here without a download (False for a name that is not one)?"""
    if name == "digits":
        return True
    if name not in KERAS_DATASETS:
        return False
    return (keras_cache_dir() / KERAS_DATASETS[name][0]).exists()


def _ensure_reachable(name: str, host: str) -> None:
    """Fail in seconds, not minutes, when an uncached dataset cannot be downloaded."""
    if not network.reachable(host):
        raise DatasetUnavailable(
            f"{name} is not in the Keras cache ({keras_cache_dir()}) and cannot be downloaded: no network. "
            "On a machine with internet run `python -m lab assets`, then copy ~/.keras/datasets here; "
            "or pick 'digits', which ships with the lab."
        )


def _digits(seed: int) -> Dataset:
    train, valid, test, names = recipe.digits(seed)
    return Dataset("digits", *train, *valid, *test, names)


CACHE_BYTES = 700 * 2**20  # a warm worker keeps loaded datasets up to this size (CIFAR-10 in float32: 630 MB)
_LOADED: dict[tuple[str, int], Dataset] = {}


def _nbytes(data: Dataset) -> int:
    return sum(getattr(data, name).nbytes for name in ("x_train", "y_train", "x_valid", "y_valid", "x_test", "y_test"))


def load(name: str, seed: int = 42) -> Dataset:
    """:func:`load_fresh`, kept in memory for the process's next runs (a warm worker's) while they
    fit in :data:`CACHE_BYTES`; the arrays are read-only, so no run changes another's data."""
    key = (name, int(seed))
    if key in _LOADED:
        return _LOADED[key]
    data = load_fresh(name, seed)
    while _LOADED and sum(map(_nbytes, _LOADED.values())) + _nbytes(data) > CACHE_BYTES:
        _LOADED.pop(next(iter(_LOADED)))  # the oldest goes first
    if _nbytes(data) <= CACHE_BYTES:
        for array in (data.x_train, data.y_train, data.x_valid, data.y_valid, data.x_test, data.y_test):
            array.flags.writeable = False
        _LOADED[key] = data
    return data


def load_fresh(name: str, seed: int = 42) -> Dataset:
    """Load a dataset with train/validation/test splits, pixels scaled to [0, 1].

    Raises:
        InputError: Unknown name.
        DatasetUnavailable: Not cached and no network (within ~3 s).
    """
    if name not in DATASETS:
        raise InputError(f"Unknown dataset {describe_value(name)}; choose one of {', '.join(DATASETS)}.")
    if name == "digits":
        return _digits(seed)
    _, host = KERAS_DATASETS[name]
    if not is_cached(name):
        _ensure_reachable(name, host)
    from lab.device import keras

    del keras  # imported for its configuration: TensorFlow set up before the recipe loads the data
    try:
        train, valid, test, names = recipe.keras_dataset(name)
    except Exception as error:  # keras raises a bare Exception("URL fetch failure ...")
        raise DatasetUnavailable(f"Could not download {name}: {error}") from None
    return Dataset(name, *train, *valid, *test, names, name in recipe.FLIPS_NATURAL)


def augment_batch(images, seed_pair, flip: bool, color: bool):
    """The CIFAR-10 tutorial's distortions (:func:`recipes.data.augment_batch`), TensorFlow configured first."""
    import lab.device  # noqa: F401

    return recipe.augment_batch(images, seed_pair, flip, color)


def pipeline(
    x, y, batch_size: int, *, shuffle: bool = False, augment: bool = False, flip: bool = False, seed: int = 42
):
    """A tf.data pipeline (:func:`recipes.data.pipeline`): (shuffle) -> batch -> (augment) -> prefetch."""
    import lab.device  # noqa: F401

    return recipe.pipeline(x, y, batch_size, shuffle, augment, flip, seed)


def augmentation_preview(image: np.ndarray, flip: bool, count: int = 9, seed: int = 0) -> np.ndarray:
    """``count`` random distortions of one (H, W, C) image, as the training pipeline makes them."""
    batch = np.repeat(np.asarray(image, dtype=np.float32)[np.newaxis], count, axis=0)
    return np.stack([augment_batch(batch[i : i + 1], (seed, i), flip, True).numpy()[0] for i in range(count)])
