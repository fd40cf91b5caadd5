"""TensorFlow's padding arithmetic: the output size per axis, and where SAME puts its pad cells.

``python -m recipes.padding`` prints the Padding calculator's default numbers and checks them
against the real Keras layer on a random image.
"""

import numpy as np

from recipes import override

# -----------------------------------------------------------------------------
# settings: lab.padding.PaddingConfig's fields, with its defaults ("Show the code" writes the page's here)
input_size = (7, 8)  # height, width of the input
kernel_size = (3, 3)  # the kernel (or pooling window) per axis
stride = (2, 2)  # the step between windows per axis
dilation = (1, 1)  # the gap between kernel taps per axis (1: dense)
padding = "same"  # "same" pads so that the output is ceil(n / s); "valid" pads nothing
op = "conv"  # the layer: "conv" (Conv2D), "max" (MaxPooling2D) or "avg" (AveragePooling2D)
channels = 3  # input channels of the random test image
# -----------------------------------------------------------------------------


def dilated(kernel_size, dilation):
    """The span of a dilated kernel: (k - 1) d + 1."""
    return (kernel_size - 1) * dilation + 1


def output_size(input_size, kernel_size, stride, dilation, padding):
    """Outputs along one axis: ceil(n / s) for SAME, floor((n - f) / s) + 1 for VALID."""
    if padding == "same":
        return -(-input_size // stride)
    return (input_size - dilated(kernel_size, dilation)) // stride + 1


def same_pads(input_size, kernel_size, stride, dilation):
    """SAME's (before, after) pad cells along one axis: TensorFlow puts the odd one after (bottom/right)."""
    total = max((-(-input_size // stride) - 1) * stride + dilated(kernel_size, dilation) - input_size, 0)
    return total // 2, total - total // 2


def keras_layer(op, kernel_size, stride, padding, dilation):
    """The Keras layer the numbers describe (TensorFlow refuses a Conv2D with stride and dilation > 1)."""
    import keras

    if op == "conv":
        return keras.layers.Conv2D(1, kernel_size, strides=stride, padding=padding, dilation_rate=dilation)
    pooling = keras.layers.MaxPooling2D if op == "max" else keras.layers.AveragePooling2D
    return pooling(pool_size=kernel_size, strides=stride, padding=padding)


def main():
    axes = list(zip(input_size, kernel_size, stride, dilation, strict=True))
    outputs = tuple(output_size(*axis, padding) for axis in axes)
    pads = [same_pads(*axis) if padding == "same" else (0, 0) for axis in axes]
    print("output:", outputs)
    print("pad top/bottom:", pads[0])
    print("pad left/right:", pads[1])
    if op == "conv" and max(stride) > 1 and max(dilation) > 1:
        print("TensorFlow: no Conv2D with both strides and dilation above 1")
    else:
        image = np.random.default_rng(0).normal(size=(1, *input_size, channels)).astype(np.float32)
        layer = keras_layer(op, kernel_size, stride, padding, dilation)
        print("TensorFlow's output:", tuple(layer(image).shape[1:3]))


if __name__ == "__main__":
    override(globals())
    main()
