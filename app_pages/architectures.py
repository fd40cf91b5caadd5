"""Classic architectures side by side: what each brought, what it costs, and each one trained, scaled down."""

import streamlit as st

from app_pages._architectures import comparison_results, count_table, figures_of
from app_pages._runs import launch_and_watch
from app_pages._widgets import bound, chart, friendly_errors, show_code
from lab import codegen, datasets, figures, planner, zoo
from lab.zoo import NAMES, SIZES

st.title("Classic architectures")
st.markdown(
    "The chapter's networks, from LeNet-5 to MobileNet, built by the lab's own code (`models/`) at their "
    "papers' sizes and counted from their layers: **parameters** (checked against `keras.applications` and the "
    "papers), **multiply-adds** per image (against TensorFlow's profiler), **depth** (layers with weights on "
    "the longest path), the **receptive field** of the last feature map, and the activations a training step "
    "keeps. Then train each one's scaled-down version on the same pictures and watch them race."
)
LABELS, DEFAULT_NAMES = zoo.LABELS, [name for name in NAMES if name != "resnet34"]

names = bound(
    st.pills, "Architectures", "arch.names", DEFAULT_NAMES, list(NAMES), selection_mode="multi", format_func=LABELS.get
)
cols = st.columns([3, 1])
size = bound(cols[0].segmented_control, "Size", "arch.size", "paper", list(SIZES), format_func=SIZES.get) or "paper"
batch = bound(cols[1].number_input, "Batch size", "arch.batch", 32, min_value=1, max_value=4096, step=1)
if not names:
    st.info("Pick at least one architecture.", icon=":material/info:")
    st.stop()
with friendly_errors():
    rows = count_table(tuple(names), size, int(batch))
st.dataframe(rows, hide_index=True, width="stretch")
left, right = st.columns(2)
counted = figures_of(tuple(names), size)
labels = [LABELS[name] for name in names]
for column, key, title in ((left, "parameters", "parameters"), (right, "multiply-adds", "multiply-adds per image")):
    values = [c[key] for c in counted]
    bars = figures.log_bars_figure(labels, values, [planner.readable_count(v) for v in values], title)
    chart(column, bars, key=f"arch.{key}")
st.caption(
    "Log scales. GoogLeNet's 1x1 bottlenecks and MobileNet's separable convolutions buy their depth with few "
    "parameters; at 224x224 VGG-16's three Dense layers hold 89% of its 138 M. The planner (padding page) counts a "
    "separable convolution against a regular one, layer by layer."
)

st.header("Train them on the same pictures", anchor="train")
cols = st.columns(3)
dataset = bound(cols[0].selectbox, "Dataset", "arch.dataset", "digits", list(zoo.DATASETS))
image_size = bound(cols[1].segmented_control, "Picture side", "arch.image_size", 32, [32, 64]) or 32
epochs = bound(cols[2].number_input, "Epochs each", "arch.epochs", 3, min_value=1, max_value=50, step=1)
if not datasets.is_cached(dataset):
    st.info(f"{dataset} is not downloaded yet: the run fetches it first (offline it fails within seconds).")
with friendly_errors():
    config = zoo.CompareConfig(tuple(names), dataset, int(image_size), int(epochs))
st.caption(zoo.training_note(config))
run = launch_and_watch("architectures", config, f"Train all {len(names)}", ":material/sprint:")
if run is not None and run.kind == "architectures" and run.status == "succeeded":
    with friendly_errors():
        comparison_results(run)
if st.session_state.get("arch.code") not in names:
    st.session_state["arch.code"] = names[0]  # the one shown left the selection
code_for = bound(st.selectbox, "Code for", "arch.code", names[0], names, format_func=LABELS.get)
show_code(codegen.architecture_script(zoo.script_config(code_for, size, int(batch), config)))
