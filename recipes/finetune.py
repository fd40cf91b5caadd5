"""Transfer learning in two phases (HOML): a new head on a frozen ImageNet base, then the base unfrozen.

``python -m recipes.finetune`` runs the fine-tuner's defaults, HOML's recipe: Xception on tf_flowers
(218 MB and Xception's ImageNet weights are downloaded once). Offline, try
``python -m recipes.finetune --source=zip --data_dir=my_classes --base_model=MobileNetV2 --weights=None``.

Evaluation images are centre-cropped to a square and resized; training images are randomly cropped
and flipped; then the base's own ``preprocess_input``. BatchNormalization stays in inference mode.
"""

import keras
import numpy as np
import tensorflow as tf

from recipes import override
from recipes.data import class_files, split_files
from recipes.pictures import load_picture

# -----------------------------------------------------------------------------
# settings: lab.finetune.FinetuneConfig's fields, with its defaults ("Show the code" writes the run's here)
source = "tf_flowers"  # tf_flowers (tensorflow-datasets) or zip: your class folders in data_dir
data_dir = None  # source "zip": your pictures, one sub-folder per class
base_model = "Xception"  # the ImageNet base: Xception (HOML), MobileNetV2 or EfficientNetB0
weights = "imagenet"  # "imagenet" (downloaded once), or None: a random base (no download; it learns far less)
image_size = 224  # HOML resizes to 224x224
batch_size = 32  # images per step
head_epochs = 5  # phase 1, the head alone: SGD(lr 0.2, momentum 0.9, decay 0.01)
head_learning_rate = 0.2
head_decay = 0.01
finetune_epochs = 10  # phase 2, the base unfrozen: SGD(lr 0.01, Nesterov, decay 0.001)
finetune_learning_rate = 0.01
finetune_decay = 0.001
unfreeze_from = 0  # the first base layer made trainable in phase 2 (0: all)
patience = 3  # early stopping on validation loss, per phase
augmentation = True  # random crop + horizontal flip
seed = 42  # the same seed gives the same split, weights and batches
# -----------------------------------------------------------------------------

HOML_SPLITS = ["train[:10%]", "train[10%:25%]", "train[25%:]"]  # test 10%, validation 15%, train 75%
MARGIN = 1.14  # stored squares are this much larger than the input: room for the random crop
BASES = {  # name: (keras.applications module, constructor)
    "Xception": ("xception", "Xception"),
    "MobileNetV2": ("mobilenet_v2", "MobileNetV2"),
    "EfficientNetB0": ("efficientnet", "EfficientNetB0"),
}


def square(image, side):
    """The central square of an image, resized to ``side`` (uint8 kept)."""
    shape = tf.shape(image)
    smallest = tf.minimum(shape[0], shape[1])
    top, left = (shape[0] - smallest) // 2, (shape[1] - smallest) // 2
    return tf.cast(tf.image.resize(image[top : top + smallest, left : left + smallest], (side, side)), tf.uint8)


def flowers(side):
    """tf_flowers with HOML's split (downloaded once), as (train, valid, test) sets and the class names."""
    import tensorflow_datasets as tfds

    (test, valid, train), info = tfds.load("tf_flowers", split=HOML_SPLITS, as_supervised=True, with_info=True)
    train, valid, test = (
        split.map(lambda image, label: (square(image, side), label)) for split in (train, valid, test)
    )
    return train, valid, test, list(info.features["label"].names)


def folder_sets(folder, side, seed, read=load_picture):
    """Your class folders split as the lab splits them (75/15/10 per class), squares at ``side``."""
    train, valid, test, names = split_files(class_files(folder), seed)

    def images(items):
        pixels = [square(read(path), side).numpy() for path, _ in items]
        pixels = np.stack(pixels) if pixels else np.zeros((0, side, side, 3), np.uint8)
        return tf.data.Dataset.from_tensor_slices((pixels, np.array([label for _, label in items], np.int64)))

    return images(train), images(valid), images(test), names


def views(train, valid, test, preprocess, size, batch_size, augmentation, seed):
    """What training sees (a random crop and flip) and what evaluation sees (the central crop).

    The training map runs one call at a time: its crop and flip draw from seeded stateful generators,
    which parallel calls would reach in a varying order; sequential, a seeded run is reproducible.
    """

    def evaluate(image, label):
        return preprocess(tf.image.resize_with_crop_or_pad(tf.cast(image, tf.float32), size, size)), label

    def augment(image, label):
        image = tf.image.random_crop(tf.cast(image, tf.float32), (size, size, 3), seed=seed)
        return preprocess(tf.image.random_flip_left_right(image, seed=seed)), label

    autotune = tf.data.AUTOTUNE
    train_data = train.shuffle(1000, seed=seed).map(augment if augmentation else evaluate)
    return (
        train_data.batch(batch_size).prefetch(autotune),
        valid.map(evaluate, num_parallel_calls=autotune).cache().batch(batch_size).prefetch(autotune),
        test.map(evaluate, num_parallel_calls=autotune).cache().batch(batch_size).prefetch(autotune),
    )


