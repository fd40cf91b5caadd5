"""The one place TensorFlow is imported and configured.

Every lab module that needs TensorFlow imports it from here (``from lab.device import tf``), so
GPU memory growth is switched on before anything touches a GPU: TensorFlow otherwise maps nearly
all GPU memory at start, which starves every other session and worker on a shared server.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep C++ info logs out of the app's console

from lab import scratch

SCRATCH = scratch.make()  # before TensorFlow: it, autograph and tensorflow-datasets write there

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["DeviceInfo", "GpuInfo", "configure", "describe", "enable_mixed_precision", "keras", "tf"]


@dataclass(frozen=True)
class GpuInfo:
    """One visible GPU."""

    name: str  # e.g. "NVIDIA H100 80GB HBM3"
    memory_mb: int | None  # total memory from nvidia-smi, None when it cannot be read
    memory_growth: bool  # True when TF allocates on demand instead of mapping it all
    compute_capability: str | None = None


@dataclass(frozen=True)
class DeviceInfo:
    """What the home page shows about the compute device."""

    tensorflow_version: str
    keras_version: str
    python_version: str
    cpu_count: int
    gpus: list[GpuInfo] = field(default_factory=list)
    mixed_precision: str = "float32"  # the global Keras dtype policy


def configure() -> list:
    """Turn on memory growth for every GPU. Idempotent; returns the GPU devices."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # RuntimeError: the GPU was already initialised by an earlier call, growth already set.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    return gpus


def enable_mixed_precision(enabled: bool = True) -> bool:
    """Use the ``mixed_float16`` policy on a GPU; a no-op returning False on the CPU."""
    use = bool(enabled and tf.config.list_physical_devices("GPU"))
    keras.mixed_precision.set_global_policy("mixed_float16" if use else "float32")
    return use


def _nvidia_memory_mb() -> list[int]:
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [int(float(line)) for line in out.split() if line.strip()]


def describe() -> DeviceInfo:
    """TensorFlow and Keras versions, GPUs (name, memory, growth) and the CPU count."""
    memories = _nvidia_memory_mb()
    gpus = []
    for index, gpu in enumerate(configure()):
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability")
        gpus.append(
            GpuInfo(
                name=details.get("device_name", gpu.name),
                memory_mb=memories[index] if index < len(memories) else None,
                memory_growth=bool(tf.config.experimental.get_memory_growth(gpu)),
                compute_capability=".".join(map(str, capability)) if capability else None,
            )
        )
    return DeviceInfo(
        tensorflow_version=tf.__version__,
        keras_version=keras.__version__,
        python_version=platform.python_version(),
        cpu_count=os.cpu_count() or 1,
        gpus=gpus,
        mixed_precision=keras.mixed_precision.global_policy().name,
    )


configure()
