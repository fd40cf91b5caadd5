"""lab.runlog: the metric-row protocol read back by progress(), the history CSV, and the artifacts."""

from __future__ import annotations

import numpy as np
import pytest

from lab import runlog
from lab.errors import InputError
from lab.runlog import EPOCH_END, EPOCHS_TOTAL, PROGRESS, RUN_FACT, STEPS_PER_EPOCH


def start(epochs: int = 4, steps: int = 10) -> list:
    return [(0, RUN_FACT, STEPS_PER_EPOCH, float(steps)), (0, RUN_FACT, EPOCHS_TOTAL, float(epochs))]


def epoch(index: int, loss: float, seconds: float = 2.0, speed: float = 500.0) -> list:
    return [
        (index, EPOCH_END, "loss", loss),
        (index, EPOCH_END, "val_accuracy", 1 - loss),
        (index, EPOCH_END, "seconds", seconds),
        (index, EPOCH_END, "images_per_second", speed),
    ]


def test_nothing_written_yet_is_an_empty_progress():
    state = runlog.progress([])
    assert (state.epochs_total, state.epochs_done, state.epoch, state.batch) == (0, 0, 0, 0)
    assert state.eta_seconds is None and state.images_per_second is None and state.fraction == 0.0
    assert state.curves == {}


def test_batches_inside_the_first_epoch():
    rows = [*start(), (0, 0, "batch_loss", 2.0), (0, 4, PROGRESS, 5.0)]
    state = runlog.progress(rows)
    assert (state.epochs_total, state.steps_per_epoch, state.epoch, state.batch) == (4, 10, 0, 5)
    assert state.fraction == pytest.approx(5 / 10 / 4)
    assert state.curves["batch_loss"] == ([0.1], [2.0])  # x in epochs: batch 0 ends at 1/10
    assert state.eta_seconds is None  # no finished epoch to time yet


def test_finished_epochs_give_curves_speed_and_eta():
    rows = [*start(), *epoch(0, 0.9, seconds=3.0, speed=400), *epoch(1, 0.5, seconds=1.0, speed=600)]
    rows.append((2, 4, PROGRESS, 5.0))
    state = runlog.progress(rows)
    assert state.epochs_done == 2 and (state.epoch, state.batch) == (2, 5)
    assert state.curves["loss"] == ([1, 2], [0.9, 0.5])
    assert state.images_per_second == 600  # the latest epoch's
    assert state.eta_seconds == pytest.approx((2 * 10 - 5) * 1.0 / 10)  # the latest epoch: 0.1 s per batch
    assert state.fraction == pytest.approx(2.5 / 4)


def test_a_finished_epoch_moves_past_a_stale_batch_position():
    rows = [*start(epochs=2), (0, 9, PROGRESS, 10.0), *epoch(0, 0.7)]
    state = runlog.progress(rows)
    assert (state.epoch, state.batch) == (1, 0)


def test_markers_are_events_on_the_epoch_axis():
    rows = [*start(), *epoch(0, 0.9), (1, RUN_FACT, "unfreeze_epoch", 1.0)]
    state = runlog.progress(rows)
    assert state.curves[runlog.MARKER_PREFIX + "unfreeze_epoch"][0] == [1.0]
    assert "unfreeze_epoch" not in state.curves


def test_a_resumed_run_reads_as_one_run():
    """After a resume the registry holds epochs 0-1, then a second start, then epochs 2-3."""
    rows = [*start(), *epoch(0, 0.9), *epoch(1, 0.7), *start(), *epoch(2, 0.5), *epoch(3, 0.4)]
    state = runlog.progress(rows)
    assert state.epochs_done == 4 and state.fraction == 1.0
    assert state.curves["loss"][0] == [1, 2, 3, 4]
    assert state.eta_seconds == 0.0


def test_history_csv_has_one_line_per_epoch():
    rows = [*start(), (0, 3, "batch_loss", 1.0), *epoch(0, 0.9), *epoch(1, 0.5)]
    lines = runlog.history_csv(rows).splitlines()
    assert lines[0] == "epoch,images_per_second,loss,seconds,val_accuracy"
    assert lines[1].startswith("0,500.0,0.9,") and len(lines) == 3


