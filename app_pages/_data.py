"""Your own class folders, for the Train and Fine-tune pages: a zip upload, or webcam captures.

No math: the zip is checked and extracted once per content by :func:`lab.uploads.stage_zip` (the
same safe reader for both sources), and captures become a zip by
:func:`lab.uploads.class_folders_zip` first, so they pass the very same checks.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from app_pages._identity import owner
from app_pages._widgets import bound, friendly_errors
from lab import images, jobs, uploads
from lab.errors import InputError


def _stage(data: bytes, name: str) -> uploads.StagedZip:
    return uploads.stage_zip(data, jobs.home() / "uploads", name)


def _show(staged: uploads.StagedZip) -> None:
    st.caption(
        f"{len(staged.classes)} classes, {staged.count} images; skipped {staged.unreadable} unreadable, "
        f"ignored {staged.ignored} other files."
    )
    for col, (name, paths) in zip(st.columns(min(len(staged.classes), 6)), staged.classes.items(), strict=False):
        alt = [f"Picture {index + 1} of class {name}" for index in range(min(3, len(paths)))]
        col.image(
            [images.load_image(p) for p in paths[:3]], width=80, caption=[f"{name} ({len(paths)})", "", ""], alt=alt
        )


def capture_ui(prefix: str) -> uploads.StagedZip | None:
    """Teachable Machine's flow: name a class, take pictures into it, repeat; then train on them.

    The pictures stay in this browser session until staged; "Download" gives them as a zip of
    class folders to keep or to upload elsewhere.
    """
    shots: dict[str, list[bytes]] = st.session_state.setdefault(f"{prefix}.captures", {})
    left, right = st.columns([1, 2])
    name = left.text_input("Capture into class", key=f"{prefix}.class", placeholder="e.g. thumbs up")
    photo = right.camera_input("Take a picture", key=f"{prefix}.camera")
    if photo is not None and left.button("Add this picture", icon=":material/add_a_photo:", key=f"{prefix}.add"):
        with friendly_errors():
            images.load_image(photo.getvalue())  # a frame we cannot read is refused now, not at training
            folder = uploads.class_name(name)
        digest = hashlib.sha256(photo.getvalue()).hexdigest()
        if digest not in st.session_state.setdefault(f"{prefix}.seen", set()):  # a double click adds it once
            st.session_state[f"{prefix}.seen"].add(digest)
            shots.setdefault(folder, []).append(photo.getvalue())
    if not shots:
        st.info(
            f"Name a class, take a picture, press Add; at least {uploads.MIN_CLASSES} classes with "
            f"{uploads.MIN_PER_CLASS} pictures each.",
            icon=":material/photo_camera:",
        )
        return None
    left.caption(" · ".join(f"**{folder}**: {len(pictures)}" for folder, pictures in sorted(shots.items())))
    archive = uploads.class_folders_zip(shots)
    left.download_button(
        "Download as zip", archive, "my_classes.zip", "application/zip", key=f"{prefix}.download", on_click="ignore"
    )
    if left.button("Start over", key=f"{prefix}.clear"):
        shots.clear()
        st.session_state[f"{prefix}.seen"] = set()
        st.rerun()
    ready = len(shots) >= uploads.MIN_CLASSES and min(map(len, shots.values())) >= uploads.MIN_PER_CLASS
    return _stage(archive, uploads.WEBCAM_CAPTURES) if ready else None


def class_folders_ui(prefix: str) -> uploads.StagedZip | None:
    """A zip of class folders or webcam captures, checked and extracted: the staged folders, or None."""
    source = bound(
        st.segmented_control,
        "Your pictures",
        f"{prefix}.folders",
        "zip",
        ["zip", "camera"],
        format_func={"zip": "Upload a zip", "camera": "Webcam"}.get,
    )
    staged = None
    if source == "camera":
        with friendly_errors():
            staged = capture_ui(prefix)
    else:
        label = f"Zip of class folders (cats/…, dogs/…; up to {images.DEFAULT_MAX_BYTES // 2**20} MB)"
        upload = st.file_uploader(label, type=["zip"], key=f"{prefix}.zip")
        learners = jobs.home() / "learners"
        if upload is None:
            staged = uploads.recall_upload(learners, owner(), prefix)
            if staged is None:
                st.info(
                    f"Upload a zip with one folder per class (at least {uploads.MIN_CLASSES} classes, "
                    f"{uploads.MIN_PER_CLASS} images each).",
                    icon=":material/folder_zip:",
                )
                return None
            st.info(  # a server process that died took the browser's upload, not the staged folders
                f"Using **{uploads.folder_label(staged.path)}**, which you uploaded before: it is kept on the "
                "server, so a reload or a restarted server loses nothing. Upload another zip to replace it.",
                icon=":material/inventory_2:",
            )
            if st.button("Forget it", key=f"{prefix}.forget"):
                uploads.forget_upload(learners, owner(), prefix)
                st.rerun()
        else:
            with friendly_errors():
                staged = _stage(upload.getvalue(), upload.name)
                uploads.remember_upload(learners, owner(), prefix, staged)
    if staged is not None:
        _show(staged)
    return staged


def crop_preview(config) -> None:
    """What fine-tuning sees of the first uploaded picture: random crops and flips (a run's stored
    settings after a refresh, when the upload is gone from the browser but its folders are staged)."""
    from lab import finetune

    first = uploads.first_picture(config.data_dir) if config.data_dir else None
    try:
        picture = images.load_image(first) if first is not None else None
    except InputError:  # staging checked every picture; a folder changed since shows no preview
        picture = None
    if picture is not None:
        with st.expander("What training sees: random crops and flips of one image"):
            views = list(finetune.augmentation_preview(picture, config.image_size))
            st.image(
                views,
                width=110,
                alt=[f"Training view {i + 1}: a random crop, maybe flipped" for i in range(len(views))],
            )
