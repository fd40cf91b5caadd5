"""Instructor: every run in the room with its learner, cancel any, the per-learner limit, the class table."""

import pandas as pd
import streamlit as st

from app_pages._identity import instructor
from app_pages._widgets import bound, friendly_errors
from lab import capacity, classroom, datasets, jobs, supervision

st.title("Instructor")
st.markdown(
    "The room at a glance: every training and fine-tuning run with the learner who started it, the "
    "warm workers, and the **class table** for the workshop's exercise (each learner's best run on a "
    "dataset under a parameter budget)."
)
if not instructor():
    st.info(
        "This page is for the workshop's instructor: open it with `?instructor=<token>`, the token the "
        "server was started with (`CNNLAB_INSTRUCTOR_TOKEN`).",
        icon=":material/lock:",
    )
    st.stop()


@st.fragment(run_every=5)
def room() -> None:
    runs = jobs.list_runs(limit=500)
    best = jobs.best_metric("val_accuracy", [run.id for run in runs])
    active = [run for run in runs if run.active]
    cols = st.columns(4)
    cols[0].metric("Runs", len(runs))
    cols[1].metric("Training", sum(run.status in ("starting", "running") for run in runs))
    cols[2].metric("Queued", sum(run.status == "queued" for run in runs))
    cols[3].metric("Workers", len(supervision.workers()), help=f"{capacity.max_runs()} slot(s)")
    table = pd.DataFrame(classroom.room_rows(runs, best, jobs.epochs_done([run.id for run in runs])))
    if table.empty:
        st.caption("No runs yet.")
        return
    st.dataframe(table, hide_index=True, width="stretch")
    labels = {run.id: f"{run.id} ({classroom.learner_tag(run.owner)}, {run.status})" for run in active}
    stoppable = st.multiselect("Runs to cancel", list(labels), format_func=labels.get, key="teach.stop")
    if st.button(f"Cancel {len(stoppable)} run(s)", disabled=not stoppable, key="teach.cancel"):
        with friendly_errors():
            for run_id in stoppable:
                jobs.cancel(run_id, instructor=True)
            st.success(f"Asked {len(stoppable)} run(s) to stop; each stops at its next batch.")


def limit_ui() -> None:
    current = jobs.runs_per_learner()
    wanted = st.number_input(
        "Active runs per learner", 1, jobs.MAX_RUNS_PER_LEARNER, current, key="teach.limit", help="Queued or training."
    )
    if wanted != current and st.button("Apply to the whole room", key="teach.apply"):
        with friendly_errors():
            jobs.set_runs_per_learner(int(wanted))
            st.success(f"Every learner may now have {int(wanted)} active run(s).")


def exercise_ui() -> classroom.Exercise | None:
    left, right = st.columns(2)
    dataset = bound(left.selectbox, "Dataset", "teach.dataset", "digits", list(datasets.DATASETS))
    budget = bound(
        right.number_input,
        "Parameter budget (0: any)",
        "teach.budget",
        20_000,
        min_value=0,
        max_value=classroom.MAX_BUDGET,
    )
    with friendly_errors():
        return classroom.Exercise(dataset=dataset, max_parameters=int(budget) or None)
    return None


st.header("The room")
room()
limit_ui()
st.header("Class table")
exercise = exercise_ui()
if exercise:
    runs = jobs.list_runs("train", limit=5000)
    best = jobs.best_metric("val_accuracy", [run.id for run in runs])
    ranking = classroom.class_table(runs, best, exercise)
    if why := classroom.left_out(runs, best, exercise):
        st.caption(why)
    if ranking:
        st.dataframe(pd.DataFrame(ranking), hide_index=True, width="stretch")
        st.download_button(
            "Download the class table (CSV)",
            pd.DataFrame(ranking).to_csv(index=False),
            "class-table.csv",
            "text/csv",
            on_click="ignore",
        )
    else:
        budget = f"{exercise.max_parameters:,} parameters" if exercise.max_parameters else "any size"
        st.caption(f"No finished {exercise.dataset} run within {budget} yet.")
