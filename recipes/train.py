"""Train a CNN as the Train page does: the same data split, architecture, optimizer, pipeline and
callbacks, and the same numbers at the end (the epochs, the last validation accuracy, the test accuracy).

``python -m recipes.train`` trains the page's default run: the small CNN on scikit-learn's digits,
offline, in seconds. BackupAndRestore resumes an interrupted run; CSVLogger writes the history.
"""

import keras

import models
from recipes import override
from recipes.data import FLIPS_NATURAL, class_folders, digits, keras_dataset, pipeline

# -----------------------------------------------------------------------------
# settings: lab.training.TrainConfig's fields, with its defaults ("Show the code" writes the run's here)
dataset = "digits"  # digits (ships with scikit-learn), mnist, fashion_mnist, cifar10, or folders
model = "small_cnn"  # an architecture of models.MODELS
epochs = 10  # passes over the training set
batch_size = 32  # Keras' default
optimizer = "adam"  # sgd, momentum, nesterov, adam or nadam (HOML's Fashion-MNIST net uses nadam)
learning_rate = 0.001  # Adam's default
augmentation = False  # the CIFAR-10 tutorial's distortions on every training batch
seed = 42  # the same seed gives the same split, weights and batches
data_dir = ""  # dataset "folders": the folder of your pictures, one sub-folder per class
image_size = 32  # dataset "folders": each picture is cropped square and resized to this side
# -----------------------------------------------------------------------------


def load_data(dataset, seed, data_dir, image_size):
    """The run's splits and class names (see recipes/data.py)."""
    if dataset == "digits":
        return digits(seed)
    if dataset == "folders":
        return class_folders(data_dir, image_size, seed)
    return keras_dataset(dataset)


def make_optimizer(name, learning_rate):
    """The optimizer by the page's name."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=0.9)
    if name == "nesterov":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    return (keras.optimizers.Adam if name == "adam" else keras.optimizers.Nadam)(learning_rate)


def compile_for_training(model, optimizer, learning_rate):
    """Sparse labels, accuracy reported."""
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def train(model, train_data, valid_data, epochs):
    """Fit with a checkpoint to resume from (``backup/``) and the history in ``history.csv``."""
    callbacks = [keras.callbacks.BackupAndRestore("backup"), keras.callbacks.CSVLogger("history.csv")]
    return model.fit(
        train_data, validation_data=valid_data, epochs=epochs, verbose=2, shuffle=False, callbacks=callbacks
    )


def report(model, history, x_test, y_test):
    """The numbers the page shows: the epochs, the last validation accuracy and the test accuracy."""
    probabilities = model.predict(pipeline(x_test, y_test, 256), verbose=0)
    print("epochs:", len(history.history["loss"]))
    print("final validation accuracy:", round(history.history["val_accuracy"][-1], 4))
    print("test accuracy:", round(float((probabilities.argmax(axis=1) == y_test).mean()), 4))


def main():
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test), class_names = load_data(
        dataset, seed, data_dir, image_size
    )
    flip = dataset in FLIPS_NATURAL
    train_data = pipeline(x_train, y_train, batch_size, shuffle=True, augment=augmentation, flip=flip, seed=seed)
    valid_data = pipeline(x_valid, y_valid, max(batch_size, 256))
    network = models.build(model, x_train.shape[1:], len(class_names))
    print("parameters:", network.count_params())
    compile_for_training(network, optimizer, learning_rate)
    history = train(network, train_data, valid_data, epochs)
    report(network, history, x_test, y_test)


if __name__ == "__main__":
    override(globals())
    main()
