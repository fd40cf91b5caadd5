"""Plain CNNs from the curriculum: a fast default, HOML's Fashion-MNIST net, the CIFAR-10
tutorial net and Ng's HappyModel."""

from __future__ import annotations

from functools import partial

import keras
from keras import layers


def _input(input_shape) -> keras.KerasTensor:
    return keras.Input(shape=tuple(input_shape))


def _head(x, num_classes: int):
    return layers.Dense(num_classes, activation="softmax", name="predictions")(x)


def small_cnn(input_shape=(8, 8, 1), num_classes: int = 10, filters: int = 32) -> keras.Model:
    """Three 3x3 conv layers, two max pools and a small dense head: seconds per epoch on a CPU.

    It keeps position information (Flatten, not global pooling): on 8x8 digits that is worth
    about five points of accuracy after 10 epochs.

    Args:
        input_shape: (height, width, channels); works from 8x8 up.
        num_classes: Output classes.
        filters: Filters of the first block (the last conv has twice as many).
    """
    inputs = _input(input_shape)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(2 * filters, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, _head(x, num_classes), name="small_cnn")


def homl_fashion_cnn(input_shape=(28, 28, 1), num_classes: int = 10) -> keras.Model:
    """HOML's Fashion-MNIST CNN, layer for layer (1,413,834 parameters at 28x28x1, 10 classes)."""
    conv = partial(layers.Conv2D, kernel_size=3, padding="same", activation="relu", kernel_initializer="he_normal")
    model = keras.Sequential(
        [
            _input(input_shape),
            conv(filters=64, kernel_size=7),
            layers.MaxPooling2D(),
            conv(filters=128),
            conv(filters=128),
            layers.MaxPooling2D(),
            conv(filters=256),
            conv(filters=256),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu", kernel_initializer="he_normal"),
            layers.Dropout(0.5),
            layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax", name="predictions"),
        ],
        name="homl_fashion_cnn",
    )
    return model


def cifar10_tutorial_cnn(input_shape=(24, 24, 3), num_classes: int = 10) -> keras.Model:
    """The classic CIFAR-10 tutorial net: conv5x5x64 + BN, pool, conv5x5x64, pool, fc256, fc128."""
    inputs = _input(input_shape)
    x = layers.Conv2D(64, 5, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.Conv2D(64, 5, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, _head(x, num_classes), name="cifar10_tutorial_cnn")


def happy_model(input_shape=(64, 64, 3), num_classes: int = 2, binary_head: bool = False) -> keras.Model:
    """Ng's HappyModel: ZeroPadding(3) -> Conv 32 7x7 -> BN -> ReLU -> MaxPool 2 -> Flatten -> Dense.

    Args:
        input_shape: Ng uses 64x64x3.
        num_classes: Classes of the softmax head (the lab trains every model with softmax).
        binary_head: Ng's exact head, Dense(1, sigmoid) (37,633 parameters at 64x64x3).
    """
    model = keras.Sequential(
        [
            _input(input_shape),
            layers.ZeroPadding2D(padding=3),
            layers.Conv2D(32, 7, strides=1),
            layers.BatchNormalization(axis=3),
            layers.ReLU(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(1, activation="sigmoid") if binary_head else layers.Dense(num_classes, activation="softmax"),
        ],
        name="happy_model",
    )
    return model
