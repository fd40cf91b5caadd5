"""Semantic segmentation, as HOML's CNN chapter ends: a class for every pixel. The Detect page's digit
canvases (recipes/canvases.py) with their masks; an encoder that halves the canvas ``depth`` times, then a
decoder of transposed convolutions (stride 2: each doubles the map back) to a softmax per pixel. With
``skips`` it is a U-Net: each upsampling step also gets the encoder's map of the same size, whose detail
the downsampling lost.

Judged by IoU per class (intersection over union of the predicted and true pixels), their mean (mIoU) and
the digits' pixels against the background's (foreground IoU), on test canvases of handwriting the
training never saw. ``python -m recipes.segment`` trains the Segment page's default network;
``--skips=False`` the same without its skip connections.
"""

import math

import keras
import numpy as np

from recipes import override
from recipes.canvases import masked_canvases

# -----------------------------------------------------------------------------
# settings: lab.segment.SegmentConfig's fields, with its defaults ("Show the code" writes the page's here)
seed = 0  # the same seed gives the same canvases, weights and batches
canvas_size = 48  # pixels per side (2 ** depth must divide it)
min_objects = 1  # digits per canvas
max_objects = 4
min_digit = 12  # a digit's side in pixels, drawn uniformly in [min_digit, max_digit]
max_digit = 24
noise = 0.05  # the standard deviation of the background's Gaussian noise
clutter = 0  # pieces of digits strewn on each canvas: ink that is no object (background)
classes = "digits"  # digits: the background and each digit (11 classes); foreground: background or digit (2)
train_canvases = 3000  # canvases to train on (10% of them validate)
test_canvases = 500  # canvases the numbers are measured on (digits never seen in training)
depth = 3  # downsampling steps: each halves the canvas (the bottom sees 2 ** depth pixels per cell)
filters = 12  # the first step's filters; each step down doubles them
skips = True  # a U-Net: each upsampling step concatenates the encoder's map of its size
foreground_weight = 5.0  # a digit pixel's loss counts this many times a background pixel's (9% are digits)
epochs = 6
batch_size = 16
learning_rate = 0.002  # Adam's start, decayed to 0 along a cosine over the run
# -----------------------------------------------------------------------------

DIGIT_NAMES = [str(digit) for digit in range(10)]


def class_names(classes):
    """Each class's name: the background, then each digit (or one "digit" class)."""
    return ["background", *(DIGIT_NAMES if classes == "digits" else ["digit"])]


def targets(masks, classes):
    """The masks as the classes to learn: 1 + the digit (or 1 for any digit) on ink, 0 elsewhere."""
    return masks if classes == "digits" else (masks > 0).astype(np.uint8)


def pixel_weights(truth, foreground_weight):
    """Per-pixel loss weights: a digit pixel counts ``foreground_weight`` times a background one."""
    return np.where(truth > 0, foreground_weight, 1.0).astype(np.float32)


def conv_bn(x, filters):
    """Conv 3x3 (same, no bias) -> BatchNormalization -> ReLU: BatchNormalization shortens the long
    start where every pixel is called background."""
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    return keras.layers.ReLU()(keras.layers.BatchNormalization()(x))


def segmenter(canvas_size, classes, depth, filters, skips):
    """An encoder-decoder: ``depth`` steps down (conv, 2x2 max pooling), a conv at the bottom, ``depth``
    steps up (a 2x2 stride-2 Conv2DTranspose doubles the map, then a conv), a 1x1 softmax per pixel."""
    inputs = keras.Input((canvas_size, canvas_size, 1))
    x, kept = inputs, []
    for level in range(depth):
        x = conv_bn(x, filters * 2**level)
        kept.append(x)
        x = keras.layers.MaxPooling2D()(x)
    x = conv_bn(x, filters * 2**depth)
    for level in reversed(range(depth)):
        up = keras.layers.Conv2DTranspose(filters * 2**level, 2, strides=2, activation="relu")
        x = up(x)
        if skips:  # the detail lost on the way down comes back from the encoder
            x = keras.layers.Concatenate()([x, kept[level]])
        x = conv_bn(x, filters * 2**level)
    outputs = keras.layers.Conv2D(classes, 1, activation="softmax", name="pixel_classes")(x)
    return keras.Model(inputs, outputs, name="unet" if skips else "encoder_decoder")


def training_steps(count, batch_size, epochs):
    """The optimizer's steps over the run: Keras trains on ceil(90%) of the canvases (the rest validate)."""
    return epochs * math.ceil(math.ceil(count * 0.9) / batch_size)


def compile_segmenter(model, learning_rate, steps):
    """Cross-entropy per pixel; Adam along a cosine to 0 (a steady end); pixel accuracy and mIoU reported."""
    classes = model.output_shape[-1]
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", keras.metrics.MeanIoU(classes, sparse_y_pred=False, name="mean_iou")],
    )
    return model


def confusion(truth, predicted, classes):
    """counts[true class, predicted class] over every pixel."""
    pairs = truth.astype(np.int64).ravel() * classes + predicted.astype(np.int64).ravel()
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def class_ious(counts):
    """Each class's IoU: its correct pixels over the pixels either truth or prediction give it (NaN for a
    class that neither has)."""
    hits = np.diag(counts).astype(np.float64)
    union = counts.sum(axis=0) + counts.sum(axis=1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, hits / union, np.nan)


def foreground_iou(truth, predicted):
    """IoU of 'any digit' against the background: is each pixel ink of a digit, whichever digit?"""
    return float(class_ious(confusion(truth > 0, predicted > 0, 2))[1])


def canvas_mean_ious(truth, predicted, classes):
    """Each canvas's own mIoU (over the classes on it or predicted on it): worst first shows what fails."""
    return np.array([np.nanmean(class_ious(confusion(t, p, classes))) for t, p in zip(truth, predicted, strict=True)])


def predict_masks(model, pictures):
    """The most probable class of every pixel."""
    return model.predict(pictures, batch_size=128, verbose=0).argmax(axis=-1).astype(np.uint8)


def main():
    keras.utils.set_random_seed(seed)
    shape = (canvas_size, min_objects, max_objects, min_digit, max_digit, noise, clutter)
    pictures, masks, _, _ = masked_canvases(train_canvases, seed, *shape)
    truth = targets(masks, classes)
    names = class_names(classes)
    model = segmenter(canvas_size, len(names), depth, filters, skips)
    compile_segmenter(model, learning_rate, training_steps(train_canvases, batch_size, epochs))
    print("parameters:", model.count_params())
    model.fit(
        pictures,
        truth,
        sample_weight=pixel_weights(truth, foreground_weight),
        batch_size=batch_size,
        epochs=epochs,
        validation_split=0.1,
        verbose=2,
    )
    test, test_masks, _, _ = masked_canvases(test_canvases, seed, *shape, split="test")
    test_truth, predicted = targets(test_masks, classes), predict_masks(model, test)
    ious = class_ious(confusion(test_truth, predicted, len(names)))
    print("foreground IoU:", round(foreground_iou(test_truth, predicted), 4))
    print("mIoU:", round(float(np.nanmean(ious)), 4))
    print("pixel accuracy:", round(float((test_truth == predicted).mean()), 4))
    for name, iou in zip(names, ious, strict=True):
        print(f"IoU {name}:", round(float(iou), 4))


if __name__ == "__main__":
    override(globals())
    main()
