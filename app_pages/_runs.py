"""The run panel shared by the training pages: launch a run, watch it live, show its test results.

No math here: runs live in :mod:`lab.jobs` (their own processes), their rows and files follow
:mod:`lab.runlog`, and this module only reads them. The panel polls the registry once a second
while the run is active, so clicks, refreshes and server restarts do not touch the run.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages._identity import instructor, owner
from app_pages._pictures import decode_upload, pictures_uploader
from app_pages._widgets import chart, friendly_errors
from lab import classify, classroom, database, figures, jobs, ownership, runlog, training, uploads, worker
from lab.config import Config
from lab.errors import InputError

STATUS_ICONS = {
    "queued": ":material/hourglass_top:",
    "starting": ":material/rocket_launch:",
    "running": ":material/directions_run:",
    "succeeded": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/stop_circle:",
    "interrupted": ":material/warning:",
}
QUIET_POLLS = 5  # polls without news before the panel polls half as often
REGISTRY_AWAY = (
    "Reconnecting to the run registry… (its database is restarting or briefly unreachable). The run goes "
    "on in its worker; this panel picks it up again as soon as the registry answers."
)
MAX_POLL_SECONDS = 8.0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def launch_and_watch(kind: str, config: Config | None, label: str, icon: str, why_not: str = "") -> jobs.Run | None:
    """A launch button for ``config`` (one run per session and settings, however many clicks),
    then the live panel of the run named in the URL (``?run=``). Returns that run, or None.

    With ``config`` None (the data is not there yet) the button is disabled with ``why_not`` as its
    help, and a run's link still shows that run: it is viewable from its link alone.
    """
    if (
        st.button(
            label,
            type="primary",
            icon=icon,
            disabled=config is None,
            help=why_not if config is None and why_not else None,
        )
        and config
    ):
        with friendly_errors():
            dedupe = f"{owner()}:{kind}:{sorted(config.to_dict().items())}"
            st.query_params["run"] = worker.submit(kind, config, dedupe=dedupe, owner=owner())
    run_id = st.query_params.get("run")
    return run_panel(run_id) if run_id else None


def _status_line(run: jobs.Run, state: runlog.Progress, position: int | None) -> str:
    line = f"{STATUS_ICONS.get(run.status, '')} **{run.status}** · run `{run.id}`"
    if position is not None:
        line += f" · position {position} in the queue"
        if (wait := jobs.estimated_start(run.id)) is not None:
            line += ", starts any moment" if wait < 2 else f", starts in about {_duration(wait)}"
    if run.active and state.phase and state.phase != "training":
        line += f" · {state.phase}…"
    if state.epochs_total:
        line += f" · epoch {min(state.epoch + 1, state.epochs_total)}/{state.epochs_total}"
    if state.images_per_second:
        line += f" · {state.images_per_second:,.0f} images/s"
    if run.active and state.eta_seconds is not None:
        line += f" · about {_duration(state.eta_seconds)} left"
    elif run.active and state.phase == "training":
        line += " · estimating the time left…"  # until batches after the first (which traces) are timed
    return line


def _rows(run: jobs.Run) -> list:
    """The run's metric rows, fetching only those new since the last poll of this session."""
    key = f"_rows.{run.id}"
    cached = st.session_state.get(key)
    if cached is None or cached["resumes"] != run.resumes:
        cached = {"after": 0, "rows": [], "resumes": run.resumes}
    new, cached["after"] = jobs.metrics_since(run.id, cached["after"])
    if any(name == runlog.RESTARTED for _, _, name, _ in new):  # the worker dropped rows: read them all again
        new, cached["after"] = jobs.metrics_since(run.id, 0)
        cached["rows"] = []
    if new:
        cached["rows"] = cached["rows"] + new
        cached["stale"] = True
    st.session_state[key] = cached
    return cached


def _curves(cached: dict, curves: dict):
    """The live figure: new points patched into this session's figure, built anew only when its
    curves change (patching costs ~5 ms a poll, building ~40 ms)."""
    figure = cached.get("figure")
    if figure is None or (cached.pop("stale", False) and not figures.patch_training_curves(figure, curves)):
        figure = cached["figure"] = figures.training_curves(curves)
    return figure


