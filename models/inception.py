"""Szegedy et al.'s GoogLeNet (2014): nine inception modules, each four branches side by side whose
1x1 convolutions cut the channels before the costly 3x3 and 5x5 ones (bottlenecks), concatenated.

22 layers with weights on the longest path, about 6.8 million parameters at 224x224x3 (the paper's
Table 1, which omits biases: this builder has them), 12 times fewer than AlexNet. The auxiliary
classifiers that only help training are left out, as at test time.
"""

import keras
from keras import layers

from models.classic import LocalResponseNormalization

SMALL_INPUT = 128  # below this side the stem halves once (the paper's four halvings would leave 2x2 of 32x32)
# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection) of each module: the paper's Table 1
MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _conv(x, filters, kernel_size, width, strides=1):
    """A ReLU convolution, He-initialized (HOML ch. 11; see models/classic.py), filters x ``width``."""
    options = {"strides": strides, "padding": "same", "activation": "relu", "kernel_initializer": "he_normal"}
    return layers.Conv2D(max(4, round(filters * width)), kernel_size, **options)(x)


def inception_module(x, sizes, width=1.0, name=None):
    """Four branches on the same input, concatenated along the channels: 1x1; 1x1 then 3x3; 1x1 then
    5x5; 3x3 max pooling then 1x1. The 1x1 convolutions before the 3x3 and 5x5 are the bottlenecks."""
    ones, reduce3, threes, reduce5, fives, projection = sizes
    branches = [
        _conv(x, ones, 1, width),
        _conv(_conv(x, reduce3, 1, width), threes, 3, width),
        _conv(_conv(x, reduce5, 1, width), fives, 5, width),
        _conv(layers.MaxPooling2D(3, strides=1, padding="same")(x), projection, 1, width),
    ]
    return layers.Concatenate(name=name)(branches)


def googlenet(input_shape=(224, 224, 3), num_classes=1000, width=1.0):
    """GoogLeNet: a stem (7x7 stride 2, max pool, LRN, 1x1, 3x3, LRN, max pool), inception modules 3a-3b,
    max pool, 4a-4e, max pool, 5a-5b, global average pooling, 40% dropout, the classifier.

    Args:
        input_shape: 224x224x3 in the paper; under 128 px the stem is 3x3, 1x1, 3x3 convolutions at full
            resolution and one max pooling (the paper's halves the picture four times before inception 3a).
        num_classes: 1000 in the paper.
        width: Every convolution's filters x ``width``.
    """
    inputs = keras.Input(shape=tuple(input_shape))
    if min(input_shape[:2]) < SMALL_INPUT:
        x = _conv(_conv(_conv(inputs, 64, 3, width), 64, 1, width), 192, 3, width)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    else:
        x = layers.MaxPooling2D(3, strides=2, padding="same")(_conv(inputs, 64, 7, width, strides=2))
        x = _conv(_conv(LocalResponseNormalization()(x), 64, 1, width), 192, 3, width)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(LocalResponseNormalization()(x))
    for name, sizes in MODULES.items():
        if name in ("4a", "5a"):
            x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = inception_module(x, sizes, width, name=f"inception_{name}")
    x = layers.Dropout(0.4)(layers.GlobalAveragePooling2D()(x))
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="googlenet")
