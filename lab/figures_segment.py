"""The Segment page's figures: canvases beside their true and predicted masks, the wrong pixels, each
class's IoU. Pure Plotly/NumPy.

A mask is drawn in Cividis (readable with any colour vision) and never by colour alone: each region
carries its class's name as text, and the wrong pixels have a panel of their own, dark on white.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.colors import get_colorscale, sample_colorscale
from scipy import ndimage

from lab.figures import _on, _subplot_grid
from lab.figures_detect import _canvas_axes, _gray

MIN_LABELLED_PIXELS = 12  # a predicted speck smaller than this gets no label (it would hide the picture)
WRONG = (103, 0, 31)  # a wrong pixel: dark red, 13:1 on white (the panel says what it shows)


def _png(pixels: np.ndarray) -> str:
    """An RGB image as a PNG data URI: class colours stay exact (JPEG would blur them into each other)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def class_colours(count: int) -> np.ndarray:
    """RGB per class: white for the background, Cividis from dark blue to yellow for the others."""
    samples = sample_colorscale(get_colorscale("Cividis"), list(np.linspace(0.0, 1.0, max(count - 1, 1))))
    rgb = [[float(v) for v in colour[colour.index("(") + 1 : -1].split(",")] for colour in samples]
    return np.array([[255.0, 255.0, 255.0], *rgb][:count]).astype(np.uint8)


def _text_colour(rgb) -> str:
    """Black on a light fill, white on a dark one (WCAG's relative luminance, the 0.179 crossover)."""
    channels = [value / 255 for value in rgb]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return "#000000" if 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2] > 0.179 else "#ffffff"


def _labels(mask: np.ndarray, names: list[str], palette: np.ndarray, axis: int, series: str) -> dict | None:
    """A text trace: each region's class name at its middle (the text alternative of the colours)."""
    xs, ys, text, colours = [], [], [], []
    for kind in np.unique(mask):
        if kind == 0:
            continue
        regions, count = ndimage.label(mask == kind)
        for region in range(1, count + 1):
            pixels = regions == region
            if pixels.sum() >= MIN_LABELLED_PIXELS:  # at its most inner pixel: a 0's middle is not a 0
                inner = ndimage.distance_transform_edt(pixels)
                row, col = np.unravel_index(inner.argmax(), inner.shape)
                xs.append(float(col) + 0.5)
                ys.append(float(row) + 0.5)
                text.append(names[kind])
                colours.append(_text_colour(palette[kind]))
    if not text:
        return None
    trace = {"type": "scatter", "x": xs, "y": ys, "mode": "text", "text": text, "name": series}
    trace.update(textfont={"size": 13, "color": colours}, hoverinfo="text", hovertext=text)
    trace["textposition"] = "middle center"
    return _on(trace, axis)


def masks_figure(
    pictures, panels: list[tuple[str, np.ndarray]], names: list[str], titles: list[str], per_row: int = 1
) -> go.Figure:
    """The canvases, each followed by its panels' masks ((title, masks (N, size, size))), ``per_row``
    canvases to a row; a panel titled "wrong pixels" draws where its mask is nonzero, dark on white.

    Args:
        pictures: (N, size, size, 1) canvases.
        panels: The masks beside each canvas, e.g. [("true", truth), ("predicted", predicted)].
        names: Each class's name (0: the background).
        titles: One per canvas, e.g. "canvas 12, mIoU 0.41".
        per_row: Canvases side by side (with their panels) in one row.
    """
    count, size, width = len(pictures), pictures.shape[1], 1 + len(panels)
    rows = -(-count // per_row)
    layout = _subplot_grid(rows, per_row * width, 0.02, 0.04 if rows > 1 else 0.0, [""] * (rows * per_row * width))
    palette, traces = class_colours(len(names)), []
    for number, picture in enumerate(pictures):
        axis = number * width
        layout["annotations"][axis]["text"] = titles[number]
        traces.append(_on({"type": "image", "source": _gray(picture), "hoverinfo": "skip"}, axis))
        _canvas_axes(layout, axis, size)
        for column, (title, masks) in enumerate(panels, start=1):
            mask, panel = masks[number], axis + column
            _canvas_axes(layout, panel, size)
            layout["annotations"][panel]["text"] = title
            if title == "wrong pixels":
                pixels = np.where(mask[..., np.newaxis] > 0, np.array(WRONG, np.uint8), np.uint8(255))
                layout["annotations"][panel]["text"] = f"wrong pixels: {int((mask > 0).sum())}"
            else:
                pixels = palette[mask]
                if (labels := _labels(mask, names, palette, panel, f"{titles[number]}: {title}")) is not None:
                    traces.append(labels)
            traces.insert(0, _on({"type": "image", "source": _png(pixels), "hoverinfo": "skip"}, panel))
    for index, annotation in enumerate(layout["annotations"]):  # each title on top of its own row
        annotation.update(font={"size": 12}, y=layout[f"yaxis{index + 1 if index else ''}"]["domain"][1])
    height = 40 + rows * min(190, 1100 // (per_row * width))
    layout.update(height=height, margin={"l": 5, "r": 5, "t": 30, "b": 5}, showlegend=False)
    return go.Figure(traces, layout)


def class_iou_figure(names: list[str], ious: list[float | None]) -> go.Figure:
    """Each class's IoU as a bar with its value written on it ("none": no pixel of it, true or predicted)."""
    values = [0.0 if iou is None else float(iou) for iou in ious]
    text = ["none" if iou is None else f"{iou:.2f}" for iou in ious]
    bars = {"type": "bar", "x": [str(name) for name in names], "y": values, "text": text, "name": "IoU"}
    bars.update(textposition="outside", cliponaxis=False, marker={"color": "#35608d"})
    layout = {
        "title": {"text": "IoU per class (test canvases)"},
        "yaxis": {"range": [0, 1.15], "title": {"text": "IoU"}},
        "xaxis": {"type": "category", "tickmode": "array", "tickvals": [str(n) for n in names]},
        "height": 300,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    }
    return go.Figure([bars], layout)
