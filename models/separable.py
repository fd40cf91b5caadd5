"""Depthwise separable convolutions: a 3x3 filter per input channel (depthwise), then a 1x1 convolution
that mixes the channels (pointwise). Far fewer parameters and multiply-adds than a regular convolution of
the same shape. Chollet's Xception (2017) and Howard et al.'s MobileNet (v1, 2017) are built of them.

At the papers' sizes the parameter counts are exactly ``keras.applications.Xception``'s (22,910,480 at
299x299x3) and ``keras.applications.MobileNet``'s (4,253,864 at 224x224x3), 1000 classes.
"""

import keras
from keras import layers


def _scaled(count, width):
    return max(4, round(count * width))


def _separable(x, filters, relu_first=True):
    """(ReLU,) SeparableConv2D 3x3 without bias (BatchNormalization follows), BatchNormalization."""
    if relu_first:
        x = layers.ReLU()(x)
    return layers.BatchNormalization()(layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x))


def _shortcut(x, filters):
    """The 1x1 stride-2 convolution + BatchNormalization that brings a block's input to its output's shape."""
    return layers.BatchNormalization()(layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x))


def xception(input_shape=(299, 299, 3), num_classes=1000, width=1.0):
    """Xception: the entry flow (two convolutions, three separable blocks halving the map), the middle
    flow (eight residual blocks of three separable convolutions at 728 channels), the exit flow, global
    average pooling, the classifier. 36 convolutional layers, as in the paper. Works from 32x32.

    Args:
        width: Every layer's filters x ``width`` (1.0: the paper's).
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Conv2D(_scaled(32, width), 3, strides=2, use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2D(_scaled(64, width), 3, use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for block, filters in enumerate((128, 256, 728)):
        residual = _shortcut(x, _scaled(filters, width))
        x = _separable(x, _scaled(filters, width), relu_first=block > 0)  # block 1 follows a ReLU already
        x = _separable(x, _scaled(filters, width))
        x = layers.Add()([layers.MaxPooling2D(3, strides=2, padding="same")(x), residual])
    for _ in range(8):  # the middle flow
        residual = x
        for _ in range(3):
            x = _separable(x, _scaled(728, width))
        x = layers.Add()([x, residual])
    residual = _shortcut(x, _scaled(1024, width))
    x = _separable(_separable(x, _scaled(728, width)), _scaled(1024, width))
    x = layers.Add()([layers.MaxPooling2D(3, strides=2, padding="same")(x), residual])
    for filters in (1536, 2048):
        x = layers.ReLU()(_separable(x, _scaled(filters, width), relu_first=False))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="xception")


# (pointwise filters, stride of the depthwise convolution) of MobileNet's 13 separable blocks
MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1)]


def mobilenet(input_shape=(224, 224, 3), num_classes=1000, width=1.0):
    """MobileNet v1: a strided 3x3 convolution, then 13 blocks of DepthwiseConv2D 3x3 and a 1x1
    Conv2D, each followed by BatchNormalization and ReLU6; global average pooling, the classifier.
    28 layers with weights, 569 million multiply-adds at 224x224 (the paper's Table).

    Args:
        width: The paper's width multiplier alpha: every layer's filters x ``width``.
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Conv2D(_scaled(32, width), 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    for filters, strides in MOBILENET_BLOCKS:
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
        x = layers.Conv2D(_scaled(filters, width), 1, use_bias=False)(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    x = layers.Dropout(1e-3)(layers.GlobalAveragePooling2D()(x))
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mobilenet")
