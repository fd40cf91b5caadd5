"""The chapter's architectures as a table: each registry entry's paper, its idea, the size it was built
for, and the numbers it is checked by (``tests/test_models.py``: parameters exactly, multiply-adds
within 1%, depth exactly). Pure data: the builders are in the registry (:data:`models.MODELS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SZE = "Sze et al. 2017, Efficient Processing of DNNs, table of popular networks"


@dataclass(frozen=True)
class Architecture:
    """One classic architecture: where it comes from, and its reference numbers at the paper's size."""

    label: str  # as the chapter writes it
    year: int
    paper: str
    idea: str  # what it brought, in one line
    input_shape: tuple[int, int, int]  # the paper's
    classes: int  # the paper's (ImageNet: 1000)
    parameters: int  # the reference count at the paper's size: its source below
    parameters_source: str
    depth: int  # layers with weights on the longest path, as the paper counts them
    multiply_adds: float | None  # per image at the paper's size, as published (None: not published)
    multiply_adds_source: str
    scaled: dict = field(default_factory=dict)  # builder options of the scaled-down version trained here
    paper_options: dict = field(default_factory=dict)  # builder options of the paper's own version
    min_side: int = 32  # the smallest picture side it builds at (five halvings: 32)


ARCHITECTURES: dict[str, Architecture] = {
    "lenet5": Architecture(
        label="LeNet-5",
        year=1998,
        paper="LeCun et al., Gradient-based learning applied to document recognition",
        idea="convolutions and subsampling, learned end to end",
        input_shape=(32, 32, 1),
        classes=10,
        parameters=61_706,
        parameters_source="the paper's 60,840 with a full C3, plain pooling and a Dense output (sec. II.B)",
        depth=5,
        multiply_adds=None,
        multiply_adds_source="",
        min_side=8,
    ),
    "alexnet": Architecture(
        label="AlexNet",
        year=2012,
        paper="Krizhevsky, Sutskever and Hinton, ImageNet classification with deep CNNs",
        idea="deep and wide on GPUs: ReLU, dropout, overlapping pooling, local response normalization",
        input_shape=(227, 227, 3),
        classes=1000,
        parameters=60_965_224,
        parameters_source='the paper\'s "60 million", its two GPU groups (one tower: 62,378,344)',
        depth=8,
        multiply_adds=724e6,
        multiply_adds_source=SZE,
        scaled={"width": 0.25},
        paper_options={"groups": 2},
        min_side=16,
    ),
    "vgg16": Architecture(
        label="VGG-16",
        year=2014,
        paper="Simonyan and Zisserman, Very deep convolutional networks for large-scale image recognition",
        idea="only 3x3 convolutions, stacked deep",
        input_shape=(224, 224, 3),
        classes=1000,
        parameters=138_357_544,
        parameters_source="keras.applications.VGG16",
        depth=16,
        multiply_adds=15.5e9,
        multiply_adds_source=SZE,
        scaled={"width": 0.25},
    ),
    "googlenet": Architecture(
        label="GoogLeNet",
        year=2014,
        paper="Szegedy et al., Going deeper with convolutions",
        idea="inception modules: parallel 1x1, 3x3, 5x5 and pooling branches, 1x1 bottlenecks first",
        input_shape=(224, 224, 3),
        classes=1000,
        parameters=6_998_552,
        parameters_source='the paper\'s Table 1 layer sizes with biases ("about 6.8 million")',
        depth=22,
        multiply_adds=1.586e9,
        multiply_adds_source="the paper's Table 1, conv1 with its 3 input channels (118 M; the table: 34 M)",
        scaled={"width": 0.25},
        min_side=8,
    ),
    "resnet34": Architecture(
        label="ResNet-34",
        year=2015,
        paper="He et al., Deep residual learning for image recognition",
        idea="skip connections: each unit learns a residual, so very deep nets still train",
        input_shape=(224, 224, 3),
        classes=10,
        parameters=21_306_826,
        parameters_source="HOML's ResNet-34 summary (10 classes)",
        depth=34,
        multiply_adds=None,
        multiply_adds_source="",
        scaled={"width": 0.25},
        min_side=8,
    ),
    "resnet50": Architecture(
        label="ResNet-50",
        year=2015,
        paper="He et al., Deep residual learning for image recognition",
        idea="bottleneck residual blocks: 1x1, 3x3, 1x1",
        input_shape=(224, 224, 3),
        classes=1000,
        parameters=25_636_712,
        parameters_source="keras.applications.ResNet50",
        depth=50,
        multiply_adds=3.86e9,
        multiply_adds_source=SZE,
        scaled={"width": 0.25},
        min_side=8,
    ),
    "xception": Architecture(
        label="Xception",
        year=2017,
        paper="Chollet, Xception: deep learning with depthwise separable convolutions",
        idea="depthwise separable convolutions in residual blocks",
        input_shape=(299, 299, 3),
        classes=1000,
        parameters=22_910_480,
        parameters_source="keras.applications.Xception",
        depth=37,
        multiply_adds=8.4e9,
        multiply_adds_source="timm's xception model card",
        scaled={"width": 0.25},
        min_side=8,
    ),
    "se_resnet50": Architecture(
        label="SE-ResNet-50",
        year=2017,
        paper="Hu et al., Squeeze-and-excitation networks",
        idea="squeeze-and-excitation: each block reweights its own channels",
        input_shape=(224, 224, 3),
        classes=1000,
        parameters=28_141_144,
        parameters_source="28.1 million in the SENet paper's table (28,088,024 trainable)",
        depth=50,
        multiply_adds=3.87e9,
        multiply_adds_source="the SENet paper's table",
        scaled={"width": 0.25},
        min_side=8,
    ),
    "mobilenet": Architecture(
        label="MobileNet",
        year=2017,
        paper="Howard et al., MobileNets: efficient CNNs for mobile vision applications",
        idea="depthwise separable convolutions and a width multiplier",
        input_shape=(224, 224, 3),
        classes=1000,
        parameters=4_253_864,
        parameters_source="keras.applications.MobileNet",
        depth=28,
        multiply_adds=569e6,
        multiply_adds_source="the MobileNet paper's Table 1",
        scaled={"width": 0.5},
        min_side=8,
    ),
}
