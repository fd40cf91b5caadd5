"""The recipes: plain files the lab runs and "Show the code" copies. Their settings blocks are the
tools' Configs (names and defaults), each trains or evaluates as a script offline, and no function
of the lab lives on as a string in lab/."""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
import sys

import pytest

import recipes
from lab import (
    classify,
    codegen,
    convolution,
    detect,
    finetune,
    handout,
    inspect,
    padding,
    pooling,
    pr,
    segment,
    training,
    uploads,
    zoo,
)
from recipes import ap, architectures, matching, train
from recipes import classify as classify_recipe
from recipes import convolution as convolution_recipe
from recipes import detect as detect_recipe
from recipes import finetune as finetune_recipe
from recipes import inspect as inspect_recipe
from recipes import padding as padding_recipe
from recipes import pooling as pooling_recipe
from recipes import segment as segment_recipe
from tests.conftest import ROOT

# recipe -> (its tool's Config, the Config fields the recipe leaves out, and why)
SETTINGS = {
    ap: (pr.ScoresConfig, set()),
    matching: (pr.DetectionConfig, set()),
    padding_recipe: (padding.PaddingConfig, set()),
    classify_recipe: (classify.ClassifierConfig, set()),
    train: (training.TrainConfig, {"stack"}),  # a custom stack is written out as its layers
    finetune_recipe: (finetune.FinetuneConfig, set()),
    convolution_recipe: (convolution.ConvConfig, {"preset", "kernel_size", "sigma", "seed", "cells"}),  # the kernel
    pooling_recipe: (pooling.PoolConfig, {"depth_size", "shift"}),  # the page's other demos
    detect_recipe: (detect.DetectConfig, set()),
    inspect_recipe: (inspect.InspectConfig, set()),
    segment_recipe: (segment.SegmentConfig, set()),
    architectures: (zoo.ArchitectureConfig, set()),
}
DEFINITION = re.compile(r"^\s*(?:async\s+)?(?:def\s+\w+\s*\(|class\s+[A-Z]\w*\s*[(:])")
PICTURE_SETTINGS = {"source", "crop", "grayscale"}  # codegen.ImageChoice's fields


@pytest.mark.parametrize("recipe", list(SETTINGS), ids=lambda module: module.__name__)
def test_a_recipes_settings_block_is_its_configs_fields_with_the_same_defaults(recipe):
    config, left_out = SETTINGS[recipe]
    defaults = handout.recipe_defaults(recipe)
    fields = {field.name: field.default for field in dataclasses.fields(config)}
    extra = {"kernel", "pixel"} if recipe is convolution_recipe else set()
    extra |= PICTURE_SETTINGS if recipe in (convolution_recipe, pooling_recipe) else set()
    assert set(defaults) == (set(fields) - left_out) | extra
    for name in set(defaults) & set(fields):
        assert defaults[name] == fields[name], name
    if recipe is convolution_recipe:
        assert defaults["kernel"] == convolution.ConvConfig().kernel().tolist()
        assert defaults["pixel"] == (100, 100, 0)  # the page's default pixel, the photo's middle
    if recipe in (convolution_recipe, pooling_recipe):
        assert {name: defaults[name] for name in PICTURE_SETTINGS} == dataclasses.asdict(codegen.ImageChoice())