def test_the_log_writes_the_protocol_and_honours_a_stop():
    written: list = []
    asked = iter([False, True])
    log = runlog.RunLog(written.extend, lambda: next(asked))
    log.start(epochs_total=3, steps_per_epoch=7)
    log.batch(0, 0, {"loss": 1.5})
    log.position(0, 4)
    log.epoch_end(0, {"loss": 1.2}, seconds=2.0, images=100)
    log.note(1, "unfreeze_epoch", 1)
    log.flush()
    state = runlog.progress(written)
    assert state.epochs_total == 3 and state.steps_per_epoch == 7 and state.epochs_done == 1
    assert state.curves["batch_loss"][1] == [1.5]
    assert state.images_per_second is None  # the fit's first epoch traced the model: not a speed to show
    log.epoch_end(1, {"loss": 1.0}, seconds=1.0, images=100)
    assert runlog.progress(written).images_per_second == 100.0
    assert runlog.MARKER_PREFIX + "unfreeze_epoch" in state.curves
    log._last_check = -1.0  # both checks due now
    assert not log.stop_requested()
    log._last_check = -1.0
    assert log.stop_requested() and log.cancelled


def test_artifacts_round_trip(tmp_path):
    class FakeModel:
        def save(self, path):
            path.write_bytes(b"keras")

    labels = runlog.RunLabels(["a", "b"], [8, 8, 1], "digits", "small_cnn")
    predictions = runlog.Predictions(np.eye(2, dtype=np.float32), np.array([0, 1]))
    runlog.save_artifacts(tmp_path, FakeModel(), labels, predictions)
    assert runlog.has_model(tmp_path) and runlog.read_labels(tmp_path) == labels
    loaded = runlog.load_predictions(tmp_path)
    np.testing.assert_array_equal(loaded.probabilities, predictions.probabilities)
    assert loaded.thumbnails is None


def test_a_run_without_artifacts_is_a_message(tmp_path):
    with pytest.raises(InputError, match="no trained model"):
        runlog.read_labels(tmp_path)
    with pytest.raises(InputError, match="no test-set predictions"):
        runlog.load_predictions(tmp_path)


def test_eta_is_timed_from_the_first_batches_and_the_start_up_phase_is_shown():
    rows = [(0, RUN_FACT, runlog.PHASE_PREFIX + "importing TensorFlow", 0.1)]
    assert runlog.progress(rows).phase == "importing TensorFlow"
    rows += [(0, RUN_FACT, runlog.PHASE_PREFIX + "training", 9.0), *start(epochs=3, steps=10)]
    rows += [(0, 0, "batch_loss", 2.3), (0, 0, PROGRESS, 1.0), (0, 0, runlog.PROGRESS_SECONDS, 5.0)]
    state = runlog.progress(rows)
    assert state.phase == "training" and state.curves["batch_loss"] == ([0.1], [2.3])  # a curve from batch one
    assert state.eta_seconds is None  # the first batch traced the model (5 s): not a rate, still estimating
    rows += [(0, 3, PROGRESS, 4.0), (0, 3, runlog.PROGRESS_SECONDS, 5.6)]  # then 0.2 s a batch, warm
    state = runlog.progress(rows)
    assert state.eta_seconds == pytest.approx((10 - 4) * 0.2 + 2 * 10 * 0.2)
    assert state.images_per_second is None  # no whole epoch yet: no speed


def test_the_estimate_leaves_out_each_fits_tracing_and_does_not_jump():
    """A first run: 11 s of tracing in epoch 0 read as "11.9 min left" for a run done 8 s later."""
    rows = [*start(epochs=10, steps=100), (0, RUN_FACT, runlog.RESTARTED, 0.0)]
    estimates = []
    for batch, seconds in ((1, 11.0), (20, 11.19), (60, 11.6), (100, 12.0)):
        rows += [(0, batch - 1, PROGRESS, float(batch)), (0, batch - 1, runlog.PROGRESS_SECONDS, seconds)]
        estimates.append(runlog.progress(rows).eta_seconds)
    assert estimates[0] is None  # the traced batch alone: estimating
    assert estimates[2] == pytest.approx(40 * 0.01 + 9 * 1.0, rel=0.02)  # ~9.4 s, from warm batches only
    rows += epoch(0, 0.5, seconds=12.2, speed=100 * 32 / 12.2)
    after_first = runlog.progress(rows)
    assert after_first.eta_seconds == pytest.approx(9 * 100 * 0.01, rel=0.02)  # not 9 x 12.2 s
    assert after_first.images_per_second == pytest.approx(32 / 0.01, rel=0.02)  # not 262 images/s


def test_a_cancelled_epoch_reports_no_speed():
    """The Keras callback writes nothing for an epoch cut short by a cancel (it once said 44,963 images/s)."""
    written: list = []
    log = runlog.RunLog(written.extend, lambda: True)
    callback = log.keras_callback(batch_size=32)
    callback.params = {"epochs": 5, "steps": 36}

    from lab.device import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    log._last_check = -1.0
    callback.on_train_batch_end(0, {"loss": 2.0})
    assert log.cancelled and model.stop_training
    callback.on_epoch_end(0, {"loss": 2.0})
    assert not [row for row in written if row[1] == EPOCH_END]