def build(base_model, weights, size, num_classes):
    """(model, base): global average pooling and a softmax layer on the ImageNet base, base frozen."""
    module, constructor = BASES[base_model]
    base = getattr(getattr(keras.applications, module), constructor)(
        weights=weights, include_top=False, input_shape=(size, size, 3)
    )
    inputs = keras.Input((size, size, 3))
    features = base(inputs, training=False)  # BatchNormalization in inference mode, even once unfrozen
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(pooled)
    base.trainable = False
    return keras.Model(inputs, outputs, name=f"{base_model.lower()}_finetuned"), base


def every_layer(layer):
    """Every layer inside a model, nested ones included."""
    for inner in getattr(layer, "layers", []):
        yield inner
        yield from every_layer(inner)


def calibrate_batchnorm(base, data, steps=20):
    """BatchNormalization statistics for a randomly initialised base.

    A random base has only mean 0 / variance 1, under which its activations shrink to ~1e-12
    through the depth: a few forward passes in training mode (no gradient steps) give them values.
    """
    norms = [layer for layer in every_layer(base) if isinstance(layer, keras.layers.BatchNormalization)]
    trainable = [layer.trainable for layer in norms]
    for layer in norms:
        layer.trainable, layer.momentum = True, 0.5
    for images, _ in data.take(steps):
        base(images, training=True)
    for layer, was in zip(norms, trainable, strict=True):
        layer.momentum, layer.trainable = 0.9, was  # faster tracking while a random base trains


def compile_phase(model, learning_rate, decay, nesterov):
    """SGD with momentum 0.9 and the learning rate lr / (1 + decay * step)."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)
    optimizer = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=nesterov)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def unfreeze(base, first_layer=0, freeze_batchnorm=True):
    """Make the base trainable from layer ``first_layer`` on, BatchNormalization excepted.

    Keras 3 runs BatchNormalization in training mode once the base is trainable, whatever
    ``training=False`` said; a BatchNormalization layer with ``trainable=False`` always runs in
    inference mode, so that is how the pretrained statistics are kept. A random base has none.
    """
    base.trainable = True
    for index, layer in enumerate(base.layers):
        if index < first_layer:
            layer.trainable = False
    if freeze_batchnorm:
        for layer in every_layer(base):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False


def two_phases(model, base, train_data, valid_data):
    """Phase 1 trains the head on the frozen base, phase 2 the unfrozen base at a lower rate; each
    resumes from its backup folder. Returns the epochs of phase 1 and of both."""
    pretrained = weights == "imagenet"
    if not pretrained:
        calibrate_batchnorm(base, train_data)
    compile_phase(model, head_learning_rate, head_decay, nesterov=False)
    head_done = 0
    if head_epochs:
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        callbacks = [keras.callbacks.BackupAndRestore("backup_phase1"), stop, keras.callbacks.CSVLogger("history.csv")]
        history = model.fit(
            train_data, validation_data=valid_data, epochs=head_epochs, verbose=2, shuffle=False, callbacks=callbacks
        )
        head_done = history.epoch[-1] + 1 if history.epoch else head_epochs  # early stopping may end it sooner
    unfreeze(base, unfreeze_from, freeze_batchnorm=pretrained)
    done = head_done
    if finetune_epochs:
        compile_phase(model, finetune_learning_rate, finetune_decay, nesterov=True)
        callbacks = [
            keras.callbacks.BackupAndRestore("backup_phase2"),
            keras.callbacks.CSVLogger("history.csv", append=True),
        ]
        if pretrained:  # a random base's validation numbers lag its weights: it trains its epochs in full
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
            )
        history = model.fit(
            train_data,
            validation_data=valid_data,
            initial_epoch=head_done,
            epochs=head_done + finetune_epochs,
            verbose=2,
            shuffle=False,
            callbacks=callbacks,
        )
        done = history.epoch[-1] + 1 if history.epoch else done
    if not pretrained:
        calibrate_batchnorm(base, train_data)  # statistics for the final weights
    return head_done, done


def report(model, test, test_data, head_done, done):
    """The numbers the page shows: the epochs of phase 1 and in all, and the test accuracy."""
    probabilities = model.predict(test_data, verbose=0)
    labels = np.concatenate([label for _, label in test.batch(256)])
    print("phase 1 epochs:", head_done)
    print("epochs:", done)
    print("test accuracy:", round(float((probabilities.argmax(axis=1) == labels).mean()), 4))


def main():
    keras.utils.set_random_seed(seed)
    side = round(image_size * MARGIN)
    train, valid, test, class_names = flowers(side) if source == "tf_flowers" else folder_sets(data_dir, side, seed)
    preprocess = getattr(keras.applications, BASES[base_model][0]).preprocess_input
    train_data, valid_data, test_data = views(
        train, valid, test, preprocess, image_size, batch_size, augmentation, seed
    )
    model, base = build(base_model, weights, image_size, len(class_names))
    head_done, done = two_phases(model, base, train_data, valid_data)
    report(model, test, test_data, head_done, done)


if __name__ == "__main__":
    override(globals())
    main()