def _poll_interval(run_id: str, signature: tuple) -> float:
    """Seconds between polls: 1 while something changes, doubling up to 8 after 5 quiet polls.

    A queued run or a slow epoch then costs the server a poll every few seconds, not every second.
    A change of interval takes a full rerun (a fragment's ``run_every`` is set when it is defined),
    so it happens only when the run goes quiet or wakes up, never on every poll.
    """
    key = f"_poll.{run_id}"
    poll = st.session_state.setdefault(key, {"interval": 1.0, "quiet": 0, "signature": signature})
    if signature != poll["signature"]:
        poll.update(signature=signature, quiet=0)
        if poll["interval"] > 1.0:
            poll["interval"] = 1.0
            st.rerun()
    else:
        poll["quiet"] += 1
        if poll["quiet"] >= QUIET_POLLS and poll["interval"] < MAX_POLL_SECONDS:
            poll.update(interval=min(2 * poll["interval"], MAX_POLL_SECONDS), quiet=0)
            st.rerun()
    return poll["interval"]


def run_panel(run_id: str) -> jobs.Run | None:
    """Status, progress, curves and Cancel/Resume for a run, polled while active.

    A poll reads the run's row and only its new metric rows, and patches the new points into the
    curves; it polls every second while something changes and backs off to 8 s when nothing does.
    Only the browser that started the run (or an instructor) sees Cancel and Resume; a shared link
    is view-only. Returns the run, or None when the id is unknown.
    """
    try:
        run = jobs.get(run_id)
    except InputError as error:
        st.error(str(error), icon=":material/error:")
        return None
    except database.errors():
        run = None  # the registry is restarting: the panel keeps polling until it is back

    interval = st.session_state.get(f"_poll.{run_id}", {}).get("interval", 1.0)

    @st.fragment(run_every=interval if run is None or run.active else None)
    def live() -> None:
        try:
            current = jobs.get(run_id)
        except database.errors():
            st.warning(REGISTRY_AWAY, icon=":material/sync_problem:")
            return
        if run is None:  # it came back: draw the whole page with the run again
            st.rerun()
        cached = _rows(current)
        state = runlog.progress(cached["rows"])
        position = jobs.queue_position(run_id) if current.status == "queued" else None  # one query a poll
        cols = st.columns([3, 1])
        cols[0].markdown(_status_line(current, state, position))
        if not ownership.may_control(current, owner(), instructor()):
            cols[1].caption("View only: another learner's run.")
        elif current.active and cols[1].button("Cancel", key=f"cancel.{run_id}", icon=":material/stop:"):
            with friendly_errors():
                jobs.cancel(run_id, owner(), instructor())
        elif current.status in ("interrupted", "cancelled", "failed") and cols[1].button(
            "Resume", key=f"resume.{run_id}"
        ):
            with friendly_errors():
                worker.resume(run_id, owner(), instructor())
            st.rerun()
        if current.active:
            st.progress(state.fraction)
        if current.error:
            st.error(current.error, icon=":material/error:")
        if any(name in state.curves for name in ("batch_loss", "loss")):
            chart(st, _curves(cached, state.curves), key=f"curves.{run_id}")
        if run.active and not current.active:
            st.rerun()  # finished while we watched: redraw the whole page with the results
        if current.active:  # last: a click in this run (Cancel) is handled before any rerun drops it
            _poll_interval(run_id, (current.status, cached["after"], position))

    live()
    if run is None:
        return None
    run_settings(run)
    try:
        return jobs.get(run_id)  # as the live panel last saw it
    except database.errors():
        return None


def run_settings(run: jobs.Run) -> None:
    """The run's own settings (a shared link's form shows the viewer's, not the run's)."""
    import pandas as pd

    if owns(run) and not run.active:
        kept = st.toggle(
            "Keep this run",
            value=jobs.is_kept(run.id),
            key=f"keep.{run.id}",
            help="Past the server's disk budget the oldest finished runs are removed; a kept one never is.",
        )
        if kept != jobs.is_kept(run.id):
            jobs.keep(run.id, kept)
    settings = uploads.shareable_settings(run.config)
    label = "This run's settings" + ("" if owns(run) else " (the form above shows yours)")
    with st.expander(label, icon=":material/tune:", expanded=not owns(run)):
        table = pd.DataFrame({"setting": list(settings), "value": [str(value) for value in settings.values()]})
        st.dataframe(table, hide_index=True, width="stretch")


def owns(run: jobs.Run) -> bool:
    """Whether this browser started ``run`` (or is the instructor): only they see its pictures and files."""
    return ownership.may_control(run, owner(), instructor())


