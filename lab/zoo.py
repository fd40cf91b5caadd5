"""The classic architectures side by side (:data:`models.ARCHITECTURES`, counted by
:mod:`recipes.architectures`), and the ``"architectures"`` run kind that trains each one's scaled-down
version on the same data, one after another, on one time line.

A figure needs the model's shapes only: it is built in a graph of its own (no weights), counted, and
dropped; the page caches the numbers, so no model is built on a rerun.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import models
from lab import datasets, runlog
from lab.config import Config, choice, number, whole
from lab.errors import InputError, describe_value
from lab.planner import readable_bytes, readable_count
from recipes import architectures as recipe

NAMES = tuple(models.ARCHITECTURES)
LABELS = {name: spec.label for name, spec in models.ARCHITECTURES.items()}
SIZES = {"paper": "as in the paper", "64": "64 px, scaled", "32": "32 px, scaled"}
DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
START = "start:"  # a run fact: where an architecture's epochs begin on the run's time line


@dataclass(frozen=True)
class ArchitectureConfig(Config):
    """One architecture's numbers (and its scaled-down training): the recipe's settings block."""

    what = "architecture"
    architecture: str = "vgg16"  # a registry name: lenet5, alexnet, vgg16, googlenet, resnet34, resnet50, ...
    input_size: int = 0  # the picture's side (0: the paper's input size)
    width: float = 1.0  # filters and units x width (1.0: the paper's)
    classes: int = 0  # output classes (0: the paper's)
    batch_size: int = 32  # activation memory is counted for a batch this large
    epochs: int = 0  # > 0: train the scaled-down version on the dataset for this many epochs
    dataset: str = "digits"  # digits (offline), mnist, fashion_mnist or cifar10, resized to train_size
    train_size: int = 32  # the scaled-down version's picture side
    seed: int = 42

    def check(self) -> None:
        choice("architecture", self.architecture, NAMES)
        if self.input_size:
            whole("input size", self.input_size, models.min_side(self.architecture), 512)
        number("width", self.width, 0.0, 4.0, low_open=True)
        whole("classes", self.classes, 0, 10_000)
        whole("batch size", self.batch_size, 1, 4096)
        whole("epochs", self.epochs, 0, 100)
        choice("dataset", self.dataset, DATASETS)
        choice("training picture size", self.train_size, (32, 64))
        whole("seed", self.seed, 0, 2**31 - 1)


def view_config(name: str, size: str, batch_size: int) -> ArchitectureConfig:
    """An architecture at one of the view's :data:`SIZES`: the paper's, or its scaled-down version."""
    choice("size", size, SIZES)
    if size == "paper":
        return ArchitectureConfig(name, batch_size=batch_size)
    width = models.ARCHITECTURES[name].scaled.get("width", 1.0)
    return ArchitectureConfig(name, int(size), width, 10, batch_size)


def script_config(name: str, size: str, batch_size: int, compare: CompareConfig) -> ArchitectureConfig:
    """What "Show the code" runs for one architecture: the view's numbers, then the comparison's training."""
    view = view_config(name, size, batch_size)
    return replace(view, epochs=compare.epochs, dataset=compare.dataset, train_size=compare.image_size)


def training_note(config: CompareConfig) -> str:
    """What a comparison run trains, in a sentence."""
    widths = ", ".join(f"{LABELS[n]} x{models.ARCHITECTURES[n].scaled.get('width', 1.0):g}" for n in config.names)
    data = datasets.DESCRIPTIONS[config.dataset].split(":")[0]
    return (
        f"Each architecture's scaled-down version (its filters and units: {widths}), one after another on {data}, "
        f"resized to {config.image_size}x{config.image_size}: Adam, {config.epochs} epochs, the same seed and batches."
    )


def counted(config: ArchitectureConfig) -> dict:
    """Parameters, multiply-adds, depth, receptive field and activations per image (batch of one)."""
    try:
        model = recipe.build(config.architecture, config.input_size, config.width, config.classes)
    except ValueError as error:
        raise InputError(f"{models.ARCHITECTURES[config.architecture].label}: {error}.") from None
    return recipe.figures(model, 1)


def table_row(config: ArchitectureConfig, figures: dict) -> dict:
    """One architecture's row of the view, its activation memory at the config's batch size."""
    spec = models.ARCHITECTURES[config.architecture]
    side = config.input_size or spec.input_shape[0]
    reference = f"{spec.multiply_adds / 1e9:.2f} G" if spec.multiply_adds else "–"
    return {
        "architecture": spec.label,
        "year": spec.year,
        "input": f"{side}x{side}x{spec.input_shape[2]}",
        "parameters": figures["parameters"],
        "multiply-adds": readable_count(figures["multiply-adds"]),
        "paper's multiply-adds": reference if not config.input_size else "–",
        "depth": figures["depth"],
        "receptive field (px)": figures["receptive field"],
        f"training activations, batch {config.batch_size}": readable_bytes(
            4 * figures["activations per image"] * config.batch_size
        ),
        "weights": readable_bytes(4 * figures["parameters"]),
        "idea": spec.idea,
    }


# ---------------------------------------------------------------------------------------------
# The run kind: each scaled-down architecture trained on the same data
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompareConfig(Config):
    """Settings of one comparison run: which architectures, on what, for how long."""

    what = "comparison"
    names: tuple[str, ...] = ("lenet5", "alexnet", "vgg16", "mobilenet")  # trained in this order
    dataset: str = "digits"  # digits (offline, 8x8 enlarged), mnist, fashion_mnist or cifar10 (downloaded)
    image_size: int = 32  # every picture resized to this side: 32 or 64
    epochs: int = 3  # per architecture
    batch_size: int = 32
    seed: int = 42

    def check(self) -> None:
        if isinstance(self.names, str) or not self.names or len(self.names) > len(NAMES):
            raise InputError(f"Pick 1 to {len(NAMES)} architectures, got {describe_value(self.names)}.")
        for name in self.names:
            choice("architecture", name, NAMES)
        if len(set(self.names)) != len(self.names):
            raise InputError(f"An architecture appears twice in {describe_value(list(self.names))}.")
        choice("dataset", self.dataset, DATASETS)
        choice("picture size", self.image_size, (32, 64))
        whole("epochs", self.epochs, 1, 50)
        whole("batch size", self.batch_size, 1, 1024)
        whole("seed", self.seed, 0, 2**31 - 1)

    @classmethod
    def from_dict(cls, values: dict) -> CompareConfig:
        names = values.get("names")
        return super().from_dict({**values, "names": tuple(names)} if isinstance(names, list) else values)


def run(config: CompareConfig, run_dir: Path, log: runlog.RunLog) -> dict | None:
    """Train each architecture's scaled-down version for ``config.epochs`` in turn (epochs 0-2 the first,
    3-5 the second, ...), resuming where a stopped run left off: a finished one's result is kept."""
    from lab.device import keras

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log.phase("loading data")
    data = datasets.load(config.dataset, config.seed)
    splits = ((data.x_train, data.y_train), (data.x_valid, data.y_valid), (data.x_test, data.y_test))
    results, total = {}, config.epochs * len(config.names)
    for index, name in enumerate(config.names):
        saved = run_dir / f"{name}.json"
        if saved.exists():
            results[name] = json.loads(saved.read_text())
            continue
        keras.utils.set_random_seed(config.seed)
        shape = (config.image_size, config.image_size, data.input_shape[2])
        network = models.build(name, shape, data.num_classes, **models.ARCHITECTURES[name].scaled)
        first = index * config.epochs
        log.note(first, START + name, first)
        callbacks = [
            runlog.checkpoint_callback(run_dir / f"backup_{name}", log),
            log.keras_callback(config.batch_size, epochs_total=total),
        ]
        start = time.perf_counter()
        accuracy = recipe.train_model(
            network, splits, config.image_size, config.epochs, config.batch_size, config.seed, callbacks, first
        )
        if log.cancelled:
            return None
        results[name] = {
            "test_accuracy": round(accuracy, 4),
            "parameters": int(network.count_params()),
            "seconds": round(time.perf_counter() - start, 2),
        }
        saved.write_text(json.dumps(results[name]))
    best = max(results, key=lambda name: results[name]["test_accuracy"])
    return {"architectures": results, "test_accuracy": results[best]["test_accuracy"], "best": best}


