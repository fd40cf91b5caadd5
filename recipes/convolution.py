"""A convolution as TensorFlow computes it (a cross-correlation: the kernel is not flipped).

``python -m recipes.convolution`` runs the Convolution playground's defaults: HOML's 7x7 vertical
line filter on scikit-learn's china photo, with the output shape and one output pixel.
"""

import numpy as np
import tensorflow as tf

from recipes import override
from recipes.pictures import photo, prepare

# -----------------------------------------------------------------------------
# settings: lab.convolution.ConvConfig's fields, with its defaults ("Show the code" writes the page's here)
source = "china"  # scikit-learn's sample photo (china or flower), or your picture file
crop = None  # (rows start, stop, columns start, stop), or None for the whole picture
grayscale = False  # one luma channel instead of RGB
kernel = [  # the kernel's rows: HOML's vertical line filter
    [0, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0],
]
per_channel = False  # False: one map summing all channels (HOML); True: one map per channel
stride = 1  # the step between windows
padding = "same"  # HOML's tf.nn.conv2d(..., padding="SAME")
dilation = 1  # the gap between kernel taps (1: dense)
bias = 0.0  # added to every output
relu = False  # the ReLU activation after the bias
pixel = (100, 100, 0)  # the output pixel to print: row, column, map
# -----------------------------------------------------------------------------


def filter_bank(kernel, channels, per_channel):
    """(kh, kw) -> (kh, kw, channels, maps): one map with the channels summed, or one map per channel."""
    kernel = np.asarray(kernel, dtype=np.float32)
    if per_channel:
        filters = np.zeros((*kernel.shape, channels, channels), dtype=np.float32)
        for channel in range(channels):
            filters[:, :, channel, channel] = kernel
        return filters
    return np.repeat(kernel[:, :, None, None], channels, axis=2)


def convolve(image, filters, stride=1, padding="same", dilation=1, bias=0.0, relu=False):
    """One (H, W, C) image through tf.nn.conv2d, plus the bias, then ReLU if asked: (H', W', maps)."""
    maps = tf.nn.conv2d(image[np.newaxis], filters, strides=stride, padding=padding.upper(), dilations=dilation)
    maps = maps[0].numpy() + np.asarray(bias, dtype=np.float32)
    return np.maximum(maps, 0) if relu else maps


def transposed_by_hand(x, kernel, stride):
    """A VALID transposed convolution as HOML explains it: insert ``stride - 1`` zeros between the input's
    pixels, pad ``k - 1`` zeros all round, then a regular VALID convolution with the kernel flipped in space
    and its in/out channels swapped. ``x``: (N, H, W, C_in); ``kernel``: Keras' (k, k, C_out, C_in)."""
    count, height, width, channels = x.shape
    size = kernel.shape[0]
    spread = np.zeros((count, (height - 1) * stride + 1, (width - 1) * stride + 1, channels), np.float32)
    spread[:, ::stride, ::stride] = x
    padded = np.pad(spread, ((0, 0), (size - 1, size - 1), (size - 1, size - 1), (0, 0)))
    flipped = np.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))
    return tf.nn.conv2d(padded, flipped, strides=1, padding="VALID").numpy()


def main():
    image = prepare(photo(source), crop, grayscale)
    print("input shape:", image.shape)
    filters = filter_bank(kernel, image.shape[2], per_channel)
    maps = convolve(image, filters, stride, padding, dilation, bias, relu)
    row, column, which = pixel
    print("output shape:", maps.shape)
    print(f"pixel ({row}, {column}) of map {which}:", round(float(maps[row, column, which]), 6))


if __name__ == "__main__":
    override(globals())
    main()