def test_no_function_of_the_lab_lives_in_a_string():
    """402 of codegen's 882 lines were code in strings (17 lab function <-> string pairs, drifted)."""
    found = []
    for path in sorted(ROOT.glob("lab/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            parts = node.values if isinstance(node, ast.JoinedStr) else [node]
            for part in parts:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    lines = [line for line in part.value.splitlines() if DEFINITION.match(line)]
                    found += [f"{path.name}:{node.lineno}: {line.strip()}" for line in lines]
    assert found == []


def test_a_setting_the_recipe_lacks_is_an_error_not_ignored():
    with pytest.raises(KeyError, match="epoch"):
        handout.settings(train, epoch=3)
    with pytest.raises(SystemExit, match="unknown setting"):
        recipes.override({"epochs": 10}, ["--epoch=3"])
    namespace = {"epochs": 10, "weights": "imagenet", "dataset": "digits"}
    recipes.override(namespace, ["--epochs=3", "--weights=None", "--dataset=mnist"])
    assert namespace == {"epochs": 3, "weights": None, "dataset": "mnist"}


def run_recipe(name: str, cwd, *arguments: str) -> dict[str, str]:
    """``python -m recipes.<name>`` in ``cwd``: its "label: value" lines."""
    environment = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    done = subprocess.run(
        [sys.executable, "-m", f"recipes.{name}", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ap", "matching", "padding", "convolution", "pooling"])
def test_the_evaluating_recipes_run_on_their_defaults_and_print_the_pages_numbers(name, tmp_path):
    printed = run_recipe(name, tmp_path)
    if name == "ap":
        scores, labels = pr.synthetic_scores()
        curve = pr.precision_recall(scores, labels)
        assert printed["raw"] == str(round(pr.average_precision(curve.recall, curve.precision, "raw"), 4))
        assert {key: printed[key] for key in ("precision", "recall", "TP", "FP", "FN")} == pr.operating_point(
            curve, 0.5
        ).figures()
    elif name == "matching":
        from lab import annotations, coco, detection

        gt, det = detection.example_detections()
        assert float(printed["VOC mAP"]) == round(detection.evaluate_detections(gt, det).mean_ap, 4)
        summary = coco.evaluate(annotations.from_tables(gt, det)).summary()
        assert float(printed["COCO mAP@[.5:.95]"]) == round(summary["AP"], 4)
    elif name == "padding":
        plans = padding.PaddingConfig().plans()
        assert ast.literal_eval(printed["output"]) == ast.literal_eval(printed["TensorFlow's output"])
        assert ast.literal_eval(printed["output"]) == tuple(plan.output_size for plan in plans)
    elif name == "convolution":
        from lab import images

        image = images.prepare(images.sample_image("china"))
        maps = convolution.convolve(image, convolution.expand_kernel(convolution.ConvConfig().kernel(), 3))
        assert abs(float(printed["pixel (100, 100) of map 0"]) - maps[100, 100, 0]) < 1e-5
    else:
        from lab import images

        pooled = pooling.pool(images.prepare(images.sample_image("china")), pooling.PoolConfig())
        assert ast.literal_eval(printed["pooled shape"]) == pooled.shape


@pytest.mark.slow
def test_the_training_recipe_trains_the_default_digits_run_as_the_page_does(tmp_path):
    """Its defaults are TrainConfig's: the same run as the Train page's default, the same numbers."""
    from lab import runlog

    printed = run_recipe("train", tmp_path)
    result = training.run(training.TrainConfig(), tmp_path / "run", runlog.RunLog(lambda rows: None))
    assert printed["epochs"] == "10" == str(result["epochs"])
    assert abs(float(printed["test accuracy"]) - result["test_accuracy"]) <= 0.03  # float order on two processes
    assert (tmp_path / "history.csv").read_text().count("\n") == 11


@pytest.mark.slow
def test_the_classifier_and_fine_tune_recipes_run_offline_with_random_weights(tmp_path):
    from tests.zipgen import make_zip, shapes_members

    printed = run_recipe("classify", tmp_path, "--weights=None", "--top_k=2")
    assert len(printed["MobileNetV2 on china"].split(", ")) == 2

    staged = uploads.stage_zip(make_zip(shapes_members(12)), tmp_path / "uploads", "shapes.zip")
    settings = [f"--data_dir={staged.path}", "--source=zip", "--base_model=MobileNetV2", "--weights=None"]
    settings += ["--image_size=32", "--batch_size=8", "--head_epochs=1", "--finetune_epochs=1"]
    printed = run_recipe("finetune", tmp_path, *settings)
    assert printed["phase 1 epochs"] == "1" and printed["epochs"] == "2"


@pytest.mark.slow
def test_the_detect_recipe_trains_a_grid_detector_as_the_page_does(tmp_path):
    """Its defaults are DetectConfig's; a tiny grid run scores as the lab's run of the same settings."""
    from lab import runlog

    tiny = {"train_canvases": 200, "test_canvases": 20, "epochs": 2}
    printed = run_recipe("detect", tmp_path, *[f"--{name}={value}" for name, value in tiny.items()])
    result = detect.run(detect.DetectConfig(**tiny), tmp_path / "run", runlog.RunLog(lambda rows: None))
    _, boxes, _ = detect.test_canvases(detect.DetectConfig(**tiny))
    assert int(printed["ground truth boxes"]) == sum(len(canvas_boxes) for canvas_boxes in boxes)
    assert abs(float(printed["COCO AP50"]) - result["AP50"]) <= 0.05  # float order on two processes
    assert abs(float(printed["VOC mAP"]) - result["VOC AP50"]) <= 0.05


@pytest.mark.slow
def test_the_inspect_recipe_runs_offline_and_its_sum_is_the_models_value(tmp_path):
    printed = run_recipe("inspect", tmp_path)  # no model file: the small CNN, one epoch, then the neuron
    assert printed["receptive field rows"] == "(2, 5)" and printed["receptive field columns"] == "(2, 5)"
    ours = float(printed["conv2d (relu)"])
    assert abs(ours - float(printed["conv2d (relu), the model's own value"])) <= 1e-4


@pytest.mark.slow
def test_the_segment_recipe_trains_a_segmenter_as_the_page_does(tmp_path):
    """Its defaults are SegmentConfig's; a tiny run scores as the lab's run of the same settings."""
    from lab import runlog

    tiny = {"train_canvases": 200, "test_canvases": 20, "epochs": 2}
    printed = run_recipe("segment", tmp_path, *[f"--{name}={value}" for name, value in tiny.items()])
    result = segment.run(segment.SegmentConfig(**tiny), tmp_path / "run", runlog.RunLog(lambda rows: None))
    assert printed["parameters"] == str(result["parameters"])
    assert abs(float(printed["foreground IoU"]) - result["foreground_iou"]) <= 0.05  # float order on two processes
    assert abs(float(printed["mIoU"]) - result["miou"]) <= 0.05


@pytest.mark.slow
def test_the_architectures_recipe_counts_as_the_page_and_trains_the_scaled_down_version(tmp_path):
    printed = run_recipe("architectures", tmp_path, "--architecture=lenet5", "--epochs=1")
    counted = zoo.counted(zoo.view_config("lenet5", "paper", 32))
    assert int(printed["parameters"]) == counted["parameters"] == 61_706
    assert int(printed["multiply-adds"]) == counted["multiply-adds"] and printed["depth"] == "5"
    assert 0.0 <= float(printed["test accuracy"]) <= 1.0