def curves(rows: list[runlog.Row], names: tuple[str, ...], metric: str = "val_accuracy") -> dict[str, tuple]:
    """Each architecture's ``metric`` per epoch from the run's one time line, counted from its own start."""
    progress = runlog.progress(rows)
    xs, ys = progress.curves.get(metric, ([], []))
    starts = {name: progress.curves.get(f"{runlog.MARKER_PREFIX}{START}{name}", ([None], []))[0][0] for name in names}
    found = {}
    for name, start in starts.items():
        if start is None:
            continue
        following = [later for later in starts.values() if later is not None and later > start]
        end = min(following, default=float("inf"))
        points = [(x - start, y) for x, y in zip(xs, ys, strict=True) if start < x <= end]
        found[models.ARCHITECTURES[name].label] = ([x for x, _ in points], [y for _, y in points])
    return found


def results_table(result: dict) -> list[dict]:
    """A finished comparison's rows: each architecture's test accuracy, parameters and time."""
    rows = []
    for name, values in result.get("architectures", {}).items():
        label = models.ARCHITECTURES[name].label if name in models.ARCHITECTURES else name
        row = {"architecture": label, "test accuracy": values["test_accuracy"], "parameters": values["parameters"]}
        rows.append({**row, "training time (s)": values["seconds"]})
    return sorted(rows, key=lambda row: -row["test accuracy"])
