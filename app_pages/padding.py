"""Padding calculator and layer-stack shape planner, exact to TensorFlow's SAME/VALID rules."""

import pandas as pd
import streamlit as st

from app_pages._stack import stack_editor
from app_pages._widgets import bound, chart, friendly_errors, show_code
from lab import codegen, datasets, figures, padding, planner
from lab.errors import InputError

st.title("Padding calculator")
st.markdown(
    "TensorFlow's **SAME** padding gives `ceil(n / s)` outputs and puts the odd extra pad cell at the "
    "**bottom/right**; **VALID** gives `floor((n - f) / s) + 1` and drops the cells no window reaches "
    "(`f = (k - 1) * d + 1` is the dilated kernel). Set each axis, and see every number and window."
)


def axis_ui(name: str, prefix: str, size: int) -> dict:
    st.markdown(f"**{name}**")
    return {
        "input_size": bound(st.number_input, "input", f"pad.{prefix}", size, step=1),
        "kernel_size": bound(st.number_input, "kernel", f"pad.k{prefix}", 3, step=1),
        "stride": bound(st.number_input, "stride", f"pad.s{prefix}", 2, step=1),
        "dilation": bound(st.number_input, "dilation", f"pad.d{prefix}", 1, step=1),
    }


height_col, width_col, options_col = st.columns(3)
with height_col:
    height = axis_ui("Height", "h", 7)
with width_col:
    width = axis_ui("Width", "w", 8)
with options_col:
    mode = bound(st.radio, "Padding", "pad.padding", "same", list(padding.PADDINGS), horizontal=True)
    op = bound(
        st.radio,
        "Layer",
        "pad.op",
        "conv",
        ["conv", "max", "avg"],
        horizontal=True,
        format_func={"conv": "Conv2D", "max": "MaxPool", "avg": "AvgPool"}.get,
    )
    channels = bound(st.number_input, "channels", "pad.c", 3, step=1)
    predict = bound(st.toggle, "Predict, then reveal", "pad.predict", False)

config = padding.PaddingConfig(
    **{name: (height[name], width[name]) for name in height}, padding=mode, op=op, channels=channels
)
with friendly_errors():
    plans = config.plans()

settings = (tuple(height.values()), tuple(width.values()), mode, op)
if predict and st.session_state.get("pad.revealed") != settings:
    st.info("What output size will TensorFlow produce? Type your answer, then reveal.", icon=":material/quiz:")
    guess = st.columns(3)
    guess_h = guess[0].number_input("predicted output height", value=1, step=1, key="pad.guess_h")
    guess_w = guess[1].number_input("predicted output width", value=1, step=1, key="pad.guess_w")
    if guess[2].button("Reveal", type="primary"):
        st.session_state["pad.revealed"] = settings
        st.session_state["pad.guess"] = (guess_h, guess_w)
        st.rerun()
    st.stop()
if predict and "pad.guess" in st.session_state:
    guessed, actual = st.session_state["pad.guess"], (plans[0].output_size, plans[1].output_size)
    said = f"You said {guessed[0]} x {guessed[1]}; TensorFlow says {actual[0]} x {actual[1]}."
    (st.success if guessed == actual else st.warning)(
        f"Right! {said}" if guessed == actual else f"Not quite: {said} Here is how it counts."
    )

cols = st.columns(5)
cols[0].metric("Output", f"{plans[0].output_size} x {plans[1].output_size}")
cols[1].metric("Pad top / bottom", f"{plans[0].pad_before} / {plans[0].pad_after}")
cols[2].metric("Pad left / right", f"{plans[1].pad_before} / {plans[1].pad_after}")
cols[3].metric("Padded size", f"{plans[0].padded_size} x {plans[1].padded_size}")
cols[4].metric("Dropped rows / cols", f"{plans[0].dropped} / {plans[1].dropped}")

