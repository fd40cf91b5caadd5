"""The digit canvases' settings (:mod:`recipes.canvases`), shared by the run kinds that train on them:
Detect (:mod:`lab.detect`) and Segment (:mod:`lab.segment`). Each checks them once, here."""

from __future__ import annotations

from dataclasses import dataclass

from lab.config import Config, number, whole
from lab.errors import InputError

MAX_CANVAS_PIXELS = 20_000 * 64 * 64  # canvases held in memory at once (about 330 MB as float32)


@dataclass(frozen=True)
class CanvasConfig(Config):
    """Where the digits go: a run kind's settings add their own fields after these."""

    seed: int = 0  # the same seed gives the same canvases, weights and batches
    canvas_size: int = 64  # pixels per side
    min_objects: int = 1  # digits per canvas
    max_objects: int = 4
    min_digit: int = 12  # a digit's side in pixels, drawn uniformly in [min_digit, max_digit]
    max_digit: int = 24
    noise: float = 0.05  # the standard deviation of the background's Gaussian noise
    clutter: int = 0  # pieces of digits strewn on each canvas: ink that is not an object
    train_canvases: int = 4000  # canvases to train on (10% of them validate)
    test_canvases: int = 500  # canvases the numbers are measured on (digits never seen in training)

    def check(self) -> None:
        whole("seed", self.seed, 0, 2**31 - 1)
        whole("canvas size", self.canvas_size, 32, 128)
        whole("least number of digits", self.min_objects, 1, 8)
        whole("largest number of digits", self.max_objects, self.min_objects, 8)
        whole("smallest digit size", self.min_digit, 8, self.canvas_size // 2)
        whole("largest digit size", self.max_digit, self.min_digit, self.canvas_size // 2)
        number("noise", self.noise, 0.0, 0.5)
        whole("clutter", self.clutter, 0, 20)
        whole("number of training canvases", self.train_canvases, 100, 20_000)
        whole("number of test canvases", self.test_canvases, 10, 2_000)
        if self.train_canvases * self.canvas_size**2 > MAX_CANVAS_PIXELS:
            raise InputError(
                f"{self.train_canvases:,} canvases of {self.canvas_size} px are more than a run holds "
                f"({MAX_CANVAS_PIXELS:,} pixels): fewer canvases, or smaller ones."
            )

    def canvas_shape(self) -> tuple:
        """The canvases' arguments after count and seed (:func:`recipes.canvases.canvases`)."""
        values = (self.canvas_size, self.min_objects, self.max_objects, self.min_digit, self.max_digit)
        return (*values, self.noise, self.clutter)

    def memory_bytes(self) -> int:
        return self.train_canvases * self.canvas_size**2 * 4 * 3  # the canvases, their batches, the model's
