"""Keras architecture builders and their registry (like timm's): ``MODELS = {name: builder}``.

Every builder takes ``input_shape`` and ``num_classes`` (plus documented options) and returns an
uncompiled ``keras.Model``. ``DESCRIPTIONS`` says where each comes from, for the pages;
``ARCHITECTURES`` (:mod:`models.zoo`) holds the classic architectures' papers and reference numbers.
"""

from __future__ import annotations

from collections.abc import Callable

from models.classic import alexnet, lenet5, vgg16
from models.cnns import cifar10_tutorial_cnn, happy_model, homl_fashion_cnn, small_cnn
from models.inception import googlenet
from models.resnets import resnet34, resnet50, se_resnet50, small_resnet
from models.separable import mobilenet, xception
from models.zoo import ARCHITECTURES

MODELS: dict[str, Callable] = {
    "small_cnn": small_cnn,
    "homl_fashion_cnn": homl_fashion_cnn,
    "cifar10_tutorial_cnn": cifar10_tutorial_cnn,
    "happy_model": happy_model,
    "small_resnet": small_resnet,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "lenet5": lenet5,
    "alexnet": alexnet,
    "vgg16": vgg16,
    "googlenet": googlenet,
    "xception": xception,
    "se_resnet50": se_resnet50,
    "mobilenet": mobilenet,
}

DESCRIPTIONS = {
    "small_cnn": "Three 3x3 conv layers, two max pools, a dense head: the fast default (seconds per epoch on a CPU).",
    "homl_fashion_cnn": "HOML's Fashion-MNIST CNN: 64-128-128-256-256 filters, two dropout-regularised dense layers.",
    "cifar10_tutorial_cnn": "The classic CIFAR-10 tutorial net: conv5x5x64 + BN, pool, conv5x5x64, pool, fc256, fc128.",
    "happy_model": "Ng's HappyModel: zero-pad, one 7x7 conv with BN, max pool, dense.",
    "small_resnet": "ResNet-20 for 32x32 inputs, built from HOML's residual units.",
    "resnet34": "HOML's ResNet-34 (21.3 M parameters at 224x224): slow on a CPU.",
    "resnet50": "Ng's ResNet-50 from identity and convolutional blocks (option: LeakyReLU, the flowers seed).",
    **{
        name: f"{spec.label} ({spec.year}): {spec.idea}."
        for name, spec in ARCHITECTURES.items()
        if name not in ("resnet34", "resnet50")
    },
}


def build(name: str, input_shape, num_classes: int, **options):
    """Build a registered model; raises ``KeyError`` naming the choices for an unknown name, and
    ``ValueError`` naming the smallest side for a picture too small for it."""
    check_input(name, input_shape)
    return MODELS[name](input_shape=tuple(input_shape), num_classes=num_classes, **options)


def check_input(name: str, input_shape) -> None:
    """Whether ``name`` is registered and builds at ``input_shape`` (see :func:`build`)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    smallest = min_side(name)
    if min(input_shape[:2]) < smallest:
        raise ValueError(
            f"{name} needs pictures of at least {smallest}x{smallest} pixels, got {input_shape[0]}x{input_shape[1]}"
        )


def min_side(name: str) -> int:
    """The smallest picture side a registered model builds at (8: the lab's 8x8 digits)."""
    return ARCHITECTURES[name].min_side if name in ARCHITECTURES else 8
