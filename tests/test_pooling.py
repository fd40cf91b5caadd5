"""lab.pooling against Keras' pooling layers, tf.nn.max_pool's depth window and HOML's output."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from lab import images, pooling
from lab.errors import InputError


def pool_cases():
    for size in (1, 2, 3):
        for stride in (None, 1, 2, 3):
            for padding in ("valid", "same"):
                yield size, stride, padding


@pytest.mark.parametrize(("size", "stride", "padding"), list(pool_cases()))
def test_pool_equals_keras_layers(rng, size, stride, padding):
    image = rng.normal(size=(int(rng.integers(5, 13)), int(rng.integers(5, 13)), 3)).astype(np.float32)
    for kind, layer in (("max", keras.layers.MaxPooling2D), ("avg", keras.layers.AveragePooling2D)):
        expected = np.asarray(layer(pool_size=size, strides=stride, padding=padding)(image[None]))[0]
        np.testing.assert_allclose(pooling.pool(image, kind, size, stride, padding), expected, rtol=1e-6, atol=1e-6)


def test_rectangular_windows_and_strides(rng):
    image = rng.random((9, 11, 2), dtype=np.float32)
    expected = np.asarray(keras.layers.MaxPooling2D((2, 3), strides=(1, 2), padding="same")(image[None]))[0]
    np.testing.assert_allclose(pooling.pool(image, "max", (2, 3), (1, 2), "same"), expected)


def test_depth_pool_equals_cpu_depth_window_op_and_numpy(rng):
    batch = rng.random((2, 5, 6, 6), dtype=np.float32)
    for size in (2, 3, 6):
        with tf.device("/cpu:0"):  # the depth-window op exists only on the CPU (HOML)
            expected = tf.nn.max_pool(batch, ksize=(1, 1, 1, size), strides=(1, 1, 1, size), padding="VALID").numpy()
        np.testing.assert_array_equal(pooling.depth_pool(batch, size, "max"), expected)
        numpy_max = batch.reshape(2, 5, 6, 6 // size, size).max(axis=-1)
        np.testing.assert_array_equal(pooling.depth_pool(batch, size, "max"), numpy_max)
        np.testing.assert_allclose(
            pooling.depth_pool(batch[0], size, "avg"), batch[0].reshape(5, 6, -1, size).mean(-1), rtol=1e-6
        )


def test_global_average_pool_is_homls_golden_value():
    crops = np.stack([images.prepare(images.sample_image(name), crop=images.HOML_CROP) for name in ("china", "flower")])
    homl = [[0.2788801, 0.22507527, 0.20967631], [0.51287866, 0.4595188, 0.3342377]]
    np.testing.assert_allclose(pooling.global_average_pool(crops), homl, atol=1e-5)
    np.testing.assert_allclose(
        pooling.global_average_pool(crops), keras.layers.GlobalAveragePooling2D()(crops), rtol=1e-6
    )
    np.testing.assert_allclose(pooling.global_max_pool(crops[0]), crops[0].max(axis=(0, 1)))


def test_pool_windows_equals_pool_and_marks_the_winners(rng):
    patch = rng.random((8, 8), dtype=np.float32)
    for size, stride, padding in pool_cases():
        for kind in pooling.KINDS:
            view = pooling.pool_windows(patch, kind, size, stride, padding)
            np.testing.assert_allclose(
                view.output, pooling.pool(patch[..., None], kind, size, stride, padding)[..., 0], rtol=1e-6
            )
    view = pooling.pool_windows(patch, "max", 2)
    for (row, col), value in zip((cells[0] for cells in view.winners), view.output.ravel(), strict=True):
        assert patch[row, col] == value


def test_max_pooling_buys_some_translation_invariance():
    crop = images.prepare(images.sample_image("china"), crop=images.HOML_CROP)
    result = pooling.invariance(crop, shift_pixels=1, pool_size=2)
    assert result.max_changed < result.conv_changed  # fewer outputs move after max pooling
    assert 0 < result.max_changed < 1 and result.compared[1] > 0


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: pooling.pool(np.zeros((3, 3, 1)), "max", 5), "larger than the 3x3 image"),
        (lambda: pooling.pool(np.zeros((8, 8, 1)), "max", 2, stride=0), "stride must be at least 1"),
        (lambda: pooling.pool(np.zeros((8, 8, 1)), "median", 2), "'max' or 'avg'"),
        (lambda: pooling.pool(np.zeros((8, 8)), "max", 2), "H, W, C"),
        (lambda: pooling.depth_pool(np.zeros((4, 4, 3)), 2), "divisible"),
        (lambda: pooling.depth_pool(np.zeros((4, 4, 3)), 0), "at least 1"),
        (lambda: pooling.invariance(np.zeros((10, 10, 1)), 1), "too small"),
    ],
)
def test_bad_input_is_a_clear_message(call, fragment):
    with pytest.raises(InputError, match=fragment):
        call()
