"""Warm workers placed by Ray, for runs past one machine (``CNNLAB_RAY_ADDRESS``).

Each worker is a named, detached Ray actor with a resource request (one CPU; on a cluster with GPUs
``1 / CNNLAB_RUNS_PER_GPU`` of one, so Ray packs small runs on a GPU and sets
``CUDA_VISIBLE_DEVICES``). Inside it runs the same loop as a local warm worker
(:func:`lab.worker.serve`): it claims queued runs from the registry, which must then be one that
every node reaches (PostgreSQL, ``CNNLAB_DATABASE_URL``), and writes artifacts under
``CNNLAB_HOME``, a directory every node mounts. Ray decides where the workers live and restarts one
that dies (``max_restarts=-1``: a killed worker's run is interrupted, resumable, and a fresh worker
takes the queue); the registry keeps statuses, cancel, resume and live curves exactly as on one
machine. Detached actors outlive the web process that created them, so a restart loses no run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time

from lab import capacity, database, jobs, settings, supervision

ENSURE_EVERY_SECONDS = 5.0  # how often one process asks Ray whether every worker actor exists
_STATE = {"ensured": 0.0, "slots": None, "slots_at": 0.0, "actor": None}
PASSED_ON = ("CNNLAB_", "KERAS_", "TF_", "TFDS_")  # environment the workers need, copied to Ray's


def _ray():
    import ray

    if not ray.is_initialized():
        ray.init(
            address=settings.get("CNNLAB_RAY_ADDRESS"),
            namespace="cnnlab",
            log_to_driver=False,
            logging_level="ERROR",
            configure_logging=False,
        )
    return ray


def slots() -> int:
    """Workers on the cluster: ``CNNLAB_MAX_RUNS``, else the cluster's CPUs (asked every 30 s)."""
    value = settings.get("CNNLAB_MAX_RUNS")
    if value:
        return max(1, value)
    if _STATE["slots"] is None or time.monotonic() - _STATE["slots_at"] > 30:
        _STATE["slots"] = max(1, int(_ray().cluster_resources().get("CPU", 1)))
        _STATE["slots_at"] = time.monotonic()
    return _STATE["slots"]


def _names() -> list[str]:
    """The actors' names: one set per registry and workspace, so two labs on one cluster never mix."""
    key = f"{database.url() or ''}|{jobs.home()}".encode()
    prefix = hashlib.sha256(key).hexdigest()[:12]
    return [f"cnnlab-worker-{prefix}-{index}" for index in range(slots())]


def _environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name.startswith(PASSED_ON)}
    pythonpath = os.pathsep.join(filter(None, [str(jobs.ROOT), os.environ.get("PYTHONPATH", "")]))
    count = str(slots())
    return {**env, "CNNLAB_HOME": str(jobs.home()), "CNNLAB_WARM_WORKERS": count, "PYTHONPATH": pythonpath}


class Worker:
    """A Ray actor that runs a warm worker's loop in a thread from the moment it exists (and again
    each time Ray restarts it): no task of a driver that may exit, such as a web process, keeps it."""

    def __init__(self) -> None:
        threading.Thread(target=self._loop, name="cnnlab-worker", daemon=True).start()

    def _loop(self) -> None:
        from lab import worker

        capacity.use(RayPlacement())  # this worker counts the cluster's slots, as the web process does
        with contextlib.suppress(Exception):
            worker.serve()
        with contextlib.suppress(Exception):
            supervision.worker_left(os.getpid())
        import ray

        # It left on purpose (its workspace is gone, or it ran its share of runs): not a crash to restart.
        ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

    def pid(self) -> int:
        return os.getpid()


def _actor_class():
    if _STATE["actor"] is None:
        _STATE["actor"] = _ray().remote(Worker)
    return _STATE["actor"]


def _gpu_share() -> float:
    gpus = _ray().cluster_resources().get("GPU", 0)
    return 1.0 / capacity.runs_per_gpu() if gpus else 0.0


def ensure_workers(force: bool = False) -> list[str]:
    """Create the worker actors that do not exist (at most every few seconds per process); returns
    the names created."""
    if not force and time.monotonic() - _STATE["ensured"] < ENSURE_EVERY_SECONDS:
        return []
    ray = _ray()
    created = []
    for name in _names():
        try:
            ray.get_actor(name)
            continue
        except ValueError:
            pass
        options = dict(name=name, lifetime="detached", num_cpus=1, num_gpus=_gpu_share())
        options.update(max_restarts=-1, runtime_env={"env_vars": _environment()})
        with contextlib.suppress(ValueError):  # another process created it a moment ago
            _actor_class().options(**options).remote()  # a named actor is registered before this returns
            created.append(name)
    _STATE["ensured"] = time.monotonic()
    return created


def stop_workers() -> None:
    """Kill the worker actors (their runs are interrupted, resumable) and let them not restart."""
    ray = _ray()
    for name in _names():
        with contextlib.suppress(ValueError):
            ray.kill(ray.get_actor(name), no_restart=True)
    _STATE["ensured"] = 0.0


class RayPlacement:
    """The workers' placement on a Ray cluster, handed to :mod:`lab.capacity` by :func:`lab.placement.install`."""

    def slots(self) -> int:
        return slots()

    def start_workers(self) -> list[str]:
        return ensure_workers()

    def stop_workers(self) -> None:
        stop_workers()
