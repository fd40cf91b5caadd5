"""Datasets for training: scikit-learn's digits offline, Keras' MNIST/Fashion-MNIST/CIFAR-10.

Splits follow the seeds: the last 5,000 training images are the validation set for the Keras
datasets (HOML), a stratified split for digits. Pixels are scaled to [0, 1]. Downloads go to the
Keras cache; offline they fail within seconds with instructions instead of hanging.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lab.errors import InputError, describe_value

# name: (keras cache file, host it downloads from, class names, channels, whether flips are natural)
KERAS_DATASETS = {
    "mnist": ("mnist.npz", "storage.googleapis.com", [str(d) for d in range(10)], 1, False),
    "fashion_mnist": (
        "fashion-mnist",
        "storage.googleapis.com",
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        1,
        True,
    ),
    "cifar10": (
        "cifar-10-batches-py",
        "www.cs.toronto.edu",
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        3,
        True,
    ),
}
DATASETS = ("digits", *KERAS_DATASETS)
DESCRIPTIONS = {
    "digits": "scikit-learn's 1,797 handwritten digits, 8x8: ships with the lab, works offline.",
    "mnist": "70,000 handwritten digits, 28x28 (downloaded once, 11 MB).",
    "fashion_mnist": "70,000 clothing images, 28x28, HOML's dataset (downloaded once, 30 MB).",
    "cifar10": "60,000 colour photos, 32x32, 10 classes (downloaded once, 163 MB).",
}
INPUT_SHAPES = {"digits": (8, 8, 1), "mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
VALIDATION_SIZE = 5_000  # HOML: the last 5,000 training images


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
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def is_cached(name: str) -> bool:
    if name == "digits":
        return True
    return (keras_cache_dir() / KERAS_DATASETS[name][0]).exists()


def _ensure_reachable(name: str, host: str) -> None:
    """Fail in seconds, not minutes, when an uncached dataset cannot be downloaded."""
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError:
        raise DatasetUnavailable(
            f"{name} is not in the Keras cache ({keras_cache_dir()}) and cannot be downloaded: no network. "
            "On a machine with internet run `python -m lab assets`, then copy ~/.keras/datasets here; "
            "or pick 'digits', which ships with the lab."
        ) from None


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    x_train, x_valid, y_train, y_valid = train_test_split(
        x_rest, y_rest, test_size=0.15, stratify=y_rest, random_state=seed
    )
    return Dataset("digits", x_train, y_train, x_valid, y_valid, x_test, y_test, [str(d) for d in range(10)])


def load(name: str, seed: int = 42) -> Dataset:
    """Load a dataset with train/validation/test splits, pixels scaled to [0, 1].

    Raises:
        InputError: Unknown name.
        DatasetUnavailable: Not cached and no network (within ~3 s).
    """
    if name not in DATASETS:
        raise InputError(f"Unknown dataset {describe_value(name)}; choose one of {', '.join(DATASETS)}.")
    if name == "digits":
        return _digits(seed)
    _, host, class_names, channels, flip_ok = KERAS_DATASETS[name]
    if not is_cached(name):
        _ensure_reachable(name, host)
    from lab.device import keras

    try:
        (x_full, y_full), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as error:  # keras raises a bare Exception("URL fetch failure ...")
        raise DatasetUnavailable(f"Could not download {name}: {error}") from None

    def scale(x):
        x = x.astype(np.float32) / 255.0
        return x[..., np.newaxis] if channels == 1 and x.ndim == 3 else x

    y_full, y_test = y_full.reshape(-1).astype(np.int64), y_test.reshape(-1).astype(np.int64)
    x_full = scale(x_full)
    return Dataset(
        name,
        x_full[:-VALIDATION_SIZE], y_full[:-VALIDATION_SIZE], x_full[-VALIDATION_SIZE:], y_full[-VALIDATION_SIZE:],
        scale(x_test), y_test, class_names, flip_ok,
    )  # fmt: skip


def augment_batch(images, seed_pair, flip: bool, color: bool):
    """The CIFAR-10 tutorial's distortions, stateless and seeded: random crop (pad 10% + crop),
    flip, hue 0.05, contrast 0.3-1.0, brightness 0.2, saturation 0-2, clipped to [0, 1]."""
    from lab.device import tf

    images = tf.convert_to_tensor(images)
    pad = max(1, images.shape[1] // 10)
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    seeds = tf.random.experimental.stateless_split(tf.constant(seed_pair, dtype=tf.int64), num=7)
    out = tf.image.stateless_random_crop(padded, tf.shape(images), seed=seeds[0])
    if flip:
        out = tf.image.stateless_random_flip_left_right(out, seed=seeds[1])
    out = tf.image.stateless_random_brightness(out, 0.2, seed=seeds[2])
    out = tf.image.stateless_random_contrast(out, 0.3, 1.0, seed=seeds[3])
    if color and images.shape[-1] == 3:
        out = tf.image.stateless_random_hue(out, 0.05, seed=seeds[4])
        out = tf.image.stateless_random_saturation(out, 0.0, 2.0, seed=seeds[5])
    return tf.clip_by_value(out, 0.0, 1.0)


def pipeline(
    x, y, batch_size: int, *, shuffle: bool = False, augment: bool = False, flip: bool = False, seed: int = 42
):
    """A tf.data pipeline: (shuffle) -> batch -> (augment, per batch) -> prefetch."""
    from lab.device import tf

    data = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if augment:
        counter = tf.data.Dataset.counter()
        data = tf.data.Dataset.zip((data, counter)).map(
            lambda batch, step: (augment_batch(batch[0], tf.stack([seed, step]), flip, True), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return data.prefetch(tf.data.AUTOTUNE)


def augmentation_preview(image: np.ndarray, flip: bool, count: int = 9, seed: int = 0) -> np.ndarray:
    """``count`` random distortions of one (H, W, C) image, as the training pipeline makes them."""
    batch = np.repeat(np.asarray(image, dtype=np.float32)[np.newaxis], count, axis=0)
    return np.stack([augment_batch(batch[i : i + 1], (seed, i), flip, True).numpy()[0] for i in range(count)])
