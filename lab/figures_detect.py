"""The Detect page's figures: canvases with boxes, the grid's cells, NMS steps, the FCN's score map.

Pure Plotly/NumPy. Boxes are told apart by line style and text, never by colour alone: ground truth
solid, predictions dashed, NMS's dropped boxes dotted; each carries its label.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from lab.figures import _on, _subplot_row, _suffix, image_source

TRUTH_COLOR, PREDICTED_COLOR, DROPPED_COLOR, KEPT_COLOR = "#1b7837", "#2166ac", "#b2182b", "#762a83"


def _gray(canvas: np.ndarray) -> str:
    """A canvas drawn as ink on paper (dark digits on white): the boxes' coloured labels stay readable."""
    pixels = np.clip(255 - np.asarray(canvas)[..., 0] * 255, 0, 255).astype(np.uint8)
    return image_source(np.repeat(pixels[..., np.newaxis], 3, axis=2))


def _rect(box, axis: int, color: str, dash: str, text: str = "", width: float = 2) -> dict:
    suffix = _suffix(axis)
    shape = {"type": "rect", "xref": f"x{suffix}", "yref": f"y{suffix}", "line": {"color": color, "width": width}}
    shape["line"]["dash"] = dash
    shape.update(x0=float(box[0]), y0=float(box[1]), x1=float(box[2]), y1=float(box[3]))
    if text:
        shape["label"] = {"text": text, "textposition": "top left", "font": {"size": 12, "color": color}}
    return shape


def _canvas_axes(layout: dict, axis: int, size: int) -> None:
    suffix = _suffix(axis)
    layout[f"xaxis{suffix}"].update(range=[0, size], showgrid=False, showticklabels=False, constrain="domain")
    layout[f"yaxis{suffix}"].update(range=[size, 0], showgrid=False, showticklabels=False, scaleanchor=f"x{suffix}")


def canvases_figure(pictures, truths, predictions=None, titles=None, height: int = 260) -> go.Figure:
    """A row of canvases: true boxes solid (labelled with the digit), predicted boxes dashed.

    Args:
        pictures: (N, size, size, 1) canvases.
        truths: Per canvas, ((k, 4) corner boxes, (k,) labels).
        predictions: Per canvas, ((m, 4) boxes, (m,) labels, (m,) scores or None), or None.
        titles: One per canvas.
    """
    count, size = len(pictures), pictures.shape[1]
    layout = _subplot_row(list(titles or [""] * count), spacing=0.02)
    traces, shapes = [], []
    for axis, picture in enumerate(pictures):
        traces.append(_on({"type": "image", "source": _gray(picture), "hoverinfo": "skip"}, axis))
        _canvas_axes(layout, axis, size)
        boxes, labels = truths[axis]
        shapes += [_rect(b, axis, TRUTH_COLOR, "solid", f"{int(k)}") for b, k in zip(boxes, labels, strict=True)]
        if predictions is not None:
            boxes, labels, scores = predictions[axis]
            for n, (box, label) in enumerate(zip(boxes, labels, strict=True)):
                text = f"→{int(label)}" + (f" {scores[n]:.2f}" if scores is not None else "")
                shapes.append(_rect(box, axis, PREDICTED_COLOR, "dash", text))
    layout.update(shapes=shapes, height=height, margin={"l": 5, "r": 5, "t": 30, "b": 5}, showlegend=False)
    return go.Figure(traces, layout)


