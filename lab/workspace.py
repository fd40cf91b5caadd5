"""The workspace: the folder under which the registry's database, the runs and the uploads live."""

from __future__ import annotations

from pathlib import Path

from lab import settings

ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """The workspace: ``CNNLAB_HOME`` or ``./workspace`` (read on every call, for tests)."""
    return Path(settings.get("CNNLAB_HOME") or ROOT / "workspace").resolve()


def run_dir(run_id: str) -> Path:
    """Where a run's checkpoints, logs and artifacts are kept."""
    return home() / "runs" / run_id
