"""The chapter's first classic CNNs, at their papers' sizes and scaled down: LeNet-5 (1998), AlexNet (2012)
with its local response normalization, and VGG-16 (2014).

Each builder takes ``input_shape`` and ``num_classes``; ``width`` multiplies every layer's filters and
units (1.0: the paper's). At the papers' sizes their parameter counts are the papers' (LeNet-5 as
Keras counts it: see ``lenet5``) and VGG-16's is exactly ``keras.applications.VGG16``'s.
"""

from functools import partial

import keras
from keras import layers

SMALL_INPUT = 128  # below this side, AlexNet's 11x11 stride-4 stem would leave nothing to pool: a 5x5 one
# He initialization (HOML, ch. 11) for the ReLU nets: with Keras' default Glorot the scaled-down VGG-16 and
# GoogLeNet stayed at 10% on the digits (32x32) after 5 epochs of Adam; with He's they reach 84% and 91% in 3
# (bench_architectures' comparison run).
Conv2D = partial(layers.Conv2D, kernel_initializer="he_normal")
Dense = partial(layers.Dense, kernel_initializer="he_normal")


def _scaled(count, width):
    """A layer's filters or units at ``width`` (never fewer than 4)."""
    return max(4, round(count * width))


@keras.saving.register_keras_serializable(package="cnnlab")
class LocalResponseNormalization(layers.Layer):
    """AlexNet's local response normalization across channels: each activation divided by
    ``(bias + alpha * sum of squares of the depth_radius channels on each side and itself) ** beta``,
    as ``tf.nn.local_response_normalization``. Krizhevsky et al. use k=2, n=5, alpha=1e-4, beta=0.75.
    No parameters: the neighbours of a strongly active channel are damped (lateral inhibition).
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, inputs):
        channels, radius = inputs.shape[-1], self.depth_radius
        squared = keras.ops.pad(keras.ops.square(inputs), [[0, 0], [0, 0], [0, 0], [radius, radius]])
        total = sum(squared[..., shift : shift + channels] for shift in range(2 * radius + 1))
        return inputs / keras.ops.power(self.bias + self.alpha * total, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        settings = {"depth_radius": self.depth_radius, "bias": self.bias, "alpha": self.alpha, "beta": self.beta}
        return {**super().get_config(), **settings}


def lenet5(input_shape=(32, 32, 1), num_classes=10):
    """LeCun et al.'s LeNet-5: two 5x5 convolutions with average pooling, a 5x5 convolution to 120 maps,
    Dense 84, the classifier; tanh throughout. Smaller pictures are zero-padded to 32x32 (as HOML pads
    MNIST's 28x28).

    At 32x32x1 with 10 classes: 61,706 parameters. The paper's 60,840 differ by its sparse C3 (each map
    sees some of S2's maps: 1,516 weights, not 2,416), its trainable pooling (2 per map: 44) and its RBF
    output (840, not 850).
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    short = [max(0, 32 - side) for side in input_shape[:2]]
    if any(short):
        x = layers.ZeroPadding2D(
            ((short[0] // 2, short[0] - short[0] // 2), (short[1] // 2, short[1] - short[1] // 2))
        )(x)
    x = layers.Conv2D(6, 5, activation="tanh", name="C1")(x)
    x = layers.AveragePooling2D(2, name="S2")(x)
    x = layers.Conv2D(16, 5, activation="tanh", name="C3")(x)
    x = layers.AveragePooling2D(2, name="S4")(x)
    x = layers.Conv2D(120, 5, activation="tanh", name="C5")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(84, activation="tanh", name="F6")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lenet5")


def alexnet(input_shape=(227, 227, 3), num_classes=1000, width=1.0, groups=1):
    """Krizhevsky et al.'s AlexNet: 5 convolutions (11x11 stride 4 first), LRN after the first two,
    3x3 stride-2 max pooling (overlapping), two Dense 4096 with dropout, the classifier.

    Args:
        input_shape: 227x227x3 in the paper; under 128 px the stem is a 5x5 stride-1 convolution.
        num_classes: 1000 in the paper.
        width: Filters and units x ``width``.
        groups: 2 splits convolutions 2, 4 and 5 over the paper's two GPUs (60,965,224 parameters, the
            paper's "60 million"); 1 is the one-tower version (62,378,344).
    """
    inputs = keras.Input(shape=tuple(input_shape))
    small = min(input_shape[:2]) < SMALL_INPUT
    stem = {"kernel_size": 5, "padding": "same"} if small else {"kernel_size": 11, "strides": 4}
    x = Conv2D(_scaled(96, width), activation="relu", **stem)(inputs)
    x = layers.MaxPooling2D(3, strides=2)(LocalResponseNormalization()(x))
    x = Conv2D(_scaled(256, width), 5, padding="same", groups=groups, activation="relu")(x)
    x = layers.MaxPooling2D(3, strides=2)(LocalResponseNormalization()(x))
    x = Conv2D(_scaled(384, width), 3, padding="same", activation="relu")(x)
    x = Conv2D(_scaled(384, width), 3, padding="same", groups=groups, activation="relu")(x)
    x = Conv2D(_scaled(256, width), 3, padding="same", groups=groups, activation="relu")(x)
    x = layers.Flatten()(layers.MaxPooling2D(3, strides=2)(x))
    for _ in range(2):
        x = layers.Dropout(0.5)(Dense(_scaled(4096, width), activation="relu")(x))
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="alexnet")


def vgg16(input_shape=(224, 224, 3), num_classes=1000, width=1.0):
    """Simonyan and Zisserman's VGG-16: 13 3x3 convolutions in 5 blocks, each halved by 2x2 max pooling,
    then Dense 4096, 4096 and the classifier (138,357,544 parameters at 224x224x3, 1000 classes: exactly
    ``keras.applications.VGG16``'s). Works from 32x32 (five halvings leave 1x1)."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for block, (filters, convolutions) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        for _ in range(convolutions):
            x = Conv2D(_scaled(filters, width), 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = Dense(_scaled(4096, width), activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="vgg16")