def grid_cells_figure(canvas, boxes, scores, classes, grid_size: int, threshold: float) -> go.Figure:
    """The grid over a canvas: each cell's best class and score written in it, and the boxes of the
    cells scoring at least ``threshold`` (dashed, from their cell's centre dot)."""
    size = canvas.shape[0]
    cell = size / grid_size
    layout = _subplot_row([f"{grid_size}x{grid_size} cells: best class and score per cell"], spacing=0.0)
    _canvas_axes(layout, 0, size)
    traces = [_on({"type": "image", "source": _gray(canvas), "hoverinfo": "skip"}, 0)]
    lines = [
        {"type": "line", "x0": k * cell, "x1": k * cell, "y0": 0, "y1": size, "line": {"color": "#8c510a", "width": 1}}
        for k in range(1, grid_size)
    ]
    lines += [{**line, "x0": 0, "x1": size, "y0": line["x0"], "y1": line["x1"]} for line in lines]
    shapes = [{**line, "line": {**line["line"], "dash": "dot"}} for line in lines]
    rows, cols = np.divmod(np.arange(grid_size * grid_size), grid_size)
    text = [f"{k}<br>{s:.2f}" if s >= threshold else "" for k, s in zip(classes, scores, strict=True)]
    traces.append(
        _on(
            {
                "type": "scatter",
                "x": ((cols + 0.5) * cell).tolist(),
                "y": ((rows + 0.5) * cell).tolist(),
                "mode": "text",
                "text": text,
                "textfont": {"color": "#0e0e0e", "size": 10},
                "hovertext": [
                    f"cell ({r}, {c}): class {k}, score {s:.3f}"
                    for r, c, k, s in zip(rows, cols, classes, scores, strict=True)
                ],
                "hoverinfo": "text",
            },
            0,
        )
    )
    for box, score in zip(boxes, scores, strict=True):
        if score >= threshold:
            shapes.append(_rect(box, 0, PREDICTED_COLOR, "dash"))
    layout.update(shapes=shapes, height=380, margin={"l": 5, "r": 5, "t": 30, "b": 5}, showlegend=False)
    return go.Figure(traces, layout)


def nms_figure(canvas, boxes, scores, classes, steps, shown: int) -> go.Figure:
    """Non-max suppression after ``shown`` steps: kept boxes solid (the latest thick, "kept"), the
    boxes the latest step dropped dotted ("dropped"), boxes still in the running thin dashed."""
    size = canvas.shape[0]
    layout = _subplot_row([f"after step {shown} of {len(steps)}"], spacing=0.0)
    _canvas_axes(layout, 0, size)
    traces = [_on({"type": "image", "source": _gray(canvas), "hoverinfo": "skip"}, 0)]
    done = {kept for kept, _ in steps[:shown]} | {i for _, dropped in steps[:shown] for i in dropped}
    shapes = []
    for index in (i for kept, dropped in steps for i in (kept, *dropped)):
        if index not in done:
            shapes.append(_rect(boxes[index], 0, PREDICTED_COLOR, "dash", f"{classes[index]} {scores[index]:.2f}", 1))
    for number, (kept, dropped) in enumerate(steps[:shown], start=1):
        latest = number == shown
        if latest:
            for index in dropped:
                shapes.append(_rect(boxes[index], 0, DROPPED_COLOR, "dot", f"dropped {scores[index]:.2f}", 2))
        label = f"kept {classes[kept]} {scores[kept]:.2f}"
        shapes.append(_rect(boxes[kept], 0, KEPT_COLOR, "solid", label, 4 if latest else 2))
    layout.update(shapes=shapes, height=380, margin={"l": 5, "r": 5, "t": 30, "b": 5}, showlegend=False)
    return go.Figure(traces, layout)


def score_map_figure(canvas, scores, step: int = 4, crop: int = 24) -> go.Figure:
    """The FCN's output beside the canvas: per window, the best digit's probability (Cividis) with the
    digit written in the cell; background's probability is what a window without a whole digit shows."""
    digits = scores[..., :-1]
    best, kind = digits.max(axis=-1), digits.argmax(axis=-1)
    layout = _subplot_row(["canvas", "FCN output: best digit per window"], spacing=0.08)
    size = canvas.shape[0]
    _canvas_axes(layout, 0, size)
    layout["xaxis2"].update(title={"text": f"window column (x = {step} * column)"}, constrain="domain")
    layout["yaxis2"].update(autorange="reversed", scaleanchor="x2", title={"text": "window row"})
    heat = {"type": "heatmap", "z": best.tolist(), "colorscale": "Cividis", "zmin": 0, "zmax": 1}
    heat.update(text=kind.astype(str).tolist(), texttemplate="%{text}", colorbar={"title": {"text": "p"}})
    heat["hovertemplate"] = (
        f"window at (%{{x}}*{step}, %{{y}}*{step}), {crop}x{crop}: digit %{{text}}, p = %{{z:.3f}}<extra></extra>"
    )
    traces = [_on({"type": "image", "source": _gray(canvas), "hoverinfo": "skip"}, 0), _on(heat, 1)]
    layout.update(height=360, margin={"l": 5, "r": 5, "t": 30, "b": 40}, showlegend=False)
    return go.Figure(traces, layout)
