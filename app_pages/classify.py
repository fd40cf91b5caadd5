"""Pretrained classifier: upload images, compare ImageNet models, see preprocessing and Grad-CAM."""

import tempfile

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._pictures import CAMERA_FILE, camera_picture, decode_upload, pictures_uploader
from app_pages._runs import trained_model
from app_pages._widgets import bound, chart, friendly_errors, show_code
from lab import classify, codegen, figures, images, settings

st.title("Pretrained classifier")
st.markdown(
    "Networks pretrained on ImageNet's 1,000 classes, from `keras.applications` (HOML classifies its two "
    "photos with ResNet50). See how each image is fitted to the network's input, compare models side by "
    "side, and ask Grad-CAM where the evidence for the top class is."
)

cols = st.columns([2, 3])
samples = bound(cols[0].multiselect, "Sample photos", "cls.samples", list(images.SAMPLES), list(images.SAMPLES))
uploads = pictures_uploader("Your images", "cls.uploads", cols[1])
pictures: dict[str, np.ndarray] = {name: images.sample_image(name) for name in samples}
for upload in uploads:
    if (picture := decode_upload(upload)) is not None:  # one bad file does not cost the others
        pictures[upload.name] = picture
if bound(cols[0].toggle, "Webcam", "cls.webcam", False) and (shot := camera_picture("cls")) is not None:
    pictures[CAMERA_FILE] = shot
lab_runs = dict(classify.lab_runs())
MAX_MODELS = 3
choices = [*classify.IMAGENET_MODELS, *lab_runs]
picked = bound(
    st.multiselect,
    f"Models (several = comparison, up to {MAX_MODELS})",
    "cls.models",
    ["MobileNetV2"],
    choices,
    max_selections=MAX_MODELS,
    format_func=lambda name: lab_runs.get(name, name),
)
cols = st.columns(4)
mode = bound(cols[0].selectbox, "Fit to input", "cls.mode", "resize", list(classify.FIT_MODES))
top_k = bound(cols[1].slider, "Top k", "cls.k", 5, min_value=1, max_value=10)
random_weights = bound(
    cols[2].toggle,
    "Random weights (offline demo)",
    "cls.random",
    False,
    help=f"No download: the predictions are meaningless, but preprocessing and Grad-CAM still show. "
    f"Seeded ({classify.RANDOM_WEIGHTS_SEED}): the same weights on every load and in Show the code.",
)
cam_on = bound(cols[3].toggle, "Grad-CAM", "cls.cam", False)
st.caption(classify.FIT_NOTES[mode])

uploaded_model = None
if settings.get("CNNLAB_ALLOW_MODEL_UPLOAD"):
    model_file = st.file_uploader("Your .keras model (checked before loading)", type=["keras"], key="cls.model_file")
    if model_file is not None:
        with tempfile.NamedTemporaryFile(suffix=".keras") as handle, friendly_errors():
            handle.write(model_file.getvalue())
            handle.flush()
            uploaded_model = classify.load_uploaded(handle.name)
            picked = [*picked, model_file.name]
if not pictures:  # only after every setting: a widget that vanishes for one run comes back blank
    st.info("Pick a sample photo or upload an image.", icon=":material/image:")
    st.stop()


# At most MAX_MODELS networks in memory per server (five at once took RSS 1.49 -> 2.22 GB).
@st.cache_resource(max_entries=MAX_MODELS, show_spinner="Loading the model (first time: downloading its weights)…")
def load(name: str, weights: str | None):
    return trained_model(name) if name in lab_runs else classify.load_imagenet(name, weights)


first = next(iter(pictures.values()))
with st.expander("What the network sees: the four ways to fit the first image"):
    size = classify.IMAGENET_MODELS["ResNet50"].input_size
    fitted = {m: classify.fit_image(first, size, m) for m in classify.FIT_MODES}
    shown = [np.clip(v, 0, 255).astype(np.uint8) for v in fitted.values()]
    st.image(
        shown, caption=list(fitted), width=180, alt=[f"The first photo fitted by {m} to {size}x{size}" for m in fitted]
    )

table: dict[str, dict[str, str]] = {}
for name in picked:
    try:
        loaded = (
            uploaded_model
            if uploaded_model and name == uploaded_model.name
            else load(name, None if random_weights else "imagenet")
        )
    except classify.WeightsUnavailable as error:  # the environment, not the learner's input: say what to do
        st.warning(f"{error} Or switch on *Random weights (offline demo)*.", icon=":material/cloud_off:")
        continue
    with st.spinner(f"Classifying {len(pictures)} picture(s) with {lab_runs.get(name, name)}…"), friendly_errors():
        result = classify.classify(loaded, list(pictures.values()), min(top_k, len(loaded.class_names)), mode)
    st.subheader(lab_runs.get(name, name))
    st.caption(
        f"input {loaded.input_size[0]}x{loaded.input_size[1]}x{loaded.channels} · "
        f"{result.seconds_per_image * 1000:.0f} ms per image in a batch of {len(pictures)}"
        + (f" · random weights, seed {classify.RANDOM_WEIGHTS_SEED}" if random_weights and name not in lab_runs else "")
        + (
            " · class names are numbers: ImageNet's index is not downloaded"
            if loaded.class_names[0] == "class 0"
            else ""
        )
    )
    columns = st.columns(min(len(pictures), 4))
    for index, (picture_name, predictions) in enumerate(zip(pictures, result.predictions, strict=True)):
        column = columns[index % len(columns)]
        chart(column, figures.topk_figure(predictions, picture_name), key=f"cls.{name}.{picture_name}")
        table.setdefault(picture_name, {})[name] = f"{predictions[0].label} ({predictions[0].probability:.0%})"
        if cam_on:
            try:
                with st.spinner(f"Grad-CAM: the gradient of {predictions[0].label} through {name}…"):
                    cam = classify.grad_cam(loaded, pictures[picture_name], predictions[0].class_id, mode)
            except classify.InputError as error:  # this model cannot: say why, and go on with the others
                column.caption(f"Grad-CAM: {error}")
                continue
            fitted_image = classify.fit_image(pictures[picture_name], loaded.input_size, mode)
            chart(column, figures.overlay_figure_cam(fitted_image, cam), key=f"cam.{name}.{picture_name}")
if len(picked) > 1:
    st.subheader("Top-1 side by side")
    st.dataframe(pd.DataFrame(table).T, width="stretch")
imagenet = [name for name in picked if name in classify.IMAGENET_MODELS] or ["ResNet50"]
weights = None if random_weights else "imagenet"
show_code(codegen.classifier_script(classify.ClassifierConfig(tuple(imagenet), tuple(pictures), mode, top_k, weights)))
