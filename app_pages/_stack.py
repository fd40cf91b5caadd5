"""The layer-stack editor shared by the padding page's planner and the Train page's custom model."""

from __future__ import annotations

import streamlit as st

from app_pages._widgets import friendly_errors


def stack_editor(key: str, specs) -> list[dict]:
    """The layer-stack table (one row per layer), editable, rows addable; returns the rows as dicts
    for :func:`lab.planner.parse_stack`. A new ``key`` starts it again from ``specs``."""
    import pandas as pd

    from lab import padding, planner

    rows = st.data_editor(
        pd.DataFrame([planner.spec_to_row(spec) for spec in specs]),
        num_rows="dynamic",
        key=key,
        column_config={
            "layer": st.column_config.SelectboxColumn(options=planner.LAYER_KINDS, required=True),
            "size": st.column_config.NumberColumn(help="filters, units, or zero-padding width", step=1),
            "padding": st.column_config.SelectboxColumn(options=padding.PADDINGS),
            "kernel": st.column_config.TextColumn(help="3 or 3x5; the window for pooling"),
            "stride": st.column_config.TextColumn(help="blank: 1 for conv, the window for pooling"),
            "bias": st.column_config.CheckboxColumn(help="convolutions and Dense only"),
            "activation": st.column_config.SelectboxColumn(options=planner.ACTIVATIONS),
            "rate": st.column_config.NumberColumn(help="Dropout only (blank: 0.5)", min_value=0.0, max_value=0.99),
        },
        width="stretch",
    )
    return rows.to_dict("records")


@st.cache_data(max_entries=16, show_spinner="Reading the model's layers…")
def _registry_stack(name: str, input_shape: tuple) -> list | None:
    from lab import training

    return training.registry_stack(name, input_shape)


def custom_stack_ui(prefix: str, input_shape: tuple) -> str:
    """A custom model's layers, as :func:`lab.planner.encode_stack` text mirrored in the URL
    (``{prefix}.stack``): starting from the link's stack, a sequential registry model or a planner
    preset, then edited in :func:`stack_editor`."""
    from lab import planner, training

    linked = st.session_state.setdefault(f"{prefix}.linked", st.query_params.get(f"{prefix}.stack", ""))
    models = [name for name in training.MODELS if _registry_stack(name, input_shape)]
    names = {"link": "the shared link's stack", **{name: f"{name} (registry)" for name in models}}
    starts = ["link"] * bool(linked) + models + list(planner.PRESETS)
    start = st.selectbox("Start from", starts, key=f"{prefix}.start", format_func=lambda name: names.get(name, name))
    with friendly_errors():
        specs = planner.decode_stack(linked) if start == "link" else _registry_stack(start, input_shape)
        rows = stack_editor(f"{prefix}.stack.{start}", specs or planner.PRESETS[start][1])
        text = planner.encode_stack(planner.parse_stack(rows))
    st.query_params[f"{prefix}.stack"] = text
    return text