def shows_pictures(run: jobs.Run) -> bool:
    """A learner's own pictures (and webcam shots) are theirs and the instructor's: a shared link to a
    run on uploaded data shows its curves and numbers only."""
    return owns(run) or not run.config.get("data_dir")


def results_panel(key: str, predictions: runlog.Predictions, class_names, test_images) -> None:
    """Test accuracy, confusion matrix with a gallery of one cell's mistakes, and the worst examples
    (``test_images`` None: another learner's pictures, not shown)."""
    probabilities, labels = predictions.probabilities, predictions.labels
    predicted = probabilities.argmax(axis=1)
    counts = training.confusion_matrix(labels, predicted, len(class_names))
    st.metric("Test accuracy", f"{(predicted == labels).mean():.4f}", help=f"{len(labels):,} test images")
    if len(labels) < 50:
        st.warning(
            f"Only {len(labels)} test images: each one moves the accuracy by {100 / max(len(labels), 1):.0f} "
            "points, so read it as a rough sign, not a score.",
            icon=":material/info:",
        )
    left, right = st.columns([3, 2])
    chart(left, figures.confusion_figure(counts, class_names), key=f"{key}.confusion")
    if test_images is None:
        right.caption("Another learner's pictures: their mistakes and test images are shown to them only.")
        return
    with right:
        off = [(t, p) for t in range(len(class_names)) for p in range(len(class_names)) if t != p and counts[t, p]]
        if off:
            cell = st.selectbox(
                "Mistakes (true → predicted)",
                off,
                key=f"{key}.cell",
                format_func=lambda c: f"{class_names[c[0]]} → {class_names[c[1]]} ({counts[c]})",
            )
            chosen = np.flatnonzero((labels == cell[0]) & (predicted == cell[1]))[:12]
            alt = [f"Test image {i}: {class_names[cell[0]]} taken for {class_names[cell[1]]}" for i in chosen]
            st.image(
                [np.clip(test_images[i], 0, 1) for i in chosen], width=72, caption=[f"#{i}" for i in chosen], alt=alt
            )
        else:
            st.success("No mistakes on the test set.")
    worst, losses = training.highest_loss(probabilities, labels)
    st.caption("Highest-loss test images (true / predicted, loss)")
    captions = [
        f"{class_names[labels[i]]}/{class_names[predicted[i]]} {loss:.1f}"
        for i, loss in zip(worst, losses, strict=True)
    ]
    alt = [f"Test image {i}: true {class_names[labels[i]]}, predicted {class_names[predicted[i]]}" for i in worst]
    st.image([np.clip(test_images[i], 0, 1) for i in worst], width=72, caption=captions, alt=alt)


def downloads(run_id: str, names: dict[str, str]) -> None:
    """Download buttons for a finished run's files ({file in the run folder: download name})."""
    folder = jobs.run_dir(run_id)
    cols = st.columns(len(names))
    for col, (name, download) in zip(cols, names.items(), strict=True):
        if (folder / name).exists():
            col.download_button(
                name, (folder / name).read_bytes(), download, key=f"download.{run_id}.{name}", on_click="ignore"
            )


def export_panel(run: jobs.Run, tflite_script=None) -> None:
    """The run's files (.keras, .tflite, history) and how its TFLite file agrees with Keras, with
    the page's script that runs the .tflite file (``tflite_script``, a :class:`lab.codegen.Script`:
    the panel knows no run kind) and the phone's recipe."""
    from lab import export

    outcome = run.result or {}
    st.subheader("Take it with you", anchor="take-it-with-you")
    difference = outcome.get("tflite_max_difference")
    if difference is not None:
        st.caption(
            f"TFLite file ({outcome['tflite_bytes'] / 1024:,.0f} KB, TensorFlow's converter): its probabilities differ "
            f"from the Keras model's by at most **{difference:.1e}** on {outcome['tflite_images']} test images."
        )
    elif outcome.get("tflite_error"):
        st.warning(f"No TFLite file: the converter refused the model ({outcome['tflite_error']}).")
    files = {
        runlog.MODEL_FILE: f"{run.id}.keras",
        export.TFLITE_FILE: f"{run.id}.tflite",
        runlog.LABELS_FILE: f"{run.id}-labels.json",
        runlog.HISTORY_FILE: f"{run.id}-history.csv",
    }
    downloads(run.id, files)
    if difference is None or tflite_script is None:
        return
    with st.expander("Use the .tflite file in Python or on a phone", icon=":material/smartphone:"):
        st.code(tflite_script.python(), language="python", wrap_lines=True)
        st.markdown(
            "On Android: add `com.google.ai.edge.litert:litert` to Gradle, put the file in `assets/`, then "
            '`Interpreter(loadModelFile("model.tflite")).run(input, output)` with a float32 '
            f"`[1, {', '.join(map(str, runlog.read_labels(jobs.run_dir(run.id)).input_shape))}]` input in [0, 1]."
        )


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def load_dataset(config: training.TrainConfig):
    """A training run's data (its split), loaded once per server process for every page that shows it."""
    return training.load_data(config)


