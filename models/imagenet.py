"""The ImageNet models of keras.applications that the lab offers, with the facts from Keras' table.

Pure data plus the builder lookup: the classifier and the fine-tuner both read it, and
:mod:`lab.network` checks whether a model's weights file is already in the Keras cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

WEIGHTS_HOST = "storage.googleapis.com"  # where keras.applications downloads weights from
CLASS_INDEX = "imagenet_class_index.json"  # ImageNet's class names, in the Keras cache
RANDOM_WEIGHTS_SEED = 0  # the offline demo's random weights: set before each build, on the page and in its script


@dataclass(frozen=True)
class ImagenetSpec:
    """One keras.applications model and the facts from the Keras applications table."""

    application: str  # "module.Class", e.g. "resnet50.ResNet50"
    input_size: int  # the side of the square input the weights were trained at
    top1: float  # ImageNet top-1 accuracy, Keras table
    parameters: float  # millions
    size_mb: int  # weights download
    weights_file: str  # file name in ~/.keras/models

    @property
    def module_name(self) -> str:
        return self.application.split(".")[0]

    def module(self):
        """The keras.applications submodule (its ``preprocess_input``, ``decode_predictions``)."""
        import keras

        return getattr(keras.applications, self.module_name)

    def builder(self) -> Callable:
        return getattr(self.module(), self.application.split(".")[1])


IMAGENET_MODELS = {
    "ResNet50": ImagenetSpec(
        "resnet50.ResNet50", 224, 0.749, 25.6, 98, "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    ),
    "Xception": ImagenetSpec(
        "xception.Xception", 299, 0.790, 22.9, 88, "xception_weights_tf_dim_ordering_tf_kernels.h5"
    ),
    "MobileNetV2": ImagenetSpec(
        "mobilenet_v2.MobileNetV2", 224, 0.713, 3.5, 14, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"
    ),
    "EfficientNetB0": ImagenetSpec("efficientnet.EfficientNetB0", 224, 0.771, 5.3, 29, "efficientnetb0.h5"),
    "EfficientNetV2B0": ImagenetSpec("efficientnet_v2.EfficientNetV2B0", 224, 0.787, 7.2, 29, "efficientnetv2-b0.h5"),
}
