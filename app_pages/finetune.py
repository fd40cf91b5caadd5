"""Fine-tune flowers: two-phase transfer learning on tf_flowers or your own class folders."""

import hashlib
from dataclasses import asdict

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._widgets import UPLOAD_TYPES, bound, friendly_errors, results_panel, run_panel, session_key, show_code
from lab import classify, datasets, finetune, images, jobs, network

st.title("Fine-tune flowers")
st.markdown(
    "Transfer learning as HOML does it: put a new classifier head on a network pretrained on ImageNet, "
    "train the head with the base **frozen**, then **unfreeze** the base and train everything at a lower "
    "learning rate. Use TensorFlow's flowers (3,670 photos, 5 classes) or a zip of your own class folders."
)

source = bound(st.segmented_control, "Data", "ft.source", "tf_flowers", list(finetune.SOURCES),
               format_func={"tf_flowers": "tf_flowers", "zip": "My class folders (zip)"}.get)  # fmt: skip
data_dir = None
if source == "tf_flowers":
    status = st.cache_data(ttl=60, show_spinner=False)(finetune.tf_flowers_available)()
    if status == "unavailable":
        st.warning("tf_flowers is not prepared here and there is no network: `python -m lab assets` on a machine with "
                   "internet, then copy ~/tensorflow_datasets here. Or upload a zip.", icon=":material/cloud_off:")  # fmt: skip
else:
    upload = st.file_uploader("Zip of class folders (cats/…, dogs/…)", type=["zip"], key="ft.zip")
    if upload is None:
        st.info(
            "Upload a zip with one folder per class (at least 2 classes, 5 images each).", icon=":material/folder_zip:"
        )
        st.stop()
    data = upload.getvalue()
    target = jobs.home() / "uploads" / hashlib.sha256(data).hexdigest()[:16]
    with friendly_errors():
        if not target.exists():
            archive = target.with_suffix(".zip")
            archive.parent.mkdir(parents=True, exist_ok=True)
            archive.write_bytes(data)
            (target.parent / f"{target.name}.part").mkdir(exist_ok=True)
            found = datasets.extract_image_zip(archive, target.parent / f"{target.name}.part")
            (target.parent / f"{target.name}.part").rename(target)
            archive.unlink()
            st.session_state["ft.skipped"] = (found.unreadable, found.ignored)
    data_dir = str(target)
    folders = {p.name: sorted(p.iterdir()) for p in sorted(target.iterdir()) if p.is_dir()}
    unreadable, ignored = st.session_state.get("ft.skipped", (0, 0))
    st.caption(
        f"{len(folders)} classes, {sum(map(len, folders.values()))} images; skipped {unreadable} unreadable, ignored {ignored} other files."
    )
    cols = st.columns(min(len(folders), 6))
    for col, (name, paths) in zip(cols, folders.items(), strict=False):
        col.image([images.load_image(p) for p in paths[:3]], width=80, caption=[f"{name} ({len(paths)})", "", ""])

cols = st.columns(4)
base = bound(cols[0].selectbox, "Base model", "ft.base", "Xception", list(finetune.BASES))
size = bound(cols[1].number_input, "Image size", "ft.size", 224, step=16)
batch = bound(cols[2].number_input, "Batch size", "ft.batch", 32, step=1)
augment = bound(cols[3].toggle, "Random crop + flip", "ft.augment", True)
weights = "imagenet"
if not classify.weights_cached(base) and not network.reachable():
    st.warning(f"{base}'s ImageNet weights are not here and there is no network (`python -m lab assets` fetches them).")
    if bound(st.checkbox, "Train from random initialisation instead (learns far less)", "ft.random", False):
        weights = None
cols = st.columns(2)
with cols[0]:
    st.markdown("**Phase 1: the head, base frozen** (SGD, momentum 0.9)")
    head_epochs = bound(st.number_input, "epochs", "ft.e1", 5, step=1)
    head_rate = bound(st.number_input, "learning rate", "ft.lr1", 0.2, format="%.4f")
    head_decay = bound(st.number_input, "decay", "ft.d1", 0.01, format="%.4f")
with cols[1]:
    st.markdown("**Phase 2: unfrozen** (SGD, Nesterov)")
    tune_epochs = bound(st.number_input, "epochs ", "ft.e2", 10, step=1)
    tune_rate = bound(st.number_input, "learning rate ", "ft.lr2", 0.01, format="%.4f")
    tune_decay = bound(st.number_input, "decay ", "ft.d2", 0.001, format="%.4f")
names = st.cache_data(show_spinner="Listing the base's layers…")(finetune.base_layer_names)(base)
unfreeze = st.select_slider("Unfreeze from layer (phase 2)", options=range(len(names)), value=0, key=f"ft.unfreeze.{base}",
                            format_func=lambda i: f"{i}: {names[i]}")  # fmt: skip
patience = bound(st.number_input, "Early-stopping patience (epochs)", "ft.patience", 3, step=1)
with friendly_errors():
    config = finetune.FinetuneConfig(source, data_dir, base, weights, int(size), int(batch), int(head_epochs), float(head_rate),
                                     float(head_decay), int(tune_epochs), float(tune_rate), float(tune_decay), int(unfreeze),
                                     int(patience), augment).validated()  # fmt: skip
if data_dir:
    with st.expander("What training sees: random crops and flips of one image"):
        first = images.load_image(next(iter(folders.values()))[0])
        st.image(list(finetune.augmentation_preview(first, config.image_size)), width=110)

if st.button("Launch fine-tuning", type="primary", icon=":material/rocket_launch:"):
    with friendly_errors():
        st.query_params["run"] = jobs.submit(
            "finetune", config.to_dict(), dedupe=f"{session_key()}:{sorted(asdict(config).items())}"
        )

run_id = st.query_params.get("run")
run = run_panel(run_id) if run_id else None
if run is not None and run.status == "succeeded" and run.kind == "finetune":
    folder = jobs.run_dir(run.id)
    saved = np.load(folder / "predictions.npz")
    result = run.result or {}
    st.header("Result")
    counts = result.get("parameters", {})
    st.dataframe(pd.DataFrame(counts, index=["trainable", "frozen"]).T, width="stretch")
    results_panel(
        f"ft.{run.id}", saved["probabilities"], saved["labels"], result.get("classes", []), saved["thumbnails"] / 255.0
    )
    st.download_button(
        "model.keras (with its class names in labels.json)", (folder / "model.keras").read_bytes(), f"{run.id}.keras"
    )
    photos = st.file_uploader(
        "Classify new photos with this model", type=UPLOAD_TYPES, accept_multiple_files=True, key="ft.photos"
    )
    if photos:
        with friendly_errors():
            loaded = st.cache_resource(classify.load_run, max_entries=2)(run.id)
            pictures = [images.load_image(photo.getvalue()) for photo in photos[:8]]
            answer = classify.classify(loaded, pictures, top_k=min(3, len(loaded.class_names)), mode="crop_and_resize")
        for photo, picture, top in zip(photos, pictures, answer.predictions, strict=False):
            st.image(
                picture, width=160, caption=f"{photo.name}: " + ", ".join(f"{p.label} {p.probability:.0%}" for p in top)
            )
show_code(finetune.code_snippet(config))