axis_name = st.segmented_control("Diagram axis", ["height", "width"], default="height", key="pad.axis") or "height"
plan = plans[axis_name == "width"]
index = st.slider("Output index", 0, max(plan.output_size - 1, 1), 0, key="pad.index", disabled=plan.output_size == 1)
index = min(index, plan.output_size - 1)
chart(st, figures.axis_diagram(plan, axis_name, chosen=index), key="pad.diagram")
first, last = plan.input_span(index)
unit = "row" if axis_name == "height" else "column"
st.caption(
    f"Output {unit} {index} reads input {unit}s {first}..{last} (negative or past {plan.input_size - 1}: padding)."
)

if st.button("Verify with TensorFlow", icon=":material/verified:"):
    with st.spinner("Running the real TensorFlow op…"), friendly_errors():
        from lab import padding_tf  # imports TensorFlow: only when asked

        check = padding_tf.check_plans(plans, op)
    (st.success if check.agrees else st.error)(check.message)
show_code(codegen.padding_script(config))

st.header("Layer-stack planner")
st.markdown(
    "Shapes, parameters, activation memory and receptive field, layer by layer. Inference needs only "
    "two consecutive layers' activations at a time; training keeps them **all** for backpropagation."
)
preset = bound(st.selectbox, "Preset", "plan.preset", "HOML Fashion-MNIST CNN", list(planner.PRESETS))
PLANNER_COLUMNS = {  # short headings, narrow columns: the table fits a phone's width without scrolling
    "output shape": st.column_config.TextColumn("output", width="small"),
    "parameters": st.column_config.NumberColumn("params", width="small"),
    "multiply-adds": st.column_config.NumberColumn("MACs", width="small", help="multiply-adds per image"),
    "activations (KB)": st.column_config.NumberColumn("act. KB", width="small", help="activations per image"),
    "receptive field": st.column_config.TextColumn("RF", width="small", help="receptive field"),
    "jump": st.column_config.TextColumn("jump", width="small", help="input pixels between neighbouring outputs"),
}
preset_shape, preset_specs = planner.PRESETS[preset]
shape_cols = st.columns(4)
input_shape = [
    shape_cols[i].number_input(name, value=preset_shape[i], step=1, key=f"plan.{name}.{preset}")
    for i, name in enumerate(("height", "width", "channels"))
]
batch = shape_cols[3].number_input("batch size", value=32, min_value=1, max_value=4096, key="plan.batch")
rows = stack_editor(f"plan.table.{preset}", preset_specs)
try:
    plan = planner.plan_stack(input_shape, planner.parse_stack(rows))
except InputError as error:
    st.error(str(error), icon=":material/error:")
    st.stop()
table = plan.table()
if st.button("Verify planner with Keras", icon=":material/verified:"):
    with st.spinner("Building the model in Keras…"), friendly_errors():
        from lab import padding_tf

        table, agree = padding_tf.compare_with_keras(plan)
    (st.success if agree else st.error)("Keras agrees on every layer." if agree else "Keras disagrees: see the table.")
st.dataframe(pd.DataFrame(table), width="stretch", column_config=PLANNER_COLUMNS)
for col, (label, value) in zip(st.columns(5), plan.memory_figures(batch).items(), strict=True):
    col.metric(label, value)
if saved := planner.savings(plan):
    st.markdown("**What the cheap convolutions save** against a regular Conv2D of the same shape (Keras' counts):")
    st.dataframe(pd.DataFrame([saving.row() for saving in saved]), hide_index=True, width="stretch")
specs = [layer.spec for layer in plan.layers]
dataset = next((name for name, shape in datasets.INPUT_SHAPES.items() if shape == plan.input_shape), "digits")
link = {"train.model": "custom", "train.stack": planner.encode_stack(specs), "train.dataset": dataset}
if st.button("Train this network", icon=":material/play_arrow:"):
    st.switch_page("app_pages/train.py", query_params=link)
st.caption(f"On {dataset}, with a classifier head for its classes: the Train page checks the shapes again.")
show_code(codegen.planner_script(planner.keras_snippet(plan.input_shape, specs)))
