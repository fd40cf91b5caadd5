"""A toy third run kind for the worker test: pure Python, no Keras, registered through
``CNNLAB_RUN_KINDS`` so the worker process finds it without any edit to lab/worker.py."""

from __future__ import annotations

import errno
import json
import time
from dataclasses import dataclass
from pathlib import Path

from lab import runlog
from lab.config import Config, whole


@dataclass(frozen=True)
class CountConfig(Config):
    """Count to ``epochs``, one "epoch" per step."""

    what = "counting"
    epochs: int = 3
    pause: float = 0.0  # seconds per epoch, so a test can cancel it midway
    build: float = 0.0  # seconds of a first step that checks nothing (a model build, the first trace)
    export: float = 0.0  # seconds of a last step that checks nothing (the TFLite export)
    disk_full: bool = False  # the last step's write fails as on a full disk

    def check(self) -> None:
        whole("epochs", self.epochs, 1, 1000)


def run(config: CountConfig, run_dir: Path, log: runlog.RunLog) -> dict | None:
    log.phase("building the model")
    time.sleep(config.build)
    log.phase("compiling")  # a stop asked during the build is honoured here
    log.start(epochs_total=config.epochs, steps_per_epoch=1)
    for epoch in range(config.epochs):
        time.sleep(config.pause)
        if log.stop_requested():
            return None
        log.epoch_end(epoch, {"loss": 1.0 / (epoch + 1)}, seconds=config.pause)
    time.sleep(config.export)
    if config.disk_full:
        raise OSError(errno.ENOSPC, "No space left on device")
    (Path(run_dir) / "count.json").write_text(json.dumps({"counted": config.epochs}))
    return {"counted": config.epochs}


KIND = {"count": ["tests.toykind:CountConfig", "tests.toykind:run"]}
