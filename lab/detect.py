"""Detect: the CNN chapter's second half on digit canvases (:mod:`recipes.detect`, :mod:`recipes.canvases`).

:func:`run` is the ``"detect"`` run kind's runner (:mod:`lab.worker`). One kind, three tasks:

* ``localize``: classification + localization (a class head and a box head), scored by mean IoU;
* ``crops``: a crop classifier, converted here to a fully convolutional network (:func:`fcn_view`);
* ``grid``: a YOLO-style grid detector, its test detections after NMS scored by :mod:`lab.coco`
  (pycocotools-exact) and VOC's AP@0.5, and written as COCO JSON for the PR / mAP explorer.

Everything the page shows after a run is read from the run's folder and the config (the test
canvases are made again from its seed: the same seed gives the same canvases).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lab import annotations, coco, detection, jobs, runlog
from lab.canvases import CanvasConfig
from lab.config import choice, number, whole
from lab.errors import InputError, describe_value
from recipes import canvases as canvas_recipe
from recipes import detect as recipe

TASKS = ("localize", "crops", "grid")
TASK_DEFAULTS = {  # what each step trains by default (bench_detect measures them)
    "localize": {"canvas_size": 48, "min_objects": 1, "max_objects": 1, "epochs": 11, "box_weight": 400.0},
    "crops": {"epochs": 8},
    "grid": {},
}
INSTANCES_FILE, RESULTS_FILE, OUTPUTS_FILE = "instances.json", "results.json", "outputs.npz"


@dataclass(frozen=True)
class DetectConfig(CanvasConfig):
    """Settings of one detect run (the recipe's settings block, with the same names and defaults): the
    canvases' (:class:`lab.canvases.CanvasConfig`; localize has always one digit), then the task's."""

    what = "detection"
    task: str = "grid"  # localize (step 1), crops (step 2: the FCN), grid (step 3: YOLO-style)
    grid_size: int = 8  # grid: S x S cells (the canvas size over S must be a power of two)
    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 0.002  # Adam
    class_weight: float = 1.0  # loss weights: the class term
    box_weight: float = 5.0  # the box term (MSE on [0, 1] coordinates is small: it needs the weight)
    objectness_weight: float = 1.0  # grid: the objectness term
    score_threshold: float = 0.05  # grid: cells scoring less are not detections
    iou_threshold: float = 0.5  # grid: non-max suppression drops boxes overlapping a kept one by more
    data_dir: str = ""  # grid: a folder with canvases.npz (your annotated pictures, as the page prepared them)

    def check(self) -> None:
        choice("task", self.task, TASKS)
        super().check()
        whole("epochs", self.epochs, 1, 100)
        whole("batch size", self.batch_size, 1, 1024)
        number("learning rate", self.learning_rate, 0.0, 1.0, low_open=True)
        for name in ("class_weight", "box_weight", "objectness_weight"):
            number(name.replace("_", " "), getattr(self, name), 0.0, 10_000.0)
        number("score threshold", self.score_threshold, 0.0, 1.0)
        number("IoU threshold", self.iou_threshold, 0.0, 1.0)
        if self.task == "grid":
            check_grid(self.canvas_size, self.grid_size)
        if self.data_dir and self.task != "grid":
            raise InputError(
                f"Your annotated pictures train the grid detector (step 3), not {describe_value(self.task)}."
            )


def check_grid(canvas_size: int, grid_size: object) -> int:
    """``grid_size`` if the canvas divides into that many cells by halving (the detector's poolings)."""
    whole("grid size", grid_size, 1, 32)
    ratio = canvas_size / grid_size
    if not ratio.is_integer() or int(ratio) & (int(ratio) - 1) or ratio < 2:
        raise InputError(
            f"A {canvas_size}-pixel canvas does not divide into a {describe_value(grid_size)}x"
            f"{describe_value(grid_size)} grid by halving: the cell side (canvas / grid = {ratio:g} px) must be "
            "2, 4, 8, 16 or 32 pixels, e.g. a grid of "
            f"{', '.join(str(canvas_size // cell) for cell in (16, 8, 4) if canvas_size % cell == 0)}."
        )
    return int(grid_size)


def for_task(task: str, **values) -> DetectConfig:
    """A task's default settings (:data:`TASK_DEFAULTS`), then ``values``."""
    choice("task", task, TASKS)
    return DetectConfig(**{**TASK_DEFAULTS[task], **values, "task": task})


def _shape(config: DetectConfig) -> tuple:
    shape = config.canvas_shape()
    return (shape[0], 1, 1, *shape[3:]) if config.task == "localize" else shape


def grid_data(config: DetectConfig, split: str, count: int | None = None) -> tuple[np.ndarray, list, list, list]:
    """Canvases (pixels, boxes, labels) and class names of one split: digits made again from the seed,
    or the learner's annotated pictures (checked to be of the config's canvas size)."""
    count = count or (config.test_canvases if split == "test" else config.train_canvases)
    if config.data_dir and not (Path(config.data_dir) / canvas_recipe.ANNOTATED_FILE).exists():
        raise InputError(
            "The annotated pictures this run was trained on are gone from the server: upload the zip again."
        )
    found = recipe.grid_data(config.data_dir, count, config.seed, _shape(config), split)
    if found[0].shape[1] != config.canvas_size:
        raise InputError(
            f"These annotated pictures were prepared at {found[0].shape[1]} px, not {config.canvas_size}: upload again."
        )
    return found


def test_canvases(config: DetectConfig, count: int | None = None) -> tuple[np.ndarray, list, list]:
    """The run's test canvases, made again from its seed (pixels, boxes, labels)."""
    if config.data_dir:
        return grid_data(config, "test")[:3]
    return recipe.canvases(count or config.test_canvases, config.seed, *_shape(config), split="test")


def demo_config(config: DetectConfig) -> DetectConfig:
    """A crops run's canvases for the FCN: digits of at most 20 px, the crop classifier's range."""
    return replace(config, min_digit=min(config.min_digit, 20), max_digit=min(config.max_digit, 20))


def sample_canvases(config: DetectConfig, count: int = 6) -> tuple[np.ndarray, list, list]:
    """A few training canvases of these settings, to look at before training."""
    if config.data_dir:
        pictures, boxes, labels, _ = grid_data(config, "train")
        return pictures[:count], boxes[:count], labels[:count]
    return recipe.canvases(count, config.seed, *_shape(config))


# ---------------------------------------------------------------------------------------------
# The run kind
# ---------------------------------------------------------------------------------------------
def _training_data(config: DetectConfig) -> tuple[np.ndarray, object]:
    if config.task == "crops":
        return recipe.crops(config.train_canvases, config.seed, config.noise, config.clutter)
    if config.task == "grid":
        pictures, boxes, labels, _ = grid_data(config, "train")
        objectness, box, kind = canvas_recipe.grid_targets(boxes, labels, config.canvas_size, config.grid_size)
        return pictures, {"objectness": objectness, "box": box, "class": kind}
    pictures, boxes, labels = recipe.canvases(config.train_canvases, config.seed, *_shape(config))
    if config.task == "localize":
        return pictures, {
            "class": np.concatenate(labels),
            "box": recipe.centre_boxes(np.concatenate(boxes), config.canvas_size),
        }
    raise InputError(f"Unknown task {describe_value(config.task)}.")


def class_names(config: DetectConfig) -> list[str]:
    """The classes a grid run detects: the digits, or the annotated pictures' classes."""
    return grid_data(config, "test", 1)[3] if config.data_dir else [str(k) for k in range(recipe.CLASSES)]


def build(config: DetectConfig):
    """The task's compiled network (the recipe's builders and compile steps)."""
    if config.task == "localize":
        model = recipe.localization_model(config.canvas_size)
        return recipe.compile_localizer(model, config.learning_rate, config.class_weight, config.box_weight)
    if config.task == "crops":
        return recipe.compile_crops(recipe.crop_classifier(), config.learning_rate)
    model = recipe.grid_model(config.canvas_size, config.grid_size, len(class_names(config)))
    weights = (config.objectness_weight, config.box_weight, config.class_weight)
    return recipe.compile_grid(model, config.learning_rate, *weights)


def run(config: DetectConfig, run_dir: Path, log: runlog.RunLog) -> dict | None:
    """Train ``config``'s task into ``run_dir`` (resuming from its checkpoint), then measure it."""
    from lab.device import keras

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    log.phase("loading data")
    pictures, targets = _training_data(config)
    log.phase("building the model")
    model = build(config)
    log.phase("compiling")
    history, seconds = runlog.fit_arrays(model, log, run_dir, pictures, targets, config.batch_size, config.epochs)
    if log.cancelled:
        return None
    model.save(run_dir / runlog.MODEL_FILE)
    log.phase("exporting")
    measured = {"localize": _measure_localizer, "crops": _measure_crops, "grid": _measure_grid}[config.task]
    return {
        **measured(config, model, run_dir),
        "epochs": runlog.epochs_run(history, model),
        "seconds": round(seconds, 2),
        "parameters": int(model.count_params()),
    }


def _measure_localizer(config: DetectConfig, model, run_dir: Path) -> dict:
    pictures, boxes, labels = test_canvases(config)
    predicted = model.predict(pictures, verbose=0)
    np.savez_compressed(run_dir / OUTPUTS_FILE, box=predicted["box"], probabilities=predicted["class"])
    truth = np.concatenate(boxes)
    ious = recipe.paired_iou(recipe.corner_boxes(predicted["box"], config.canvas_size), truth)
    random_ious = recipe.paired_iou(recipe.random_boxes(len(truth), config.canvas_size, config.seed), truth)
    return {
        "mean_iou": round(float(ious.mean()), 4),
        "random_box_iou": round(float(random_ious.mean()), 4),
        "class_accuracy": round(float((predicted["class"].argmax(1) == np.concatenate(labels)).mean()), 4),
    }


def _measure_crops(config: DetectConfig, model, run_dir: Path) -> dict:
    pictures, classes = recipe.crops(config.test_canvases, config.seed, config.noise, config.clutter, "test")
    accuracy = float((model.predict(pictures, verbose=0).argmax(1) == classes).mean())
    view = fcn_view(model, test_canvases(demo_config(config), 1)[0][0])
    return {
        "crop_accuracy": round(accuracy, 4),
        "fcn_max_difference": view.difference,
        "fcn_speedup": round(view.loop_seconds / view.fcn_seconds, 1),
    }


def _measure_grid(config: DetectConfig, model, run_dir: Path) -> dict:
    pictures, boxes, labels, names = grid_data(config, "test")
    outputs = model.predict(pictures, verbose=0, batch_size=256)
    np.savez_compressed(run_dir / OUTPUTS_FILE, **outputs)
    found = recipe.grid_detections(outputs, config.canvas_size, config.score_threshold, config.iou_threshold)
    instances, results = recipe.coco_json(boxes, labels, found, names)
    (run_dir / INSTANCES_FILE).write_text(json.dumps(instances))
    (run_dir / RESULTS_FILE).write_text(json.dumps(results))
    return {name: round(value, 4) for name, value in scores(run_dir).items()}


# ---------------------------------------------------------------------------------------------
# What the page shows of a finished run
# ---------------------------------------------------------------------------------------------
def finished_run(run_id: str) -> jobs.Run:
    """A succeeded detect run (an unknown id, another kind or an unfinished run is a message)."""
    return jobs.succeeded(run_id, "detect")


def outputs(run_id: str) -> dict[str, np.ndarray]:
    """A localize or grid run's raw outputs on its test canvases."""
    path = jobs.run_dir(finished_run(run_id).id) / OUTPUTS_FILE
    if not path.exists():
        raise InputError(f"Run {describe_value(run_id)} saved no test outputs (a {OUTPUTS_FILE} file).")
    with np.load(path) as saved:
        return {name: saved[name] for name in saved.files}


def load_model(run_id: str):
    """A detect run's trained network (safe mode, not compiled: its custom losses are not needed)."""
    from lab.device import keras

    path = jobs.run_dir(finished_run(run_id).id) / runlog.MODEL_FILE
    if not path.exists():
        raise InputError(f"Run {describe_value(run_id)} saved no trained model.")
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def coco_files(run_id: str) -> tuple[bytes, bytes]:
    """A grid run's test ground truth and detections as COCO JSON (instances, results)."""
    folder = jobs.run_dir(finished_run(run_id).id)
    if not (folder / RESULTS_FILE).exists():
        raise InputError(f"Run {describe_value(run_id)} has no detections: only a grid run writes them.")
    return (folder / INSTANCES_FILE).read_bytes(), (folder / RESULTS_FILE).read_bytes()


def scores(run_dir: Path) -> dict[str, float]:
    """COCO's 12 numbers (pycocotools-exact) and VOC's AP@0.5 of a grid run's detections."""
    data = annotations.read_coco_json((run_dir / INSTANCES_FILE).read_bytes(), (run_dir / RESULTS_FILE).read_bytes())
    summary = coco.evaluate(data).summary()
    voc = detection.evaluate_detections(*annotations.to_tables(data), 0.5, "all")
    return {**summary, "VOC AP50": voc.mean_ap}


@dataclass(frozen=True)
class LocalizerView:
    """A localize run's test canvases with true and predicted boxes, worst IoU first."""

    order: np.ndarray  # canvas indices, worst IoU first
    ious: np.ndarray
    predicted: np.ndarray  # (N, 4) corners
    truth: np.ndarray
    predicted_class: np.ndarray
    true_class: np.ndarray


def localizer_view(config: DetectConfig, saved: dict[str, np.ndarray]) -> LocalizerView:
    _, boxes, labels = test_canvases(config)
    truth = np.concatenate(boxes)
    predicted = recipe.corner_boxes(saved["box"], config.canvas_size)
    ious = recipe.paired_iou(predicted, truth)
    kinds = saved["probabilities"].argmax(1)
    return LocalizerView(np.argsort(ious, kind="stable"), ious, predicted, truth, kinds, np.concatenate(labels))


@dataclass(frozen=True)
class FcnView:
    """The FCN once over a canvas, checked against the crop classifier on each window."""

    scores: np.ndarray  # (rows, cols, 11) class probabilities per window
    difference: float  # the largest |FCN - CNN on the window| over every score
    fcn_seconds: float
    loop_seconds: float
    layers: list[tuple[str, str]]  # (the CNN's layer, what the FCN has in its place)


def fcn_view(model, canvas: np.ndarray) -> FcnView:
    """Convert a crop classifier (:func:`recipes.detect.to_fcn`) and run both over ``canvas``."""
    fcn = recipe.to_fcn(model)
    recipe.fcn_check(model, fcn, canvas)  # once to trace both: the timed pass measures the work
    scores, difference, fcn_seconds, loop_seconds = recipe.fcn_check(model, fcn, canvas)
    return FcnView(scores, difference, fcn_seconds, loop_seconds, _pairs(model, fcn))


def _layers(model) -> list:
    return [layer for layer in model.layers if layer.__class__.__name__ != "InputLayer"]


def _pairs(model, fcn) -> list[tuple[str, str]]:
    """Each layer of the CNN beside what stands in its place in the FCN."""
    converted, pairs = iter(_layers(fcn)), []
    for layer in _layers(model):
        if layer.__class__.__name__ == "Flatten":
            pairs.append(("Flatten", "(none: the next kernel spans the whole feature map)"))
        else:
            pairs.append((_describe(layer), _describe(next(converted))))
    return pairs


def _describe(layer) -> str:
    name = layer.__class__.__name__
    if name == "Dense":
        return f"Dense({layer.units})"
    if name == "Conv2D":
        return f"Conv2D({layer.filters}, {tuple(layer.kernel_size)}, {layer.padding})"
    return name


def nms_walk(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, score_threshold: float) -> list:
    """NMS one step at a time (:func:`recipes.detect.nms_steps`), the thresholds checked first."""
    number("IoU threshold", iou_threshold, 0.0, 1.0)
    number("score threshold", score_threshold, 0.0, 1.0)
    return recipe.nms_steps(boxes, scores, iou_threshold, score_threshold)


def grid_cells(config: DetectConfig, saved: dict[str, np.ndarray], index: int) -> tuple[np.ndarray, ...]:
    """Canvas ``index``'s every cell: boxes, scores and classes (before any threshold or NMS)."""
    whole("canvas", index, 0, len(saved["objectness"]) - 1)
    return canvas_recipe.decode_grid(
        saved["objectness"][index], saved["box"][index], saved["class"][index], config.canvas_size
    )
