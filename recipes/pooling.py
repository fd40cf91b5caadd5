"""Pooling as Keras' pooling layers compute it: max or average windows, the global average, and
depth-wise pooling across the channels (reshape + reduce, which runs on CPU and GPU alike).

``python -m recipes.pooling`` runs the Pooling viewer's defaults on scikit-learn's china photo.
"""

import numpy as np
import tensorflow as tf

from recipes import override
from recipes.pictures import photo, prepare

# -----------------------------------------------------------------------------
# settings: lab.pooling.PoolConfig's fields, with its defaults ("Show the code" writes the page's here)
source = "china"  # scikit-learn's sample photo (china or flower), or your picture file
crop = None  # (rows start, stop, columns start, stop), or None for the whole picture
grayscale = False  # one luma channel instead of RGB
kind = "max"  # "max" (HOML's MaxPool2D first) or "avg"
pool_size = 2  # the window's side (HOML: MaxPool2D(pool_size=2))
stride = None  # None: the pool size, as in Keras
padding = "valid"  # Keras' default for pooling
# -----------------------------------------------------------------------------


def pool(image, kind, pool_size, stride=None, padding="valid"):
    """One (H, W, C) image through max or average pooling (what MaxPooling2D/AveragePooling2D run)."""
    operation = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d
    strides = pool_size if stride is None else stride
    return operation(image[np.newaxis], pool_size, strides, padding.upper()).numpy()[0]


def global_average(images):
    """One mean per channel: (H, W, C) -> (C,), or (N, H, W, C) -> (N, C). A classifier head needs no Flatten."""
    return tf.reduce_mean(images, axis=(-3, -2)).numpy()


def depth_pool(images, size, kind):
    """Pool across the channels in groups of ``size``: (..., C) -> (..., C // size)."""
    grouped = tf.reshape(images, (*images.shape[:-1], images.shape[-1] // size, size))
    return (tf.reduce_max if kind == "max" else tf.reduce_mean)(grouped, axis=-1).numpy()


def main():
    image = prepare(photo(source), crop, grayscale)
    print("input shape:", image.shape)
    pooled = pool(image, kind, pool_size, stride, padding)
    print("pooled shape:", pooled.shape)
    print("pooled top-left 2x2 of channel 0:", np.round(pooled[:2, :2, 0], 6).tolist())
    print("global average:", np.round(global_average(image), 6).tolist())
    print("depth-pooled shape:", depth_pool(image, image.shape[2], kind).shape)


if __name__ == "__main__":
    override(globals())
    main()
