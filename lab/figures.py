"""Plotly figures shared by the pages. Pure Plotly/NumPy: no streamlit, no TensorFlow."""

from __future__ import annotations

import plotly.graph_objects as go

from lab.padding import AxisPlan

INPUT_COLOR, PAD_COLOR, WINDOW_COLOR = "#9ecae1", "#fdae6b", "#3182bd"


def axis_diagram(plan: AxisPlan, axis_name: str = "height", max_cells: int = 64, max_outputs: int = 16) -> go.Figure:
    """One axis: input cells, pad cells before/after, and the cells each output's window reads.

    Long axes are cut at ``max_cells`` padded cells and ``max_outputs`` windows (the caption says
    so): the picture is for intuition; the numbers beside it are exact.
    """
    cells = min(plan.padded_size, max_cells)
    figure = go.Figure()
    for cell in range(cells):
        is_pad = cell < plan.pad_before or cell >= plan.pad_before + plan.input_size
        label = "pad" if is_pad else str(cell - plan.pad_before)
        figure.add_shape(type="rect", x0=cell + 0.05, x1=cell + 0.95, y0=0.1, y1=0.9, line_width=0,
                         fillcolor=PAD_COLOR if is_pad else INPUT_COLOR)  # fmt: skip
        if cells <= 40:
            figure.add_annotation(x=cell + 0.5, y=0.5, text=label, showarrow=False, font_size=10)
    shown = 0
    for index in range(min(plan.output_size, max_outputs)):
        taps = [tap for tap in plan.window(index) if tap < cells]
        if not taps:
            break
        y = -(index + 1) * 0.8
        figure.add_trace(
            go.Scatter(
                x=[tap + 0.5 for tap in taps], y=[y] * len(taps), mode="lines+markers",
                marker={"symbol": "square", "size": 9, "color": WINDOW_COLOR}, line={"color": WINDOW_COLOR, "width": 1},
                name=f"output {index}", hovertemplate=f"output {index} reads padded cell %{{x:.0f}}<extra></extra>",
            )
        )  # fmt: skip
        shown += 1
    cut = []
    if plan.padded_size > cells:
        cut.append(f"first {cells} of {plan.padded_size} cells")
    if plan.output_size > shown:
        cut.append(f"first {shown} of {plan.output_size} outputs")
    title = f"{axis_name.capitalize()}: {plan.pad_before} pad + {plan.input_size} input + {plan.pad_after} pad"
    figure.update_layout(
        title=title + (f" ({'; '.join(cut)})" if cut else ""),
        showlegend=False,
        height=140 + 28 * shown,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"range": [0, cells], "showgrid": False, "zeroline": False, "title": "padded coordinate"},
        yaxis={"visible": False, "range": [-(shown + 0.5) * 0.8, 1]},
        plot_bgcolor="white",
    )
    return figure
