"""Residual networks from the curriculum: HOML's ResNet-34, Ng's ResNet-50 and a small CIFAR ResNet."""

from __future__ import annotations

from functools import partial

import keras
from keras import layers

DefaultConv2D = partial(
    layers.Conv2D, kernel_size=3, strides=1, padding="same", kernel_initializer="he_normal", use_bias=False
)


@keras.saving.register_keras_serializable(package="cnnlab")
class ResidualUnit(layers.Layer):
    """HOML's residual unit: two 3x3 convs with BN, plus a 1x1 projection when the shape changes."""

    def __init__(self, filters: int, strides: int = 1, activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides, self.activation_name = filters, strides, activation
        self.activation = keras.activations.get(activation)
        self.main_layers = [
            DefaultConv2D(filters, strides=strides),
            layers.BatchNormalization(),
            layers.Activation(activation),
            DefaultConv2D(filters),
            layers.BatchNormalization(),
        ]
        self.skip_layers = []
        if strides > 1:
            self.skip_layers = [DefaultConv2D(filters, kernel_size=1, strides=strides), layers.BatchNormalization()]

    def call(self, inputs, training=None):
        z = inputs
        for layer in self.main_layers:
            z = layer(z, training=training) if isinstance(layer, layers.BatchNormalization) else layer(z)
        skip = inputs
        for layer in self.skip_layers:
            skip = layer(skip, training=training) if isinstance(layer, layers.BatchNormalization) else layer(skip)
        return self.activation(z + skip)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "strides": self.strides,
            "activation": self.activation_name,
        }


def resnet34(input_shape=(224, 224, 3), num_classes: int = 10) -> keras.Model:
    """HOML's ResNet-34 (21,306,826 parameters at 224x224x3 with 10 classes)."""
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            DefaultConv2D(64, kernel_size=7, strides=2),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.MaxPooling2D(pool_size=3, strides=2, padding="same"),
        ],
        name="resnet34",
    )
    previous = 64
    for filters in [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3:
        model.add(ResidualUnit(filters, strides=1 if filters == previous else 2))
        previous = filters
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(num_classes, activation="softmax", name="predictions"))
    return model


def _activation(name: str):
    return layers.LeakyReLU(negative_slope=0.01) if name == "leaky_relu" else layers.Activation(name)


def _identity_block(x, kernel_size: int, filters, activation: str):
    """Ng's identity block: 1x1 -> kxk -> 1x1 convs with BN, added to the unchanged input."""
    f1, f2, f3 = filters
    shortcut = x
    x = layers.Conv2D(f1, 1, padding="valid")(x)
    x = _activation(activation)(layers.BatchNormalization(axis=3)(x))
    x = layers.Conv2D(f2, kernel_size, padding="same")(x)
    x = _activation(activation)(layers.BatchNormalization(axis=3)(x))
    x = layers.BatchNormalization(axis=3)(layers.Conv2D(f3, 1, padding="valid")(x))
    return _activation(activation)(layers.Add()([x, shortcut]))


def _convolutional_block(x, kernel_size: int, filters, strides: int, activation: str):
    """Ng's convolutional block: the same path with a strided 1x1 conv + BN on the shortcut."""
    f1, f2, f3 = filters
    shortcut = layers.BatchNormalization(axis=3)(layers.Conv2D(f3, 1, strides=strides, padding="valid")(x))
    x = layers.Conv2D(f1, 1, strides=strides, padding="valid")(x)
    x = _activation(activation)(layers.BatchNormalization(axis=3)(x))
    x = layers.Conv2D(f2, kernel_size, padding="same")(x)
    x = _activation(activation)(layers.BatchNormalization(axis=3)(x))
    x = layers.BatchNormalization(axis=3)(layers.Conv2D(f3, 1, padding="valid")(x))
    return _activation(activation)(layers.Add()([x, shortcut]))


def resnet50(input_shape=(64, 64, 3), num_classes: int = 6, activation: str = "relu") -> keras.Model:
    """Ng's ResNet-50 (identity and convolutional blocks).

    Args:
        input_shape: Ng uses 64x64x3 (SIGNS, 6 classes); the flowers seed 128x128x3 with 5 classes.
        num_classes: Softmax classes.
        activation: ``"relu"`` (Ng) or ``"leaky_relu"`` (the flowers seed).
    """
    if activation not in ("relu", "leaky_relu"):
        raise ValueError(f"activation must be 'relu' or 'leaky_relu', got {activation!r}")
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.ZeroPadding2D((3, 3))(inputs)
    x = layers.Conv2D(64, 7, strides=2)(x)
    x = _activation(activation)(layers.BatchNormalization(axis=3)(x))
    x = layers.MaxPooling2D(3, strides=2)(x)
    stages = [((64, 64, 256), 3, 1), ((128, 128, 512), 4, 2), ((256, 256, 1024), 6, 2), ((512, 512, 2048), 3, 2)]
    for filters, blocks, strides in stages:
        x = _convolutional_block(x, 3, filters, strides, activation)
        for _ in range(blocks - 1):
            x = _identity_block(x, 3, filters, activation)
    x = layers.GlobalAveragePooling2D()(x)  # Ng uses AveragePooling2D((2, 2)) + Flatten at 64x64: the same here
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="resnet50" if activation == "relu" else "resnet50_leaky")


def small_resnet(input_shape=(32, 32, 3), num_classes: int = 10, blocks_per_stage: int = 3) -> keras.Model:
    """A CIFAR-style ResNet (ResNet-20 with 3 blocks per stage): 16/32/64 filters, HOML units."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = DefaultConv2D(16)(inputs)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(blocks_per_stage):
            x = ResidualUnit(filters, strides=2 if stage and block == 0 else 1)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_resnet")
