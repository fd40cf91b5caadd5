"""How many runs the machines take at once: GPUs and their memory, CPU slots, and the workers' placement.

The placement (:class:`lab.supervision.LocalProcesses`, or :class:`lab.ray_pool.RayPlacement` on a Ray
cluster) is chosen once by the process's entry (:func:`lab.placement.install`) and handed here as an
object: what needs its slots or its workers asks :func:`placement`, never a module by name.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess

from lab import settings

_HANDED = {"placement": None}  # the placement handed by the process's entry


def use(placement) -> None:
    """Hand the workers' placement to this process: an object with ``slots()``, ``start_workers()``
    and ``stop_workers()`` (None: take it back, the local default again)."""
    _HANDED["placement"] = placement


def placement():
    """The placement handed to this process, or None (the local default is the supervisor's)."""
    return _HANDED["placement"]


@functools.cache
def gpu_count() -> int:
    """The GPUs ``nvidia-smi -L`` lists (0 without a working driver); asked once per process."""
    if not shutil.which("nvidia-smi"):
        return 0
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5).stdout
        return sum(1 for line in listing.splitlines() if line.startswith("GPU"))
    return 0


@functools.cache
def gpu_memory() -> tuple[float, ...]:
    """Each GPU's memory in bytes (``nvidia-smi``), in index order; empty without a working driver."""
    if not shutil.which("nvidia-smi"):
        return ()
    query = ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"]
    with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError):
        listing = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout
        return tuple(float(line) * 2**20 for line in listing.split())  # MiB
    return ()


def gpu_budget(gpu: str) -> float | None:
    """Bytes the runs packed on ``gpu`` may need together: ``CNNLAB_GPU_MEMORY_FRACTION`` (0.9) of
    its memory, the rest left to the driver and to what the figures miss; None when unknown."""
    totals = gpu_memory()
    with contextlib.suppress(ValueError, IndexError):
        return totals[int(gpu)] * min(1.0, max(0.05, settings.get("CNNLAB_GPU_MEMORY_FRACTION")))
    return None


def run_memory(memory: float | None, budget: float) -> float:
    """A run's figure; a run whose kind gave none takes one slot's share of its GPU."""
    return memory if memory else budget / runs_per_gpu()


def runs_per_gpu() -> int:
    """``CNNLAB_RUNS_PER_GPU``: small runs packed on one GPU (memory growth on); default 1."""
    return max(1, settings.get("CNNLAB_RUNS_PER_GPU"))


WORKER_MEMORY_BYTES = 1.5 * 2**30  # a worker with TensorFlow and a dataset, training a small CNN


def _available_memory() -> float:
    with contextlib.suppress(OSError, StopIteration, ValueError), open("/proc/meminfo") as handle:
        return int(next(line for line in handle if line.startswith("MemAvailable:")).split()[1]) * 1024.0
    return WORKER_MEMORY_BYTES


def max_runs() -> int:
    """Runs trained at once: ``CNNLAB_MAX_RUNS``; else GPUs x :func:`runs_per_gpu`; else, on a CPU,
    one per core while memory allows (1.5 GB each), at most 8. Measured on 2 cores: 6 digits runs
    took 28 s one at a time and 17 s two at a time (each worker with one thread per core it has)."""
    value = settings.get("CNNLAB_MAX_RUNS")
    if value:
        return max(1, value)
    if (handed := placement()) is not None and (slots := handed.slots()) is not None:  # a cluster's CPUs
        return slots
    if gpu_count():
        return gpu_count() * runs_per_gpu()
    return cpu_slots()


@functools.cache
def cpu_slots() -> int:
    """Decided once per process: every idle worker asks :func:`max_runs` twice a second, and the
    memory that is free changes as workers load, so asking again would give the room a moving limit."""
    by_memory = int(_available_memory() // WORKER_MEMORY_BYTES)
    return max(1, min(os.cpu_count() or 1, by_memory, 8))


GPU_REPLACE_BYTES = 2 * 2**30
