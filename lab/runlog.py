"""The run contract: what a runner writes while it trains, and what it leaves behind.

Every run kind (training, fine-tuning, any kind registered in :mod:`lab.worker`) talks to the rest
of the lab only through this module:

* **Metric rows** ``(epoch, step, name, value)``, stored by the registry (:mod:`lab.jobs`):

  - ``step >= 0``: a batch-level value inside ``epoch`` (names start with :data:`BATCH_PREFIX`),
    or the batch position :data:`PROGRESS`;
  - ``step == EPOCH_END``: an epoch-level value (``loss``, ``val_accuracy``, ``seconds``, ...);
  - ``step == RUN_FACT``: a fact about the run (:data:`STEPS_PER_EPOCH`, :data:`EPOCHS_TOTAL`) or
    an event on the epoch axis (any other name, drawn as a marker: e.g. ``unfreeze_epoch``).

  A runner writes them through the :class:`RunLog` it is handed (``log.keras_callback()`` inside
  ``model.fit``); :func:`progress` is the one reader (the live panel, comparisons) and
  :func:`history_csv` the per-epoch table.
* **Artifacts** in the run's folder: :data:`MODEL_FILE`, :data:`LABELS_FILE` (:class:`RunLabels`),
  :data:`PREDICTIONS_FILE` (:class:`Predictions`) and :data:`HISTORY_FILE`, written by
  :func:`save_artifacts` and read back by :func:`read_labels`, :func:`load_predictions` and
  :func:`load_model`: nothing else opens these files.

A runner is ``run(config, run_dir, log) -> result dict | None`` (None when ``log`` asked it to
stop). This module imports Keras only inside the functions that need it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lab import settings
from lab.errors import InputError

Row = tuple[int, int, str, float]  # (epoch, step, name, value)
EPOCH_END = -1  # step of an epoch-level value
RUN_FACT = -2  # step of a fact about the run, or an event on the epoch axis
PROGRESS = "progress"  # value: batches done in the epoch (written at most once per flush)
BATCH_PREFIX = "batch_"  # batch-level metrics: "batch_loss", "batch_accuracy"
STEPS_PER_EPOCH, EPOCHS_TOTAL = "steps_per_epoch", "epochs_total"
MARKER_PREFIX = "marker:"  # curves() key of an event: "marker:unfreeze_epoch"
RESTARTED = "restarted_at"  # a fit began at this epoch; the rows from there on were dropped first
PHASE_PREFIX = "phase:"  # a start-up phase ("phase:loading data"), value: seconds since the run began
PROGRESS_SECONDS = "progress_seconds"  # beside PROGRESS: seconds into the epoch, for a batch-timed ETA
PHASES = ("importing TensorFlow", "loading data", "building the model", "compiling", "training", "exporting")

MODEL_FILE, LABELS_FILE = "model.keras", "labels.json"
PREDICTIONS_FILE, HISTORY_FILE = "predictions.npz", "history.csv"
UNIT_PIXELS = "pixels / 255 (digits: / 16)"  # the lab's own models take [0, 1] inputs
IMAGENET_PIXELS = "imagenet"  # the base model's own preprocess_input on [0, 255] pixels


# ---------------------------------------------------------------------------------------------
# Writing: what a runner is handed
# ---------------------------------------------------------------------------------------------
class RunStopped(Exception):
    """Raised at a phase boundary when the run was asked to stop: its worker decides cancelled or
    interrupted (:func:`lab.worker.execute`)."""


class RunLog:
    """A runner's side of the contract: write metric rows, note events, honour a stop request.

    Args:
        report: Stores a list of rows (the registry's ``log_metrics`` for a worker).
        should_stop: True once someone asked the run to stop (checked at most every 0.25 s).
    """

    def __init__(
        self,
        report: Callable[[list[Row]], None],
        should_stop: Callable[[], bool] = lambda: False,
        restart_at: Callable[[int], None] = lambda epoch: None,
    ):
        self._report, self._should_stop, self._restart_at = report, should_stop, restart_at
        self.buffer: list[Row] = []
        self.cancelled = False  # set when a stop request was honoured (distinct from early stopping)
        self._last_check = self._born = time.monotonic()

    def start(self, epochs_total: int, steps_per_epoch: int) -> None:
        self.buffer.append((0, RUN_FACT, STEPS_PER_EPOCH, float(steps_per_epoch)))
        self.buffer.append((0, RUN_FACT, EPOCHS_TOTAL, float(epochs_total)))
        self.flush()

    def starting_at(self, epoch: int) -> None:
        """A fit begins at ``epoch`` (0, or where a checkpoint left off): rows from there on are void.

        The registry drops them before new ones arrive, so a resumed run never logs an epoch twice,
        whatever its last checkpoint was.
        """
        self.flush()
        self._restart_at(epoch)
        self._report([(int(epoch), RUN_FACT, RESTARTED, float(epoch))])

    def phase(self, name: str) -> None:
        """Say what the run is doing before its first batch (one of :data:`PHASES`), at once; a stop
        asked for meanwhile is honoured here (:class:`RunStopped`), not after the next slow step.
        """
        self.buffer.append((0, RUN_FACT, PHASE_PREFIX + name, time.monotonic() - self._born))
        self.flush()
        if not self.cancelled and self._should_stop():
            self.cancelled = True
        if self.cancelled:
            raise RunStopped(name)

    def note(self, epoch: float, name: str, value: float) -> None:
        """An event on the epoch axis, e.g. where a fine-tune unfreezes its base."""
        self.buffer.append((int(epoch), RUN_FACT, name, float(value)))

    def batch(self, epoch: int, batch: int, logs: dict | None) -> None:
        self.buffer += [(epoch, batch, BATCH_PREFIX + name, float(value)) for name, value in (logs or {}).items()]

    def position(self, epoch: int, batches_done: int, seconds: float | None = None) -> None:
        """Batches done in ``epoch`` (and the seconds they took, which the ETA is timed from)."""
        self.buffer.append((epoch, batches_done - 1, PROGRESS, float(batches_done)))
        if seconds is not None:
            self.buffer.append((epoch, batches_done - 1, PROGRESS_SECONDS, float(seconds)))

    def epoch_end(self, epoch: int, logs: dict | None, seconds: float, images: int | None = None) -> None:
        """Epoch-level values, the epoch's duration and, given the images seen, its speed."""
        self.buffer += [(epoch, EPOCH_END, name, float(value)) for name, value in (logs or {}).items()]
        self.buffer.append((epoch, EPOCH_END, "seconds", float(seconds)))
        if images:
            self.buffer.append((epoch, EPOCH_END, "images_per_second", images / max(seconds, 1e-9)))
        self.flush()

    def flush(self) -> None:
        if self.buffer:
            self._report(self.buffer)
            self.buffer = []

    def stop_requested(self) -> bool:
        """Ask (at most every 0.25 s) whether to stop; remembers a yes in :attr:`cancelled`."""
        now = time.monotonic()
        if not self.cancelled and now - self._last_check >= 0.25:
            self._last_check = now
            self.cancelled = bool(self._should_stop())
        return self.cancelled

    def keras_callback(
        self,
        batch_size: int | None = None,
        every: int = 20,
        flush_seconds: float = 1.0,
        epochs_total: int | None = None,
    ):
        """A Keras callback that writes this log from ``fit`` and stops training on request.

        Batch metrics are read every ``every`` batches only (each read is a host-device sync:
        on a GPU a per-step sync can cost as much as a small CNN's step); rows are flushed at most
        once per ``flush_seconds`` and at each epoch's end. ``epochs_total``: the run's epochs when it
        is several fits on one time line (by default, the fit's own).
        """
        from lab.device import keras

        log = self

        class RunLogCallback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                try:
                    log.phase("training")
                except RunStopped:  # inside fit, Keras' own way out: no batch runs
                    self.model.stop_training = True
                log.start(epochs_total or self.params.get("epochs") or 0, self.params.get("steps") or 0)
                self.last_flush, self.first_epoch = time.monotonic(), True

            def on_epoch_begin(self, epoch, logs=None):
                if self.first_epoch:  # where this fit really starts (a restored checkpoint moves it)
                    log.starting_at(epoch)
                    self.first_epoch = False
                self.epoch, self.epoch_start = epoch, time.monotonic()

            def on_train_batch_end(self, batch, logs=None):
                if batch % every == 0:
                    log.batch(self.epoch, batch, logs)
                if time.monotonic() - self.last_flush >= flush_seconds or batch == 0:  # the first batch at once
                    log.position(self.epoch, batch + 1, time.monotonic() - self.epoch_start)
                    log.flush()
                    self.last_flush = time.monotonic()
                if log.stop_requested():
                    self.model.stop_training = True

            def on_epoch_end(self, epoch, logs=None):
                if log.cancelled:  # a cut-short epoch: its loss and speed would mislead
                    log.flush()
                    return
                steps = self.params.get("steps")
                images = steps * batch_size if steps and batch_size else None
                log.epoch_end(epoch, logs, time.monotonic() - self.epoch_start, images)
                self.last_flush = time.monotonic()

        return RunLogCallback()


def checkpoint_callback(backup_dir: Path, log: RunLog | None = None, min_seconds: float | None = None):
    """Keras ``BackupAndRestore`` that saves atomically, at most once per ``min_seconds``, and keeps
    its checkpoint when the run is cancelled (so Resume continues instead of starting over).

    On a 0.3 s digits epoch a checkpoint per epoch costs ~13% of throughput; on real epochs
    (many seconds) this still saves every epoch. ``CNNLAB_CHECKPOINT_SECONDS`` overrides the
    default of 5 s. A resumed run continues from the last *saved* epoch. Each file is written to a
    temporary name and renamed, so a worker killed mid-save leaves the previous checkpoint whole.
    """
    from lab.device import keras

    interval = settings.get("CNNLAB_CHECKPOINT_SECONDS") if min_seconds is None else float(min_seconds)

    class ThrottledBackup(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self.last_save = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            if log is not None and log.cancelled:
                return  # the epoch was cut short: the last whole epoch's checkpoint stands
            self._current_epoch, self._last_batch_seen = epoch + 1, 0
            if time.monotonic() - self.last_save >= interval:
                self._save_model()
                self.last_save = time.monotonic()

        def _save_model(self):
            os.makedirs(self.backup_dir, exist_ok=True)
            partial = self._weights_path.replace("latest.weights.h5", "partial.weights.h5")
            self.model.save_weights(partial, overwrite=True)
            os.replace(partial, self._weights_path)
            metadata = f"{self._training_metadata_path}.partial"
            with open(metadata, "w") as handle:
                handle.write(json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))
            os.replace(metadata, self._training_metadata_path)

        def on_train_end(self, logs=None):
            if log is None or not log.cancelled:  # finished (or stopped early): the checkpoint is spent
                super().on_train_end(logs)

    return ThrottledBackup(str(backup_dir))


def fit_arrays(model, log: RunLog, run_dir: Path, x, y, batch_size: int, epochs: int, **options) -> tuple:
    """``model.fit`` on arrays (10% of them validate) with the run's throttled checkpoint in
    ``run_dir/backup`` (a resumed run goes on from it) and its log; returns the history and the seconds."""
    callbacks = [checkpoint_callback(Path(run_dir) / "backup", log), log.keras_callback(batch_size)]
    start = time.perf_counter()
    history = model.fit(
        x, y, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0, callbacks=callbacks, **options
    )
    return history, time.perf_counter() - start


def epochs_run(history, model) -> int:
    """Epochs completed in all, across resumes (a resumed fit's history holds only its own epochs); a fit
    resumed past its last epoch trains none and ends where its checkpoint was."""
    return history.epoch[-1] + 1 if history.epoch else (model._initial_epoch or 0)


# ---------------------------------------------------------------------------------------------
# Reading: the live panel and comparisons
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """What the live panel shows, derived from the metric rows."""

    epochs_total: int
    epochs_done: int
    epoch: int  # the epoch in progress (0-based)
    batch: int  # batches done in it
    steps_per_epoch: int
    images_per_second: float | None  # of the last whole epoch, after warm-up; never of a cut-short one
    eta_seconds: float | None  # from throughput measured after warm-up; None: still estimating
    curves: dict[str, tuple[list[float], list[float]]]  # name -> (x in epochs, values); markers too
    phase: str | None = None  # the start-up phase until training starts (see PHASES)

    @property
    def fraction(self) -> float:
        if not self.epochs_total:
            return 0.0
        within = self.batch / self.steps_per_epoch if self.steps_per_epoch else 0.0
        return min(1.0, (self.epochs_done + (0 if self.epochs_done > self.epoch else within)) / self.epochs_total)


WARM_EVIDENCE_SECONDS = 0.5  # timed batches (after a fit's first) before an estimate is shown


@dataclass
class _Timing:
    """What the rows say about speed: per epoch its first and latest (batches, seconds) samples, whole
    epochs' durations and image counts, and which epochs began a fit (they include its tracing)."""

    first: dict[int, tuple[int, float]]
    latest: dict[int, tuple[int, float]]
    seconds: dict[int, float]
    images: dict[int, float]
    fit_starts: set[int]

    def warm_rate(self, epoch: int) -> float | None:
        """Seconds per batch inside ``epoch`` after its first timed batch (the one that traces), if
        at least :data:`WARM_EVIDENCE_SECONDS` of batches were timed after it."""
        if epoch not in self.first or epoch not in self.latest:
            return None
        (b0, s0), (b1, s1) = self.first[epoch], self.latest[epoch]
        return (s1 - s0) / (b1 - b0) if b1 > b0 and s1 - s0 >= WARM_EVIDENCE_SECONDS else None

    def epoch_estimate(self, steps: int) -> float | None:
        """Seconds a whole epoch takes: the latest one that did not begin a fit, else a warm rate."""
        warm = [epoch for epoch in self.seconds if epoch not in self.fit_starts]
        if warm:
            return self.seconds[max(warm)]
        rates = [rate for epoch in sorted(self.latest, reverse=True) if (rate := self.warm_rate(epoch))]
        return rates[0] * steps if rates and steps else None

    def speed(self, steps: int) -> float | None:
        """Images per second of the latest whole epoch, its tracing left out where it began a fit."""
        if not self.seconds:
            return None
        last = max(self.seconds)
        if last not in self.fit_starts:
            return self.images.get(last)
        rate, images = self.warm_rate(last), self.images.get(last)
        return images / (rate * steps) if rate and images and steps else None


def progress(rows: Iterable[Row]) -> Progress:
    """Epochs, batch position, speed, ETA, start-up phase and curves (x axis in epochs).

    Time left and speed come from measured throughput after warm-up: the first batch of a fit's
    first epoch traces the model (seconds, where a batch takes milliseconds), so it is left out; until
    :data:`WARM_EVIDENCE_SECONDS` of later batches are timed, ``eta_seconds`` is None ("estimating").

    Args:
        rows: The run's metric rows in the order they were written.
    """
    steps = total = epoch = batch = 0
    phase = None
    timing = _Timing({}, {}, {}, {}, set())
    curves: dict[str, tuple[list[float], list[float]]] = {}
    done: set[int] = set()
    for row_epoch, step, name, value in rows:
        if step == RUN_FACT:
            if name == STEPS_PER_EPOCH:
                steps = int(value)
            elif name == EPOCHS_TOTAL:
                total = int(value)
            elif name.startswith(PHASE_PREFIX):
                phase = name[len(PHASE_PREFIX) :]
            elif name == RESTARTED:
                timing.fit_starts.add(int(value))
            elif value not in (marker := curves.setdefault(MARKER_PREFIX + name, ([], [])))[0]:
                marker[0].append(value)  # a resumed run notes its events again
            continue
        if name == PROGRESS:
            epoch, batch = row_epoch, int(value)
            continue
        if name == PROGRESS_SECONDS:
            timing.first.setdefault(row_epoch, (batch, value))
            timing.latest[row_epoch] = (batch, value)
            continue
        if step == EPOCH_END:
            x = row_epoch + 1
            done.add(row_epoch)
            if name == "seconds":
                timing.seconds[row_epoch] = value
            elif name == "images_per_second":
                timing.images[row_epoch] = value * timing.seconds.get(row_epoch, 0.0)
        else:
            x = row_epoch + (step + 1) / max(steps, 1)
        xs, ys = curves.setdefault(name, ([], []))
        xs.append(x)
        ys.append(value)
    if not timing.fit_starts:
        timing.fit_starts.add(0)  # rows written before fits said where they began
    epochs_done = len(done)
    if epochs_done and epochs_done > epoch:
        epoch, batch = epochs_done, 0
    eta = _time_left(timing, steps, total, epochs_done, epoch, batch)
    return Progress(total, epochs_done, epoch, batch, steps, timing.speed(steps), eta, curves, phase)


def _time_left(timing: _Timing, steps: int, total: int, done: int, epoch: int, batch: int) -> float | None:
    """Seconds left: the current epoch's remaining batches at its warm rate, then whole epochs."""
    if not (total and steps):
        return None
    if done >= total:
        return 0.0
    per_epoch = timing.epoch_estimate(steps)
    in_epoch = batch if epoch >= done else 0
    rate = (timing.warm_rate(epoch) if in_epoch else None) or (per_epoch / steps if per_epoch else None)
    if rate is None:
        return None  # estimating: nothing timed after warm-up yet
    per_epoch = per_epoch or rate * steps
    if in_epoch:
        return max(0.0, (steps - in_epoch) * rate + (total - done - 1) * per_epoch)
    return (total - done) * per_epoch


def history_csv(rows: Iterable[Row]) -> str:
    """One line per epoch with every epoch-level metric (complete across resumes)."""
    table: dict[int, dict[str, float]] = {}
    for epoch, step, name, value in rows:
        if step == EPOCH_END:
            table.setdefault(epoch, {})[name] = value
    names = sorted({name for row in table.values() for name in row})
    lines = [",".join(["epoch", *names])]
    lines += [",".join([str(epoch), *(repr(table[epoch].get(name, "")) for name in names)]) for epoch in sorted(table)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Artifacts
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunLabels:
    """``labels.json``: what a trained model needs beside its weights to be used."""

    class_names: list[str]
    input_shape: list[int]  # (height, width, channels)
    dataset: str
    model: str  # what the run list shows, e.g. "small_cnn" or "Xception fine-tuned"
    preprocessing: str = UNIT_PIXELS  # or IMAGENET_PIXELS
    base_model: str | None = None  # keras.applications name, for IMAGENET_PIXELS


@dataclass(frozen=True)
class Predictions:
    """``predictions.npz``: the test set as the finished model saw it."""

    probabilities: np.ndarray  # (N, classes)
    labels: np.ndarray  # (N,) true class indices
    thumbnails: np.ndarray | None = None  # (N, h, w, 3) uint8 when the run kept no dataset to reload


def save_artifacts(run_dir: Path, model, labels: RunLabels, predictions: Predictions) -> None:
    """Write the model, its labels and the test-set predictions of a finished run."""
    run_dir = Path(run_dir)
    model.save(run_dir / MODEL_FILE)
    arrays = {"probabilities": predictions.probabilities, "labels": predictions.labels}
    if predictions.thumbnails is not None:
        arrays["thumbnails"] = predictions.thumbnails
    np.savez_compressed(run_dir / PREDICTIONS_FILE, **arrays)
    (run_dir / LABELS_FILE).write_text(json.dumps(asdict(labels)))


def has_model(run_dir: Path) -> bool:
    return (Path(run_dir) / MODEL_FILE).exists() and (Path(run_dir) / LABELS_FILE).exists()


def read_labels(run_dir: Path) -> RunLabels:
    path = Path(run_dir) / LABELS_FILE
    if not path.exists():
        raise InputError("This run saved no trained model.")
    return RunLabels(**json.loads(path.read_text()))


def load_predictions(run_dir: Path) -> Predictions:
    path = Path(run_dir) / PREDICTIONS_FILE
    if not path.exists():
        raise InputError("This run saved no test-set predictions.")
    with np.load(path) as saved:
        return Predictions(saved["probabilities"], saved["labels"], saved.get("thumbnails"))


def load_model(run_dir: Path):
    """A finished run's Keras model (safe mode, not compiled)."""
    import models  # noqa: F401  registers the lab's custom layers (ResidualUnit) for loading
    from lab.device import keras

    if not has_model(run_dir):
        raise InputError("This run saved no trained model.")
    return keras.saving.load_model(Path(run_dir) / MODEL_FILE, safe_mode=True, compile=False)


def write_history(rows: Sequence[Row], run_dir: Path) -> Path:
    path = Path(run_dir) / HISTORY_FILE
    path.write_text(history_csv(rows))
    return path
