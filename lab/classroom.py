"""The instructor's view of a room: every run with its learner, and the class table of results.

Learners are the owner tokens of :mod:`lab.jobs` (an HMAC of a browser's cookie): shown as a short
tag, the same on the learner's own Train page, so "learner 3f2a9c" can say which row is theirs
without the lab knowing anyone's name. The class table answers the workshop's exercise ("who gets
the best digits model under 20,000 parameters?"): each learner's best finished run on a dataset
under a parameter budget, by best validation accuracy, with the settings that got there.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.errors import InputError, describe_value

SETTINGS = ("model", "stack", "epochs", "batch_size", "learning_rate", "optimizer", "augmentation", "image_size")
MAX_BUDGET = 10**9


def learner_tag(owner: str | None) -> str:
    """A short, stable name for a learner (the first characters of their owner token)."""
    return f"learner {owner[:6]}" if owner else "command line"


@dataclass(frozen=True)
class Exercise:
    """The class table's question: which runs count."""

    dataset: str = "digits"  # runs on this dataset only
    max_parameters: int | None = 20_000  # the budget; None: any size
    kind: str = "train"  # fine-tuning runs are another exercise

    def __post_init__(self) -> None:
        if self.max_parameters is not None and (
            isinstance(self.max_parameters, bool)
            or not isinstance(self.max_parameters, int)
            or not 1 <= self.max_parameters <= MAX_BUDGET
        ):
            raise InputError(
                f"The parameter budget must be a whole number from 1 to {MAX_BUDGET:,}; "
                f"got {describe_value(self.max_parameters)}."
            )


def room_rows(runs, best_accuracy: dict[str, float], epochs_done: dict[str, int] | None = None) -> list[dict]:
    """One row per run, newest first: who, what, how far (epochs done of planned), how good."""
    epochs_done = epochs_done or {}
    rows = []
    for run in runs:
        planned = run.config.get("epochs") or (run.config.get("head_epochs", 0) + run.config.get("finetune_epochs", 0))
        rows.append(
            {
                "run": run.id,
                "learner": learner_tag(run.owner),
                "kind": run.kind,
                "status": run.status,
                "dataset": run.config.get("dataset") or run.config.get("source"),
                "model": run.config.get("model") or run.config.get("base_model") or run.config.get("task"),
                "progress": f"{epochs_done.get(run.id, 0)}/{planned} epochs" if planned else "–",
                "best val accuracy": best_accuracy.get(run.id),
                "test accuracy": (run.result or {}).get("test_accuracy"),
            }
        )
    return rows


def left_out(runs, best_accuracy: dict[str, float], exercise: Exercise) -> str | None:
    """Why finished runs on the exercise's dataset are not in the class table (over the budget, or
    no parameter count), in one sentence; None when none was left out."""
    finished = [
        run
        for run in runs
        if run.kind == exercise.kind
        and run.status == "succeeded"
        and run.id in best_accuracy
        and run.config.get("dataset") == exercise.dataset
    ]
    if exercise.max_parameters is None or not finished:
        return None
    counts = [(run.result or {}).get("parameters") for run in finished]
    over = sorted(count for count in counts if count is not None and count > exercise.max_parameters)
    unknown = sum(count is None for count in counts)
    parts = []
    if over:
        parts.append(
            f"{len(over)} finished {exercise.dataset} run(s) are over the {exercise.max_parameters:,}-parameter "
            f"budget (the smallest has {over[0]:,} parameters): a smaller custom stack, built in the padding "
            "page's planner, fits"
        )
    if unknown:
        parts.append(f"{unknown} run(s) recorded no parameter count and are not ranked")
    return "; ".join(parts) + "." if parts else None


def class_table(runs, best_accuracy: dict[str, float], exercise: Exercise) -> list[dict]:
    """Each learner's best succeeded run that fits ``exercise``, best first (ties: fewer
    parameters, then the earlier run). A run without a recorded parameter count does not count
    under a budget: the table never guesses."""
    best: dict[str | None, dict] = {}
    for run in runs:
        result = run.result or {}
        parameters = result.get("parameters")
        accuracy = best_accuracy.get(run.id)
        if run.kind != exercise.kind or run.status != "succeeded" or accuracy is None:
            continue
        if run.config.get("dataset") != exercise.dataset:
            continue
        if exercise.max_parameters is not None and (parameters is None or parameters > exercise.max_parameters):
            continue
        row = {
            "learner": learner_tag(run.owner),
            "best val accuracy": round(float(accuracy), 4),
            "test accuracy": result.get("test_accuracy"),
            "parameters": parameters,
            "run": run.id,
            **{name: run.config.get(name) for name in SETTINGS if run.config.get(name) not in (None, "")},
        }
        key = _rank(row, run.created)
        if run.owner not in best or key < best[run.owner]["_rank"]:
            best[run.owner] = {**row, "_rank": key}
    ordered = sorted(best.values(), key=lambda row: row["_rank"])
    return [{"place": place, **{k: v for k, v in row.items() if k != "_rank"}} for place, row in enumerate(ordered, 1)]


def _rank(row: dict, created: float) -> tuple:
    return (-row["best val accuracy"], row["parameters"] if row["parameters"] is not None else 10**12, created)
