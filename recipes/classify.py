"""A pretrained ImageNet classifier on photos: fit each photo to the network's input, preprocess it
as the network was trained, and print the top classes with their probabilities.

``python -m recipes.classify`` classifies scikit-learn's two sample photos with MobileNetV2 (its
ImageNet weights are downloaded once; ``weights = None`` builds seeded random weights, offline).
"""

import keras
import numpy as np
import tensorflow as tf

from recipes import override
from recipes.pictures import photo

# -----------------------------------------------------------------------------
# settings: lab.classify.ClassifierConfig's fields, with its defaults ("Show the code" writes the page's here)
models = ("MobileNetV2",)  # keras.applications models by name: see APPLICATIONS
pictures = ("china", "flower")  # scikit-learn's sample photos by name, or your picture files
mode = "resize"  # how a photo meets the input: resize, pad, crop_or_pad or crop_and_resize
top_k = 5  # classes printed per photo
weights = "imagenet"  # "imagenet" (downloaded once), or None: random weights, seeded (the numbers mean nothing)
seed = 0  # the random weights' seed
# -----------------------------------------------------------------------------

APPLICATIONS = {  # name: (keras.applications module, constructor, input side)
    "ResNet50": ("resnet50", "ResNet50", 224),
    "Xception": ("xception", "Xception", 299),
    "MobileNetV2": ("mobilenet_v2", "MobileNetV2", 224),
    "EfficientNetB0": ("efficientnet", "EfficientNetB0", 224),
    "EfficientNetV2B0": ("efficientnet_v2", "EfficientNetV2B0", 224),
}


def load_photos(pictures):
    """{name: (H, W, 3) uint8} for scikit-learn's sample photos and your picture files."""
    return {name: photo(name) for name in pictures}


def central_square(height, width):
    """The box crop_and_resize takes by default: the largest central square, (y_min, x_min, y_max, x_max)
    in [0, 1]."""
    side = min(height, width)
    return [
        (height - side) / 2 / height,
        (width - side) / 2 / width,
        (height + side) / 2 / height,
        (width + side) / 2 / width,
    ]


def fit_batch(batch, size, mode, box=None):
    """Same-sized photos (N, H, W, C) -> (N, height, width, C) float32 pixels in [0, 255], HOML's four ways."""
    height, width = size
    if mode != "crop_and_resize" and batch.shape[1:3] == (height, width):
        return np.asarray(batch, dtype=np.float32)  # already the input size (crop_and_resize still crops)
    if mode == "resize":
        fitted = tf.image.resize(batch, (height, width))
    elif mode == "pad":
        fitted = tf.image.resize_with_pad(batch, height, width)
    elif mode == "crop_or_pad":
        fitted = tf.cast(tf.image.resize_with_crop_or_pad(batch, height, width), tf.float32)
    else:
        box = central_square(*batch.shape[1:3]) if box is None else box
        fitted = tf.image.crop_and_resize(tf.cast(batch, tf.float32), [box] * len(batch), list(range(len(batch))), size)
    return np.asarray(fitted, dtype=np.float32)


def build(name, weights, seed):
    """A keras.applications model with its ImageNet weights, or with random weights from ``seed``."""
    module, constructor, _ = APPLICATIONS[name]
    if weights is None:
        keras.utils.set_random_seed(seed)
    return getattr(getattr(keras.applications, module), constructor)(weights=weights)


def top_classes(name, photos, mode, top_k, weights, seed):
    """Print each photo's top classes by one model (and their names where Keras has the ImageNet index)."""
    module = getattr(keras.applications, APPLICATIONS[name][0])
    side = APPLICATIONS[name][2]
    batch = np.concatenate([fit_batch(image[np.newaxis], (side, side), mode) for image in photos.values()])
    probabilities = build(name, weights, seed).predict(module.preprocess_input(batch), verbose=0)
    for picture, row in zip(photos, probabilities, strict=True):
        best = np.argsort(-row)[:top_k]
        print(f"{name} on {picture}: " + ", ".join(f"{i}={row[i]:.6f}" for i in best))
    try:
        names = module.decode_predictions(probabilities, top=top_k)
        print(f"{name} names:", [[label for _, label, _ in top] for top in names])
    except Exception:  # the class index is a download: offline, the numbers above are the class ids
        print(f"{name} names: the ImageNet class index is not downloaded")


def main():
    photos = load_photos(pictures)
    for name in models:
        top_classes(name, photos, mode, top_k, weights, seed)


if __name__ == "__main__":
    override(globals())
    main()
