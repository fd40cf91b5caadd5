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


def resnet34(input_shape=(224, 224, 3), num_classes: int = 10, width: float = 1.0) -> keras.Model:
    """HOML's ResNet-34 (21,306,826 parameters at 224x224x3 with 10 classes); ``width`` multiplies
    every layer's filters (1.0: HOML's)."""
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            DefaultConv2D(max(4, round(64 * width)), kernel_size=7, strides=2),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.MaxPooling2D(pool_size=3, strides=2, padding="same"),
        ],
        name="resnet34",
    )
    previous = 64
    for filters in [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3:
        model.add(ResidualUnit(max(4, round(filters * width)), strides=1 if filters == previous else 2))
        previous = filters
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(num_classes, activation="softmax", name="predictions"))
    return model


def _activation(name: str):
    return layers.LeakyReLU(negative_slope=0.01) if name == "leaky_relu" else layers.Activation(name)


def _squeeze_excite(x, ratio: int):
    """Hu et al.'s squeeze-and-excitation: global average pooling squeezes each channel to one number,
    two Dense layers (channels / ratio, then channels) learn a 0-1 weight per channel, which rescales it."""
    channels = x.shape[-1]
    weights = layers.GlobalAveragePooling2D(keepdims=True)(x)
    weights = layers.Dense(max(1, channels // ratio), activation="relu")(weights)
    weights = layers.Dense(channels, activation="sigmoid")(weights)
    return layers.Multiply()([x, weights])


def _bottleneck(x, shortcut, kernel_size: int, filters, strides: int, options: dict):
    """The main path of Ng's blocks: 1x1 -> kxk -> 1x1 convs with BN (and an SE gate), added to ``shortcut``."""
    f1, f2, f3 = filters
    conv = partial(layers.Conv2D, use_bias=options["conv_bias"])
    x = conv(f1, 1, strides=strides, padding="valid")(x)
    x = _activation(options["activation"])(layers.BatchNormalization(axis=3)(x))
    x = conv(f2, kernel_size, padding="same")(x)
    x = _activation(options["activation"])(layers.BatchNormalization(axis=3)(x))
    x = layers.BatchNormalization(axis=3)(conv(f3, 1, padding="valid")(x))
    if options["squeeze"]:
        x = _squeeze_excite(x, options["squeeze"])
    return _activation(options["activation"])(layers.Add()([x, shortcut]))


def _identity_block(x, kernel_size: int, filters, options: dict):
    """Ng's identity block: the main path added to the unchanged input."""
    return _bottleneck(x, x, kernel_size, filters, 1, options)


def _convolutional_block(x, kernel_size: int, filters, strides: int, options: dict):
    """Ng's convolutional block: the same path with a strided 1x1 conv + BN on the shortcut."""
    projection = layers.Conv2D(filters[2], 1, strides=strides, padding="valid", use_bias=options["conv_bias"])
    shortcut = layers.BatchNormalization(axis=3)(projection(x))
    return _bottleneck(x, shortcut, kernel_size, filters, strides, options)


def resnet50(
    input_shape=(64, 64, 3),
    num_classes: int = 6,
    activation: str = "relu",
    width: float = 1.0,
    conv_bias: bool = True,
    squeeze: int = 0,
) -> keras.Model:
    """Ng's ResNet-50 (identity and convolutional blocks): 25,636,712 parameters at 224x224x3 with 1000
    classes, exactly ``keras.applications.ResNet50``'s.

    Args:
        input_shape: Ng uses 64x64x3 (SIGNS, 6 classes); the flowers seed 128x128x3 with 5 classes.
        num_classes: Softmax classes.
        activation: ``"relu"`` (Ng) or ``"leaky_relu"`` (the flowers seed).
        width: Every convolution's filters x ``width`` (1.0: the paper's).
        conv_bias: Biases in the convolutions (Keras' and Ng's); He et al.'s have none, since
            BatchNormalization follows each one (25,557,032 parameters).
        squeeze: With a ratio (Hu et al.: 16), a squeeze-and-excitation gate in every block (SE-ResNet-50).
    """
    if activation not in ("relu", "leaky_relu"):
        raise ValueError(f"activation must be 'relu' or 'leaky_relu', got {activation!r}")
    options = {"activation": activation, "conv_bias": conv_bias, "squeeze": squeeze}
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.ZeroPadding2D((3, 3))(inputs)
    x = layers.Conv2D(max(4, round(64 * width)), 7, strides=2, use_bias=conv_bias)(x)
    x = _activation(activation)(layers.BatchNormalization(axis=3)(x))
    x = layers.MaxPooling2D(3, strides=2)(x)
    stages = [((64, 64, 256), 3, 1), ((128, 128, 512), 4, 2), ((256, 256, 1024), 6, 2), ((512, 512, 2048), 3, 2)]
    for filters, blocks, strides in stages:
        filters = tuple(max(4, round(f * width)) for f in filters)
        x = _convolutional_block(x, 3, filters, strides, options)
        for _ in range(blocks - 1):
            x = _identity_block(x, 3, filters, options)
    x = layers.GlobalAveragePooling2D()(x)  # Ng uses AveragePooling2D((2, 2)) + Flatten at 64x64: the same here
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    name = {(0, "relu"): "resnet50", (0, "leaky_relu"): "resnet50_leaky"}.get((squeeze, activation), "se_resnet50")
    return keras.Model(inputs, outputs, name=name)


def se_resnet50(input_shape=(224, 224, 3), num_classes: int = 1000, width: float = 1.0) -> keras.Model:
    """Hu et al.'s SE-ResNet-50: ResNet-50 without convolution biases, a squeeze-and-excitation gate
    (ratio 16) on every block's main path before the addition. 28.1 million parameters at 224x224x3,
    1000 classes (the SENet paper's table), 2.5 million more than ResNet-50 for about 1% more compute."""
    return resnet50(input_shape, num_classes, width=width, conv_bias=False, squeeze=16)


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