@st.cache_resource(max_entries=4, show_spinner="Loading the trained model…")
def trained_model(run_id: str) -> classify.LoadedModel:
    """A finished run's model, loaded once per server process for every page that shows it."""
    return classify.load_run(run_id)


def classify_photos(run_id: str, key: str) -> None:
    """Upload new photos and see what a finished run's model makes of them (top 3 each)."""
    photos = pictures_uploader("Classify new photos with this model", key)
    if st.toggle("Use the webcam", key=f"{key}.webcam") and (shot := st.camera_input("Picture", key=f"{key}.camera")):
        photos.append(shot)
    pictures = {photo.name: decode_upload(photo) for photo in photos}
    pictures = {name: picture for name, picture in pictures.items() if picture is not None}
    if not pictures:
        return
    with st.spinner(f"Classifying {len(pictures)} photo(s)…"), friendly_errors():
        loaded = trained_model(run_id)
        top_k = min(3, len(loaded.class_names))
        answer = classify.classify(loaded, list(pictures.values()), top_k=top_k, mode="crop_and_resize")
    for (name, picture), top in zip(pictures.items(), answer.predictions, strict=True):
        text = ", ".join(f"{p.label} {p.probability:.0%}" for p in top)
        st.image(picture, width=160, caption=f"{name}: {text}", alt=f"{name}, classified as {top[0].label}")


def _score(run: jobs.Run, name: str) -> str:
    value = (run.result or {}).get(name)
    return f"{value:.4f}" if isinstance(value, (int, float)) else "–"


def runs_table(
    kind: str,
    shown: tuple[str, ...],
    score: tuple[str, str] = ("test_accuracy", "test accuracy"),
    curve: str = "val_accuracy",
) -> None:
    """This learner's runs of ``kind`` with the ``shown`` settings (others' on request, view only) and
    ``score`` ((result key, label): the kind's number), and a comparison of up to four: their ``curve``
    over each other and the settings in which they differ. Uploaded data is named by its zip, never by
    its server path."""
    import pandas as pd

    me = owner()
    st.header("Runs", anchor="runs")
    st.caption(f"Your runs, newest first. In a workshop's class table you are **{classroom.learner_tag(me)}**.")
    runs = jobs.list_runs(kind, limit=50, owner=me)
    if st.toggle("Show other learners' runs too (view only)", key=f"{kind}.others"):
        runs += [run for run in jobs.list_runs(kind, limit=50) if run.owner != me]
    if not runs:
        st.caption("None yet: press the button above to start one.")
        return
    rows = []
    for run in runs:
        settings = uploads.shareable_settings(run.config)
        data = {"dataset": settings.get("data", settings.get("dataset"))} if "dataset" in shown else {}
        rows.append(
            {
                "run": run.id,
                "learner": "you" if run.owner == me else classroom.learner_tag(run.owner),
                "status": run.status,
                **{key: settings.get(key) for key in shown},
                **data,
                score[1]: _score(run, score[0]),
            }
        )
    st.dataframe(pd.DataFrame(rows).fillna("–"), hide_index=True, width="stretch")
    chosen = st.multiselect("Compare runs", [r.id for r in runs], max_selections=4, key=f"{kind}.compare")
    if not chosen:
        return
    curves = {rid: runlog.progress(jobs.metrics(rid)).curves for rid in chosen}
    overlay = {f"{curve} {rid[-6:]}": curves[rid].get(curve, ([], [])) for rid in chosen}
    chart(st, figures.overlay_figure(overlay, curve.replace("_", " ")), key=f"{kind}.overlay")
    settings = pd.DataFrame({rid: uploads.shareable_settings(jobs.get(rid).config) for rid in chosen}).astype(str)
    st.dataframe(settings[settings.nunique(axis=1) > 1] if len(chosen) > 1 else settings, width="stretch")
    if st.button("Open the first one"):
        st.query_params["run"] = chosen[0]
        st.rerun()
