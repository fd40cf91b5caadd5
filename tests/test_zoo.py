"""lab.zoo and recipes.architectures: every architecture's multiply-adds are TensorFlow's profiler's and the
literature's, its receptive field the inspector's walk and the literature's, and the comparison run trains
each scaled-down version on one time line, resuming where it stopped."""

from __future__ import annotations

import json

import pytest

import models
from lab import runlog, zoo
from lab.errors import InputError
from recipes import architectures
from tests.flops import tensorflow_multiply_adds

# Araujo, Norris and Sim, Computing receptive fields of convolutional neural networks (Distill 2019), table
RECEPTIVE_FIELDS = {"alexnet": 195, "vgg16": 212, "resnet50": 483, "mobilenet": 315}


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_multiply_adds_are_tensorflows_and_the_literatures(name):
    spec = models.ARCHITECTURES[name]
    one_tower = architectures.shapes_only(models.MODELS[name], spec.input_shape, spec.classes)
    ours = architectures.figures(one_tower, 1)["multiply-adds"]
    tensorflow = tensorflow_multiply_adds(lambda: models.build(name, spec.input_shape, spec.classes), spec.input_shape)
    assert ours == pytest.approx(tensorflow, rel=0.01)  # exactly, in fact: both count every product
    as_published = architectures.figures(architectures.build(name, 0, 1.0, 0), 1)["multiply-adds"]
    if spec.multiply_adds:  # AlexNet's with its two GPU groups (TensorFlow's profiler skips grouped ones)
        assert as_published == pytest.approx(spec.multiply_adds, rel=0.01), spec.multiply_adds_source


@pytest.mark.parametrize("name", sorted(RECEPTIVE_FIELDS))
def test_receptive_fields_are_the_literatures(name):
    assert architectures.figures(architectures.build(name, 0, 1.0, 0), 1)["receptive field"] == RECEPTIVE_FIELDS[name]


@pytest.mark.parametrize("name", ["lenet5", "vgg16", "mobilenet"])
def test_a_chains_receptive_field_is_the_inspectors_walk_back_from_its_middle_neuron(name):
    """recipes.inspect walks a neuron's rows back through every kernel, stride and padding (tested against a
    brute-force gradient): from the middle of the last feature map its span is the whole receptive field."""
    from recipes import inspect

    spec = models.ARCHITECTURES[name]
    side = 4 * RECEPTIVE_FIELDS.get(name, 32)  # room around it: the field is not cut by the picture's edge
    model = architectures.build(name, side, 1.0, 0)
    rows = architectures.walk(model)
    last = [layer for layer, shape, *_ in rows if len(shape) == 4][-1]
    wiring, tensors = inspect.wiring(model, (side, side, spec.input_shape[2]))
    steps = inspect.windows_to(wiring, tensors, last.name)
    middle = last.output.shape[1] // 2
    (top, bottom), _ = inspect.receptive_field(steps, middle, middle, (side, side))
    assert bottom - top == architectures.figures(model, 1)["receptive field"]


def test_the_view_counts_without_weights_and_its_rows_follow_the_batch():
    config = zoo.view_config("vgg16", "paper", 64)
    counted = zoo.counted(config)
    row = zoo.table_row(config, counted)
    assert row["parameters"] == 138_357_544 and row["depth"] == 16 and row["multiply-adds"] == "15.5 G"
    assert row["training activations, batch 64"] == zoo.readable_bytes(4 * counted["activations per image"] * 64)
    small = zoo.view_config("vgg16", "32", 1)
    assert small.width == models.ARCHITECTURES["vgg16"].scaled["width"] and small.input_size == 32
    with pytest.raises(InputError, match="Unknown size '16'"):
        zoo.view_config("vgg16", "16", 1)
    with pytest.raises(InputError, match="input size must be a whole number from 32"):
        zoo.counted(zoo.ArchitectureConfig("vgg16", input_size=16))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"names": ()}, "Pick 1 to 9"),
        ({"names": ("vgg16", "vgg16")}, "appears twice"),
        ({"names": ("vgg19",)}, "Unknown architecture 'vgg19'"),
        ({"names": "vgg16"}, "Pick 1 to 9"),
        ({"image_size": 48}, "picture size 48"),
        ({"dataset": "imagenet"}, "Unknown dataset"),
    ],
)
def test_a_bad_comparison_is_a_message_naming_it(values, message):
    with pytest.raises(InputError, match=message):
        zoo.CompareConfig(**values)


def test_the_comparison_trains_each_on_one_time_line_and_resumes_after_the_last_finished(tmp_path):
    config = zoo.CompareConfig(names=("lenet5", "mobilenet"), epochs=1, batch_size=128)
    rows = []
    result = zoo.run(config, tmp_path, runlog.RunLog(rows.extend))
    assert set(result["architectures"]) == {"lenet5", "mobilenet"} and result["best"] in result["architectures"]
    assert zoo.CompareConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config  # a tuple in JSON
    epochs = sorted({epoch for epoch, step, name, _ in rows if step == runlog.EPOCH_END and name == "loss"})
    assert epochs == [0, 1]  # LeNet's, then MobileNet's
    assert runlog.progress(rows).epochs_total == 2
    curves = zoo.curves(rows, config.names)
    assert {name: xs for name, (xs, _) in curves.items()} == {"LeNet-5": [1.0], "MobileNet": [1.0]}
    table = zoo.results_table(result)
    assert [row["test accuracy"] for row in table] == sorted((row["test accuracy"] for row in table), reverse=True)
    (tmp_path / "mobilenet.json").unlink()  # as if stopped during MobileNet: LeNet's result is kept
    again = zoo.run(config, tmp_path, runlog.RunLog(rows.extend))
    assert again["architectures"]["lenet5"] == result["architectures"]["lenet5"]
