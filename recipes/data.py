"""The Train page's data: scikit-learn's digits, the Keras datasets, or your class folders, split
and scaled as the lab splits them, and the tf.data pipeline with the CIFAR-10 tutorial's distortions.

Every loader returns ``(x_train, y_train), (x_valid, y_valid), (x_test, y_test), class_names``
with pixels in [0, 1] as float32 (N, H, W, C) and labels as int64.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from recipes.pictures import load_picture

VALIDATION_SIZE = 5_000  # HOML: the last 5,000 training images of a Keras dataset validate
CLASS_NAMES = {
    "digits": [str(digit) for digit in range(10)],
    "mnist": [str(digit) for digit in range(10)],
    "fashion_mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}
FLIPS_NATURAL = {"fashion_mnist", "cifar10", "folders"}  # a mirrored digit is another symbol; a mirrored shoe is not


def digits(seed):
    """scikit-learn's 1,797 8x8 digits: 20% test, then 15% of the rest validate, stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    loaded = load_digits()
    x = (loaded.images / 16.0).astype(np.float32)[..., np.newaxis]
    y = loaded.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    x_train, x_valid, y_train, y_valid = train_test_split(
        x_rest, y_rest, test_size=0.15, stratify=y_rest, random_state=seed
    )
    return (x_train, y_train), (x_valid, y_valid), (x_test, y_test), CLASS_NAMES["digits"]


def keras_dataset(name):
    """mnist, fashion_mnist or cifar10 from keras.datasets (downloaded once), HOML's validation split."""
    import keras

    (x_full, y_full), (x_test, y_test) = getattr(keras.datasets, name).load_data()

    def scale(x):
        x = x.astype(np.float32) / 255.0
        return x[..., np.newaxis] if x.ndim == 3 else x  # one channel for the gray datasets

    y_full, y_test = y_full.reshape(-1).astype(np.int64), y_test.reshape(-1).astype(np.int64)
    x_full = scale(x_full)
    train = x_full[:-VALIDATION_SIZE], y_full[:-VALIDATION_SIZE]
    valid = x_full[-VALIDATION_SIZE:], y_full[-VALIDATION_SIZE:]
    return train, valid, (scale(x_test), y_test), CLASS_NAMES[name]


def split_files(classes, seed, test=0.10, valid=0.15):
    """HOML's proportions per class (10% test, 15% validation, the rest train), shuffled with ``seed``.

    ``classes``: {class name: [file, ...]}. Returns three lists of (file, class index) and the names.
    """
    rng = np.random.default_rng(seed)
    names = sorted(classes)
    splits = ([], [], [])
    for label, name in enumerate(names):
        paths = list(classes[name])
        rng.shuffle(paths)
        n_test, n_valid = max(1, round(len(paths) * test)), max(1, round(len(paths) * valid))
        for index, path in enumerate(paths):
            splits[0 if index < n_test else 1 if index < n_test + n_valid else 2].append((path, label))
    return splits[2], splits[1], splits[0], names  # train, valid, test


def square_pixels(items, image_size, read=load_picture):
    """Each picture cropped to its central square and resized to ``image_size`` (Pillow, antialiased,
    as image_dataset_from_directory(crop_to_aspect_ratio=True)), pixels in [0, 1]; and the labels."""
    pixels = np.zeros((len(items), image_size, image_size, 3), np.float32)
    for index, (path, _) in enumerate(items):
        square = ImageOps.fit(Image.fromarray(read(path)), (image_size, image_size), Image.LANCZOS)
        pixels[index] = np.asarray(square, np.float32) / 255.0
    return pixels, np.array([label for _, label in items], np.int64)


def class_files(folder):
    """{class name: its picture files}, one sub-folder per class, both sorted (the class index order)."""
    folders = sorted(path for path in Path(folder).iterdir() if path.is_dir())
    return {path.name: sorted(file for file in path.iterdir() if file.is_file()) for path in folders}


def class_folders(folder, image_size, seed, read=load_picture):
    """Your pictures, one sub-folder per class, split per class and resized to squares."""
    train, valid, test, names = split_files(class_files(folder), seed)
    return (
        square_pixels(train, image_size, read),
        square_pixels(valid, image_size, read),
        square_pixels(test, image_size, read),
        names,
    )


def augment_batch(images, seed_pair, flip, color):
    """The CIFAR-10 tutorial's distortions, stateless and seeded: random crop (pad 10% + crop),
    flip, brightness 0.2, contrast 0.3-1.0, hue 0.05, saturation 0-2, clipped to [0, 1]."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images)
    pad = max(1, images.shape[1] // 10)
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    # tf.cast, not tf.constant: inside the tf.data map the seed pair is already a (symbolic) tensor.
    seeds = tf.random.experimental.stateless_split(tf.cast(seed_pair, tf.int64), num=7)
    out = tf.image.stateless_random_crop(padded, tf.shape(images), seed=seeds[0])
    if flip:
        out = tf.image.stateless_random_flip_left_right(out, seed=seeds[1])
    out = tf.image.stateless_random_brightness(out, 0.2, seed=seeds[2])
    out = tf.image.stateless_random_contrast(out, 0.3, 1.0, seed=seeds[3])
    if color and images.shape[-1] == 3:
        out = tf.image.stateless_random_hue(out, 0.05, seed=seeds[4])
        out = tf.image.stateless_random_saturation(out, 0.0, 2.0, seed=seeds[5])
    return tf.clip_by_value(out, 0.0, 1.0)


def pipeline(x, y, batch_size, shuffle=False, augment=False, flip=False, seed=42):
    """A tf.data pipeline: (shuffle) -> batch -> (augment, per batch, seeded by its step) -> prefetch."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if augment:
        counter = tf.data.Dataset.counter()
        data = tf.data.Dataset.zip((data, counter)).map(
            lambda batch, step: (augment_batch(batch[0], tf.stack([seed, step]), flip, True), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return data.prefetch(tf.data.AUTOTUNE)
